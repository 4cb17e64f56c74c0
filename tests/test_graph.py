"""The graph runtime on small hand-built graphs: each op against numpy, views, buffer reuse, the KV cache across
calls and sequences, and the planner's checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llamacore.graph import ROPE_NEOX, Glu, Graph, RopeConfig, Unary

rng = np.random.default_rng(0)
F32 = 0


def weight(g: Graph, a: np.ndarray, name: str):
    a = np.ascontiguousarray(a, dtype=np.float32)
    return g.weight(a, F32, a.shape, name)


def run(program, tokens, positions=None, seq_ids=None, out_rows=None, n_vocab=None):
    tokens = np.asarray(tokens, np.int32)
    positions = np.arange(len(tokens), dtype=np.int32) if positions is None else np.asarray(positions, np.int32)
    out_rows = np.arange(len(tokens), dtype=np.int32) if out_rows is None else np.asarray(out_rows, np.int32)
    seqs = None if seq_ids is None else np.asarray(seq_ids, np.int32)
    out = np.full((len(out_rows), program.n_vocab), np.nan, np.float32)
    program.run(tokens, positions, seqs, out_rows, out)
    return out


def rms(x, w, eps=1e-6):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def test_elementwise_and_matmul_ops():
    V, D = 10, 64
    emb, w1, b1 = rng.standard_normal((V, D)), rng.standard_normal((48, D)) * 0.1, rng.standard_normal(48)
    w2 = rng.standard_normal((D, 24)) * 0.1
    g = Graph()
    x = g.get_rows(weight(g, emb, "emb"), g.tokens)  # [tokens, 64]
    y = g.matmul(weight(g, w1, "w1"), x, weight(g, b1, "b1"))  # [tokens, 48]
    a, b = g.view(y, 0, 24), g.view(y, 24, 24)  # two halves of y, no copy
    h = g.glu(Glu.swiglu, a, b)  # [tokens, 24]
    h2 = g.scale(g.unary(Unary.tanh, h), 2.0, 0.5)
    out = g.matmul(weight(g, w2, "w2"), h2) + g.softcap(x, 1.5) * x  # [tokens, 64]
    g.set_output(g.select_rows(out))
    p = g.compile(max_tokens=8, n_ctx=8)
    toks = [3, 1, 4, 1, 5]
    got = run(p, toks, out_rows=[4, 0, 2])

    xr = emb[toks]
    yr = xr @ w1.T + b1
    hr = yr[:, :24] / (1 + np.exp(-yr[:, :24])) * yr[:, 24:]
    want = (np.tanh(hr) * 2.0 + 0.5) @ w2.T + 1.5 * np.tanh(xr / 1.5) * xr
    np.testing.assert_allclose(got, want[[4, 0, 2]], rtol=1e-4, atol=1e-4)
    assert p.stats()["n_nodes"] == g.n_nodes


def test_grouped_rms_norm_on_a_view():
    D = 64
    emb, nw = rng.standard_normal((5, D)), rng.random(16) + 0.5
    g = Graph()
    x = g.get_rows(weight(g, emb, "emb"), g.tokens)
    n = g.rms_norm(g.view(x, 16, 32), weight(g, nw, "nw"), 1e-6, group=16)  # [tokens, 32]
    g.set_output(g.select_rows(n))
    got = run(g.compile(max_tokens=4, n_ctx=4), [0, 4, 2])
    want = np.concatenate([rms(emb[[0, 4, 2], 16:32], nw), rms(emb[[0, 4, 2], 32:48], nw)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_buffer_reuse_keeps_values():
    """A long chain of nodes: the arena is reused (much smaller than one buffer per node) and results stay right."""
    D = 256
    emb = rng.standard_normal((4, D))
    g = Graph()
    x = g.get_rows(weight(g, emb, "emb"), g.tokens)
    acc = x
    for _ in range(40):
        acc = g.add(g.scale(acc, 0.5), x)  # acc = acc/2 + x
    g.set_output(g.select_rows(acc))
    p = g.compile(max_tokens=16, n_ctx=4)
    got = run(p, [1, 2, 3])
    want = emb[[1, 2, 3]] * (2 - 0.5**40)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    one = 16 * D * 4
    assert p.stats()["arena_bytes"] <= 4 * one, p.stats()


def rope_ref(x, pos, base, neox):
    n, h, d = x.shape
    half = d // 2
    inv = base ** (-2.0 * np.arange(half) / d)
    th = pos[:, None] * inv
    c, s = np.cos(th)[:, None], np.sin(th)[:, None]
    y = x.copy()
    if neox:
        a, b = x[..., :half], x[..., half:]
        y[..., :half], y[..., half:] = a * c - b * s, a * s + b * c
    else:
        a, b = x[..., 0::2], x[..., 1::2]
        y[..., 0::2], y[..., 1::2] = a * c - b * s, a * s + b * c
    return y


class TinyAttention:
    """One attention layer: x = emb[token]; q, k, v = views of x; out = attention(rope(q), rope(k), v)."""

    H, HKV, HD = 4, 2, 32

    def __init__(self, window=0, n_ctx=64, n_seq=1, type_k="f16", max_tokens=32):
        self.emb = rng.standard_normal((50, (self.H + 2 * self.HKV) * self.HD)).astype(np.float32)
        self.window = window
        g = Graph()
        x = g.get_rows(weight(g, self.emb, "emb"), g.tokens)
        nq, nk = self.H * self.HD, self.HKV * self.HD
        cfg = RopeConfig(n_dims=self.HD, mode=ROPE_NEOX, freq_base=100.0)
        q = g.rope(g.view(x, 0, nq), self.H, self.HD, cfg)
        k = g.rope(g.view(x, nq, nk), self.HKV, self.HD, cfg)
        v = g.view(x, nq + nk, nk)
        a = g.attention(q, k, v, n_head=self.H, n_head_kv=self.HKV, head_dim=self.HD, scale=0.2, sliding_window=window)
        g.set_output(g.select_rows(a))
        self.p = g.compile(max_tokens=max_tokens, n_ctx=n_ctx, n_seq=n_seq, type_k=type_k, type_v=type_k)

    def reference(self, tokens, positions):
        """Attention of every token over all the given (token, position) pairs of one sequence."""
        x = self.emb[tokens].astype(np.float64)
        pos = np.asarray(positions)
        n, H, HKV, HD = len(tokens), self.H, self.HKV, self.HD
        q = rope_ref(x[:, : H * HD].reshape(n, H, HD), pos, 100.0, True)
        k = rope_ref(x[:, H * HD : (H + HKV) * HD].reshape(n, HKV, HD), pos, 100.0, True)
        v = x[:, (H + HKV) * HD :].reshape(n, HKV, HD)
        out = np.zeros((n, H, HD))
        for t in range(n):
            vis = (pos <= pos[t]) & ((pos[t] - pos < self.window) if self.window else True)
            for h in range(H):
                s = (k[vis, h // (H // HKV)] @ q[t, h]) * 0.2
                p = np.exp(s - s.max())
                out[t, h] = (p / p.sum()) @ v[vis, h // (H // HKV)]
        return out.reshape(n, -1)


def test_attention_across_calls_with_window():
    m = TinyAttention(window=5)
    toks = rng.integers(0, 50, 20)
    want = m.reference(toks, np.arange(20))
    got = np.concatenate([run(m.p, toks[:7]), run(m.p, toks[7:8], [7]), run(m.p, toks[8:], np.arange(8, 20))])
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


def test_two_sequences_in_one_call():
    m = TinyAttention(n_ctx=64, n_seq=2)
    a, b = rng.integers(0, 50, 9), rng.integers(0, 50, 6)
    run(m.p, a[:5], np.arange(5), [0] * 5)  # sequence 0 holds 5 tokens
    # one call: sequence 1's first 6 tokens and sequence 0's next 4, interleaved
    toks = [b[0], a[5], b[1], b[2], a[6], b[3], b[4], a[7], a[8], b[5]]
    pos = [0, 5, 1, 2, 6, 3, 4, 7, 8, 5]
    seq = [1, 0, 1, 1, 0, 1, 1, 0, 0, 1]
    got = run(m.p, toks, pos, seq)
    ref_a, ref_b = m.reference(a, np.arange(9)), m.reference(b, np.arange(6))
    want = [ref_b[p] if s else ref_a[p] for p, s in zip(pos, seq, strict=True)]
    np.testing.assert_allclose(got, np.array(want), rtol=2e-3, atol=2e-3)
    assert m.p.kv_n_past(0) == 9 and m.p.kv_n_past(1) == 6


def test_truncate_and_copy():
    m = TinyAttention(n_ctx=64, n_seq=2)
    a, b = rng.integers(0, 50, 12), rng.integers(0, 50, 4)
    run(m.p, a, np.arange(12), [0] * 12)
    m.p.kv_truncate(0, 8)
    assert m.p.kv_n_past(0) == 8 and m.p.kv_positions(0) == list(range(8))
    got = run(m.p, b, np.arange(8, 12), [0] * 4)  # a new continuation after the kept prefix
    seq = np.concatenate([a[:8], b])
    np.testing.assert_allclose(got, m.reference(seq, np.arange(12))[8:], rtol=2e-3, atol=2e-3)
    m.p.kv_copy(0, 1)
    got1 = run(m.p, b[:1], [12], [1])
    np.testing.assert_allclose(got1, m.reference(np.append(seq, b[0]), np.arange(13))[12:], rtol=2e-3, atol=2e-3)
    m.p.kv_clear(-1)
    assert m.p.kv_n_past(0) == 0 and m.p.kv_n_past(1) == 0


def test_q8_0_and_f32_kv():
    toks = rng.integers(0, 50, 10)
    for t, tol in (("f32", 1e-4), ("q8_0", 2e-2)):
        m = TinyAttention(type_k=t)
        np.testing.assert_allclose(run(m.p, toks), m.reference(toks, np.arange(10)), rtol=tol, atol=tol)


def test_run_errors_leave_the_cache_alone():
    m = TinyAttention(n_ctx=16, n_seq=2, max_tokens=8)
    run(m.p, [1, 2, 3], [0, 1, 2], [0, 0, 0])
    cases = [
        ([1, 2], [3, 3], [0, 0], "twice"),  # the same position twice
        ([1], [8], [0], "outside the context"),  # n_ctx 16 / 2 sequences = 8 cells each
        ([1], [0], [2], "sequence id"),
        ([50], [3], [0], "vocabulary"),
        ([-1], [3], [0], "vocabulary"),
        (list(range(9)), list(range(3, 12)), [0] * 9, "n_batch"),
    ]
    for toks, pos, seq, msg in cases:
        with pytest.raises(ValueError, match=msg):
            run(m.p, toks, pos, seq)
        assert m.p.kv_positions(0) == [0, 1, 2] and m.p.kv_n_past(1) == 0
    with pytest.raises(ValueError, match="sequence id"):
        m.p.kv_truncate(5, 0)
    with pytest.raises(ValueError, match="n_keep"):
        m.p.kv_truncate(0, -1)


def test_planner_rejects_bad_graphs():
    emb = rng.standard_normal((5, 32)).astype(np.float32)

    g = Graph()
    x = g.get_rows(weight(g, emb, "emb"), g.tokens)
    with pytest.raises(ValueError, match="no output"):
        g.compile()
    y = g.matmul(weight(g, np.ones((8, 16), np.float32), "w_bad"), x)  # 16 columns, x has 32
    g.set_output(g.select_rows(y))
    with pytest.raises(ValueError, match=r"matmul.*columns"):
        g.compile(max_tokens=4, n_ctx=4)

    g = Graph()
    x = g.get_rows(weight(g, emb, "emb"), g.tokens)
    a = g.attention(x, x, x, n_head=2, n_head_kv=2, head_dim=16, scale=1.0)
    g.set_output(g.select_rows(a))
    with pytest.raises(ValueError, match="q8_0|block"):
        g.compile(max_tokens=4, n_ctx=4, type_k="q8_0")  # head_dim 16 is not a multiple of 32
    with pytest.raises(ValueError, match="KV cache types"):
        g.compile(type_k="q4_0")

    g = Graph()
    x = g.get_rows(weight(g, emb, "emb"), g.tokens)
    with pytest.raises(ValueError, match="select_rows"):
        g.set_output(x)


def test_get_rows_of_quantized_tables():
    """Embedding lookups of every weight format real files use for token_embd (dequantized in place)."""
    from llamacore.quants import dequantize, quantize

    table = rng.standard_normal((7, 256)).astype(np.float32)
    for qt in (8, 2, 12, 14, 1):  # Q8_0, Q4_0, Q4_K, Q6_K, F16
        raw = table.astype(np.float16) if qt == 1 else quantize(table, qt)
        g = Graph()
        x = g.get_rows(g.weight(np.ascontiguousarray(raw), qt, (7, 256), "emb"), g.tokens)
        g.set_output(g.select_rows(x))
        got = run(g.compile(max_tokens=4, n_ctx=4), [6, 0, 3])
        want = dequantize(raw, qt, (256, 7))[[6, 0, 3]] if qt != 1 else raw[[6, 0, 3]].astype(np.float32)
        np.testing.assert_array_equal(got, want)


def test_program_attributes():
    m = TinyAttention(n_ctx=30, n_seq=3)
    assert m.p.n_seq == 3 and m.p.n_ctx_seq == 10
    s = m.p.stats()
    assert s["kv_bytes"] == 2 * 30 * TinyAttention.HKV * TinyAttention.HD * 2  # K and V, f16
    assert "attention" in m.p.describe()
    assert math.isfinite(s["arena_bytes"])


def layer_norm_ref(x, w, b, eps):
    x = x.astype(np.float64)
    y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    return y * (1.0 if w is None else w) + (0.0 if b is None else b)


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("affine", ["none", "weight", "weight+bias"])
def test_layer_norm_node(affine, fuse):
    V, D, eps = 6, 96, 1e-5
    emb = rng.standard_normal((V, D)) * 3 + 1.5
    w = rng.random(D) + 0.5 if affine != "none" else None
    b = rng.standard_normal(D) if affine == "weight+bias" else None
    g = Graph()
    x = g.get_rows(weight(g, emb, "emb"), g.tokens)
    wt = None if w is None else weight(g, w, "ln.weight")
    bt = None if b is None else weight(g, b, "ln.bias")
    h = g.layer_norm(x, wt, bt, eps)  # [tokens, 96]
    g.set_output(g.select_rows(g.add(h, x)))
    toks = [5, 0, 3, 3]
    got = run(g.compile(max_tokens=4, n_ctx=4, fuse=fuse), toks)
    want = layer_norm_ref(emb[toks], w, b, eps) + emb[toks]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_layer_norm_node_rejects_bad_weights():
    g = Graph()
    x = g.get_rows(weight(g, rng.standard_normal((4, 32)), "emb"), g.tokens)
    g.set_output(g.select_rows(g.layer_norm(x, weight(g, np.ones(16), "short"), None, 1e-5)))
    with pytest.raises(ValueError, match="layer_norm.*weight"):
        g.compile(max_tokens=2, n_ctx=2)


def every_op_graph() -> Graph:
    """A graph that uses every builder method once (so every op of the C++ table)."""
    D, H, HD = 64, 2, 32
    g = Graph()
    x = g.get_rows(weight(g, rng.standard_normal((8, D)), "emb"), g.tokens)
    h = g.rms_norm(x, weight(g, np.ones(D), "n"), 1e-6)
    h = g.layer_norm(h, weight(g, np.ones(D), "lw"), weight(g, np.zeros(D), "lb"), 1e-5)
    q = g.rope(g.matmul(weight(g, rng.standard_normal((D, D)), "wq"), h), H, HD, RopeConfig(n_dims=HD))
    k = g.rope(g.matmul(weight(g, rng.standard_normal((D, D)), "wk"), h), H, HD, RopeConfig(n_dims=HD, mode=ROPE_NEOX))
    a = g.attention(q, k, h, n_head=H, n_head_kv=H, head_dim=HD, scale=0.125, sliding_window=4, softcap=30.0)
    y = g.glu(Glu.geglu, g.unary(Unary.silu, a), g.softcap(g.scale(a, 0.5, 0.25), 2.0)) * x
    g.set_output(g.select_rows(y + x))
    return g


def test_every_op_is_reachable_and_round_trips():
    """The two sides of the boundary agree: each op of the C++ table is recorded by a Graph method with exactly the
    parameter fields the table lists, and C++ reads back what Python sent."""
    from llamacore import _core

    g = every_op_graph()
    nodes = g._node_dicts()
    assert {n["op"] for n in nodes} == set(_core.Op.__members__.values())
    fields = _core.param_fields()
    for n in nodes:
        info = _core.op_info(n["op"])
        assert info["name"] == n["op"].name
        assert sorted(n["params"]) == sorted(info["params"]), info["name"]
        back = _core.graph_parse_node(n)
        assert back["op"] == n["op"] and back["out"] == n["out"]
        assert back["in"] == n["in"] + [-1] * (len(info["inputs"]) - len(n["in"]))
        for name, value in n["params"].items():
            assert type(back["params"][name]).__name__ == fields[name]
            assert back["params"][name] == pytest.approx(value, rel=1e-7), (info["name"], name)
    run(g.compile(max_tokens=4, n_ctx=8), [1, 2, 3])  # and the C++ checker accepts the whole graph


def test_boundary_rejects_unknown_and_missing_fields():
    from llamacore import _core

    node = next(n for n in every_op_graph()._node_dicts() if n["op"] == _core.Op.rms_norm)
    with pytest.raises(ValueError, match="unknown field 'epsilon'"):
        _core.graph_parse_node({**node, "params": {"group": 0, "eps": 1e-6, "epsilon": 1e-6}})
    with pytest.raises(ValueError, match="missing field 'eps'"):
        _core.graph_parse_node({**node, "params": {"group": 0}})
    with pytest.raises(ValueError, match="unknown field 'i'"):
        _core.graph_parse_node({**node, "i": [0]})
    with pytest.raises(ValueError, match="field 'eps' has the wrong type"):
        _core.graph_parse_node({**node, "params": {"group": 0, "eps": "small"}})
    g = every_op_graph()
    g._tensors[0]["colls"] = 3
    with pytest.raises(ValueError, match="graph tensor 0: unknown field 'colls'"):
        g.compile(max_tokens=2, n_ctx=2)


def test_enums_come_from_the_core():
    from llamacore import _core, graph, ops

    assert graph.Glu is _core.Glu and graph.Unary is _core.Unary
    assert ops.UNARY == list(_core.Unary.__members__) and ops.GLU == list(_core.Glu.__members__)
    traits = _core.dtype_traits()
    assert graph.KV_TYPES == {"f32": 0, "f16": 1, "q8_0": 8}
    assert traits["Q4_K"]["vec_dot_type"] == "Q8_K" and traits["Q4_1"]["vec_dot_type"] == "Q8_1"
    assert set(ops.WEIGHT_TYPES) == {n for n, t in traits.items() if t["matmul"]}
