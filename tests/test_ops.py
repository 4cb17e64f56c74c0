"""CPU kernels (llamacore.ops) on every kernel level this CPU runs, against numpy float64 references.

Each test runs once per level in _core.cpu_levels_supported() (generic, avx2, avx512 on this machine; neon on arm64),
switching the level in-process. Error budgets are written next to each comparison.
"""

from __future__ import annotations

import math

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as GQ

from llamacore import _core, ops

LEVELS = _core.cpu_levels_supported()


@pytest.fixture(params=LEVELS)
def level(request):
    old = _core.cpu_level()
    _core.set_cpu_level(request.param)
    yield request.param
    _core.set_cpu_level(old)


# ------------------------------------------------------------------------------------------------------------------
# random weights in every format
# ------------------------------------------------------------------------------------------------------------------

# byte offsets of the fp16 scale fields in each block, and whether the field may be negative (a min)
F16_FIELDS = {
    "Q4_0": [(0, False)],
    "Q4_1": [(0, False), (2, True)],
    "Q5_0": [(0, False)],
    "Q5_1": [(0, False), (2, True)],
    "Q8_0": [(0, False)],
    "IQ4_NL": [(0, False)],
    "Q2_K": [(80, False), (82, False)],
    "Q3_K": [(108, False)],
    "Q4_K": [(0, False), (2, False)],
    "Q5_K": [(0, False), (2, False)],
    "Q6_K": [(208, False)],
    "IQ4_XS": [(0, False)],
}


def random_weights(wtype: str, nrows: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Raw rows [nrows, row_bytes] of wtype. Quant blocks are random bytes (every bit pattern of quants, scales and
    high bits is valid) with sane fp16 scale fields; float formats hold random normal values."""
    if wtype == "F32":
        return rng.standard_normal((nrows, k), dtype=np.float32).view(np.uint8)
    if wtype == "F16":
        return rng.standard_normal((nrows, k)).astype(np.float16).view(np.uint8)
    if wtype == "BF16":
        bits = rng.standard_normal((nrows, k)).astype(np.float32).view(np.uint32) >> 16
        return bits.astype(np.uint16).view(np.uint8)
    qk, size = ops.BLOCK[wtype]
    nb = k // qk
    raw = rng.integers(0, 256, size=(nrows, nb, size), dtype=np.uint8)
    for off, signed in F16_FIELDS[wtype]:
        v = rng.uniform(0.002, 0.02, size=(nrows, nb))
        if signed:
            v *= rng.choice([-1.0, 1.0], size=v.shape)
        raw[:, :, off : off + 2] = v.astype(np.float16).view(np.uint8).reshape(nrows, nb, 2)
    return raw.reshape(nrows, nb * size)


def dequantize(raw: np.ndarray, wtype: str, k: int) -> np.ndarray:
    """float64 [nrows, k] of raw weight rows (gguf's numpy reference for the block formats)."""
    if wtype == "F32":
        return raw.view(np.float32).astype(np.float64)
    if wtype == "F16":
        return raw.view(np.float16).astype(np.float64)
    if wtype == "BF16":
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return gguf.quants.dequantize(raw, getattr(GQ, wtype)).astype(np.float64).reshape(raw.shape[0], k)


def dequantize_act(q: np.ndarray, atype: str, k: int) -> np.ndarray:
    """float64 [n, k] of activation rows in the matmul's activation format."""
    n = q.shape[0]
    if atype == "F32":
        return q.view(np.float32).astype(np.float64)
    if atype == "F16":
        return q.view(np.float16).astype(np.float64)
    if atype == "BF16":
        return (q.view(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if atype == "Q8_0":
        b = q.reshape(n, -1, 34)
        d = b[:, :, 0:2].copy().view(np.float16).astype(np.float64)
        return (b[:, :, 2:].view(np.int8) * d).reshape(n, k)
    if atype == "Q8_1":
        b = q.reshape(n, -1, 36)
        d = b[:, :, 0:2].copy().view(np.float16).astype(np.float64)
        return (b[:, :, 4:].view(np.int8) * d).reshape(n, k)
    if atype == "Q8_K":
        b = q.reshape(n, -1, 292)
        d = b[:, :, 0:4].copy().view(np.float32).astype(np.float64)
        return (b[:, :, 4:260].view(np.int8) * d).reshape(n, k)
    raise AssertionError(atype)


# ------------------------------------------------------------------------------------------------------------------
# matmul
# ------------------------------------------------------------------------------------------------------------------


def q8_1_sum_correction(w: np.ndarray, wtype: str, xq: np.ndarray) -> np.ndarray:
    """Q4_1/Q5_1 fold the weight min m into m * s with s = fp16(d * sum(q)) of the Q8_1 activation block, as
    llama.cpp does; s is rounded to fp16, so the exact product differs by m * (s - d * sum(q)) per block."""
    if wtype not in ("Q4_1", "Q5_1"):
        return 0.0
    size = ops.BLOCK[wtype][1]
    m = w.reshape(w.shape[0], -1, size)[:, :, 2:4].copy().view(np.float16).astype(np.float64)[..., 0]
    b = xq.reshape(xq.shape[0], -1, 36)
    d = b[:, :, 0:2].copy().view(np.float16).astype(np.float64)[..., 0]
    s = b[:, :, 2:4].copy().view(np.float16).astype(np.float64)[..., 0]
    qsum = b[:, :, 4:].view(np.int8).astype(np.float64).sum(-1)
    return (s - d * qsum) @ m.T


# Budget against float64 exact W @ X (the activation is rounded to act_type): relative Frobenius error.
LOOSE = {"F32": 1e-6, "F16": 2e-3, "BF16": 1.5e-2, "Q8_0": 2e-2, "Q8_1": 2e-2, "Q8_K": 2e-2}


def matmul_shapes(wtype: str):
    qk = ops.BLOCK[wtype][0]
    if qk == 1:
        ks = [5, 64, 100, 300]
    elif qk == 32:
        ks = [32, 96, 288]  # 96, 288: an odd number of 32-blocks (zmm kernels take 2 blocks at a time)
    else:
        ks = [256, 768]
    return ks


@pytest.mark.parametrize("wtype", ops.WEIGHT_TYPES)
def test_matmul_every_format(level, wtype):
    rng = np.random.default_rng(1234)
    for k in matmul_shapes(wtype):
        for nrows, n in [(37, 1), (16, 2), (33, 5), (7, 17), (70, 8)]:
            w = random_weights(wtype, nrows, k, rng)
            x = rng.standard_normal((n, k)).astype(np.float32)
            y = ops.matmul(w, wtype, x)
            assert y.shape == (n, nrows) and y.dtype == np.float32
            wd = dequantize(w, wtype, k)
            atype = ops.act_type(wtype)
            xd = dequantize_act(ops.quantize_act(wtype, x), atype, k)
            # Tight: the kernel's only freedom is float rounding of block sums (exact integer dots inside blocks).
            ref = xd @ wd.T + q8_1_sum_correction(w, wtype, ops.quantize_act(wtype, x))
            bound = np.abs(xd) @ np.abs(wd).T
            err = np.abs(y - ref)
            tol = 3e-6 * bound + 1e-30
            assert np.all(err <= tol), f"{wtype} k={k} {nrows}x{n}: max err/bound {np.max(err / (bound + 1e-30))}"
            # Loose: against unquantized activations.
            exact = x.astype(np.float64) @ wd.T
            rel = np.linalg.norm(y - exact) / np.linalg.norm(exact)
            assert rel < LOOSE[atype], f"{wtype} k={k}: rel err {rel} vs exact"


def test_matmul_large_decode_and_prefill(level):
    """Shapes like a real layer (k = 576, 1536 rows) for the formats of the real models and every format with a
    matrix-vector kernel, 1, 2 and 3 threads."""
    rng = np.random.default_rng(7)
    formats = ["Q4_0", "Q4_1", "Q5_0", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "F32"]
    for wtype in formats:
        k = 768 if ops.BLOCK[wtype][0] == 256 else 576
        w = random_weights(wtype, 1536 // 4, k, rng)
        wd = dequantize(w, wtype, k)
        for n in (1, 64):
            x = rng.standard_normal((n, k)).astype(np.float32)
            xd = dequantize_act(ops.quantize_act(wtype, x), ops.act_type(wtype), k)
            ref = xd @ wd.T + q8_1_sum_correction(w, wtype, ops.quantize_act(wtype, x))
            bound = np.abs(xd) @ np.abs(wd).T
            for threads in (1, 2, 3):
                y = ops.matmul(w, wtype, x, n_threads=threads)
                assert np.all(np.abs(y - ref) <= 3e-6 * bound), (wtype, n, threads)


def test_matmul_rejects_bad_arguments():
    w = np.zeros((4, 18), np.uint8)
    with pytest.raises(ValueError, match="multiple of 32"):
        ops.matmul(w, "Q4_0", np.zeros((1, 31), np.float32))
    with pytest.raises(ValueError, match="not supported"):
        ops.matmul(np.zeros((4, 66), np.uint8), 16, np.zeros((1, 256), np.float32))  # IQ2_XXS
    with pytest.raises(ValueError, match="row"):
        ops.matmul(w, "Q4_0", np.zeros((1, 64), np.float32))


# ------------------------------------------------------------------------------------------------------------------
# activation quantizers: bit-identical on every level
# ------------------------------------------------------------------------------------------------------------------


def act_inputs(k: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((6, k)).astype(np.float32)
    x[1] *= 1e-3
    x[2, : k // 2] = 0.0  # all-zero blocks
    x[3] = np.round(x[3] * 4) / 4  # ties for the rounding rule
    x[4] *= 100.0
    x[5, ::7] = -50.0  # the largest magnitude negative
    return x


@pytest.mark.parametrize("wtype", ["Q4_0", "Q4_1", "Q4_K", "F16", "BF16"])  # Q8_0, Q8_1, Q8_K, F16, BF16
def test_activation_quantizers_bit_identical_across_levels(wtype):
    rng = np.random.default_rng(5)
    old = _core.cpu_level()
    try:
        for k in (256, 512 + 256, 4096):
            x = act_inputs(k, rng)
            _core.set_cpu_level("generic")
            ref = ops.quantize_act(wtype, x)
            for lv in LEVELS:
                _core.set_cpu_level(lv)
                got = ops.quantize_act(wtype, x)
                assert np.array_equal(got, ref), f"{wtype} activations differ on {lv} (k={k})"
    finally:
        _core.set_cpu_level(old)


def test_q8_0_activations_match_gguf_reference(level):
    rng = np.random.default_rng(6)
    x = act_inputs(1024, rng)
    got = ops.quantize_act("Q4_0", x)
    ref = gguf.quants.quantize(x, GQ.Q8_0)
    assert np.array_equal(got, ref)


def test_f16_and_bf16_conversions_round_to_nearest_even(level):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((4, 300)) * np.array([[1], [1e-6], [1e4], [7e4]])).astype(np.float32)
    with np.errstate(over="ignore"):
        assert np.array_equal(ops.quantize_act("F16", x).view(np.float16), x.astype(np.float16))
    bits = x.view(np.uint32).astype(np.uint64)
    bf = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    assert np.array_equal(ops.quantize_act("BF16", x).view(np.uint16), bf)


# ------------------------------------------------------------------------------------------------------------------
# get_rows, copy_rows
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", ["F32", "F16", "BF16"])
def test_get_rows_float_tables(level, t):
    rng = np.random.default_rng(9)
    table = random_weights(t, 50, 96, rng)
    ids = [3, 0, 49, 3, 17]
    got = ops.get_rows(table, t, 96, ids)
    assert np.array_equal(got, dequantize(table, t, 96)[ids].astype(np.float32))


@pytest.mark.parametrize("t", [w for w in ops.WEIGHT_TYPES if w not in ("F32", "F16", "BF16")])
def test_get_rows_block_formats_exact(level, t):
    rng = np.random.default_rng(20)
    k = 512
    table = random_weights(t, 40, k, rng)
    ids = [39, 0, 5, 5, 21]
    got = ops.get_rows(table, t, k, ids)
    assert np.array_equal(got, dequantize(table[ids], t, k).astype(np.float32))


def test_get_rows_rejects_out_of_range_ids():
    table = np.zeros((10, 64), np.uint8)
    with pytest.raises(ValueError, match="outside"):
        ops.get_rows(table, "F32", 16, [0, 10])
    with pytest.raises(ValueError, match="outside"):
        ops.get_rows(table, "F32", 16, [-1])


@pytest.mark.parametrize("t", ["F32", "F16", "BF16", "Q8_0"])
def test_copy_rows_into_cache_slots(level, t):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 128)).astype(np.float32)
    rows = [7, 2, 0, 9, 4]
    got = ops.copy_rows(x, t, rows, 10)
    plain = ops.copy_rows(x, t)
    if t == "F32":
        assert np.array_equal(plain.view(np.float32), x)
    elif t == "F16":
        assert np.array_equal(plain.view(np.float16), x.astype(np.float16))
    elif t == "Q8_0":
        assert np.array_equal(plain, gguf.quants.quantize(x, GQ.Q8_0))
    assert np.array_equal(got[rows], plain)
    assert not got[[1, 3, 5, 6, 8]].any()


# ------------------------------------------------------------------------------------------------------------------
# norms, element-wise
# ------------------------------------------------------------------------------------------------------------------


def test_rms_norm_and_layer_norm(level):
    rng = np.random.default_rng(11)
    for n in (1, 7, 64, 576, 1000):
        x = rng.standard_normal((5, n)).astype(np.float32) * 3
        w = rng.standard_normal(n).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        xd = x.astype(np.float64)
        ref = xd / np.sqrt((xd**2).mean(-1, keepdims=True) + 1e-6) * w
        np.testing.assert_allclose(ops.rms_norm(x, 1e-6, w), ref, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(ops.rms_norm(x, 1e-6), ref / w, rtol=2e-5, atol=2e-6)
        mu = xd.mean(-1, keepdims=True)
        ref = (xd - mu) / np.sqrt(((xd - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b
        np.testing.assert_allclose(ops.layer_norm(x, 1e-5, w, b), ref, rtol=2e-5, atol=5e-6)
        np.testing.assert_allclose(ops.layer_norm(x, 1e-5, w), ref - b, rtol=2e-5, atol=5e-6)  # weight only
        norm = (xd - mu) / np.sqrt(((xd - mu) ** 2).mean(-1, keepdims=True) + 1e-5)
        np.testing.assert_allclose(ops.layer_norm(x, 1e-5), norm, rtol=2e-5, atol=5e-6)  # neither (BERT's may lack)
        np.testing.assert_allclose(ops.layer_norm(x, 1e-5, None, b), norm + b, rtol=2e-5, atol=5e-6)  # bias only


def np_gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * x * (1 + 0.044715 * x * x)))


def np_gelu_erf(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


UNARY_REF = {
    "silu": lambda x: x / (1 + np.exp(-x)),
    "gelu": np_gelu,
    "gelu_erf": np_gelu_erf,
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "neg": lambda x: -x,
    "sqr": lambda x: x * x,
    "sqrt": lambda x: np.sqrt(np.abs(x)),
    "exp": np.exp,
}


@pytest.mark.parametrize("op", ops.UNARY)
def test_unary(level, op):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((3, 1037)) * 4).astype(np.float32)
    x[0, :12] = [0, -0.0, 1e-8, -1e-8, 20, -20, 88, -88, 50, -50, 9, -9]
    if op == "sqrt":
        x = np.abs(x)
    if op == "exp":
        x = np.clip(x, -80, 80)
    got = ops.unary(op, x)
    ref = UNARY_REF[op](x.astype(np.float64))
    atol = {"exp": 0.0, "gelu": 2e-6, "gelu_erf": 2e-6}.get(op, 1e-7)  # gelu: 1 + tanh(z) cancels for x < 0
    np.testing.assert_allclose(got, ref, rtol=5e-6, atol=atol)


@pytest.mark.parametrize("op", ops.GLU)
def test_glu(level, op):
    rng = np.random.default_rng(13)
    for shape in [(1, 1536), (4, 100), (17, 33)]:
        g = (rng.standard_normal(shape) * 3).astype(np.float32)
        u = rng.standard_normal(shape).astype(np.float32)
        act = {"swiglu": UNARY_REF["silu"], "geglu": np_gelu, "geglu_erf": np_gelu_erf}[op]
        ref = act(g.astype(np.float64)) * u
        # gelu's 1 + tanh(z) cancels for negative gate: absolute error ~ |gate| * float eps
        np.testing.assert_allclose(ops.glu(op, g, u), ref, rtol=5e-6, atol=1e-7 + 1e-6 * np.abs(g * u).max() / 10)


def test_add_mul_scale_with_broadcast(level):
    rng = np.random.default_rng(14)
    for shape in [(1, 5), (3, 1000), (1, 4096), (9, 31)]:
        a = rng.standard_normal(shape).astype(np.float32)
        b = rng.standard_normal(shape).astype(np.float32)
        row = rng.standard_normal(shape[1]).astype(np.float32)
        assert np.array_equal(ops.add(a, b), a + b)
        assert np.array_equal(ops.mul(a, b), a * b)
        assert np.array_equal(ops.add(a, row), a + row)
        assert np.array_equal(ops.mul(a, row), a * row)
        np.testing.assert_allclose(ops.scale(a, 0.125, 2.0), a.astype(np.float64) * 0.125 + 2, rtol=1e-6)


# ------------------------------------------------------------------------------------------------------------------
# softmax
# ------------------------------------------------------------------------------------------------------------------


def np_softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def test_softmax_scale_mask_causal(level):
    rng = np.random.default_rng(15)
    for R, C in [(1, 1), (3, 7), (5, 100), (8, 1037)]:
        x = (rng.standard_normal((R, C)) * 5).astype(np.float32)
        np.testing.assert_allclose(ops.softmax(x), np_softmax(x.astype(np.float64)), rtol=1e-5, atol=1e-8)
        mask = np.where(rng.random((R, C)) < 0.3, -np.inf, rng.standard_normal((R, C))).astype(np.float32)
        mask[:, 0] = 0
        ref = np_softmax(x.astype(np.float64) * 0.3 + mask)
        np.testing.assert_allclose(ops.softmax(x, 0.3, mask), ref, rtol=1e-5, atol=1e-8)
        off = max(0, C - R)
        causal = np.where(np.arange(C)[None, :] > np.arange(R)[:, None] + off, -np.inf, 0.0)
        ref = np_softmax(x.astype(np.float64) + causal)
        np.testing.assert_allclose(ops.softmax(x, 1.0, None, off), ref, rtol=1e-5, atol=1e-8)


def test_softmax_row_with_nothing_visible_is_zero(level):
    x = np.ones((2, 8), np.float32)
    mask = np.full((2, 8), -np.inf, np.float32)
    mask[1, 3] = 0
    y = ops.softmax(x, 1.0, mask)
    assert not y[0].any() and y[1, 3] == 1.0


# ------------------------------------------------------------------------------------------------------------------
# rope
# ------------------------------------------------------------------------------------------------------------------


def np_rope(x, pos, n_dims, mode, base, fscale=1.0, ext=0.0, attn=1.0, bfast=32.0, bslow=1.0, n_orig=0, ff=None):
    """ggml's rope: theta by the same float32 recurrence (theta *= theta_scale), the rest in float64."""
    T, H, D = x.shape
    out = x.astype(np.float64).copy()
    theta_scale = np.float32(math.pow(float(np.float32(base)), float(np.float32(-2.0 / n_dims))))  # powf
    if ext != 0.0:

        def corr(nrot):
            return n_dims * math.log(n_orig / (nrot * 2 * math.pi)) / (2 * math.log(base))

        lo, hi = max(0.0, math.floor(corr(bfast))), min(n_dims - 1.0, math.ceil(corr(bslow)))
    for t in range(T):
        theta = np.float32(pos[t])
        cs = []
        for i0 in range(0, n_dims, 2):
            f = 1.0 if ff is None else float(ff[i0 // 2])
            extrap = float(theta) / f
            th, ms = fscale * extrap, attn
            if ext != 0.0:
                y = (i0 // 2 - lo) / max(0.001, hi - lo)
                mix = (1 - min(1.0, max(0.0, y))) * ext
                th = th * (1 - mix) + extrap * mix
                ms *= 1.0 + 0.1 * math.log(1.0 / fscale)
            cs.append((math.cos(th) * ms, math.sin(th) * ms))
            theta = np.float32(theta * theta_scale)
        for i, (c, s) in enumerate(cs):
            if mode == ops.ROPE_NEOX:
                a, b = i, i + n_dims // 2
            else:
                a, b = 2 * i, 2 * i + 1
            x0, x1 = out[t, :, a].copy(), out[t, :, b].copy()
            out[t, :, a] = x0 * c - x1 * s
            out[t, :, b] = x0 * s + x1 * c
    return out


@pytest.mark.parametrize("mode", [ops.ROPE_NORMAL, ops.ROPE_NEOX])
def test_rope_plain_partial_and_scaled(level, mode):
    rng = np.random.default_rng(16)
    x = rng.standard_normal((5, 3, 64)).astype(np.float32)
    pos = [0, 1, 17, 300, 2047]
    for kw in [
        dict(n_dims=64, base=10000.0),
        dict(n_dims=32, base=500000.0, fscale=0.25),  # partial rotation, linear interpolation
        dict(n_dims=64, base=10000.0, ff=rng.uniform(1, 8, 32).astype(np.float32)),  # llama3 rope_freqs
        dict(n_dims=64, base=10000.0, fscale=0.25, ext=1.0, attn=1.0, bfast=32, bslow=1, n_orig=4096),  # YaRN
    ]:
        ref = np_rope(x, pos, mode=mode, **kw)
        got = ops.rope(
            x,
            pos,
            kw["n_dims"],
            mode,
            freq_base=kw["base"],
            freq_scale=kw.get("fscale", 1.0),
            ext_factor=kw.get("ext", 0.0),
            attn_factor=kw.get("attn", 1.0),
            beta_fast=kw.get("bfast", 32.0),
            beta_slow=kw.get("bslow", 1.0),
            n_ctx_orig=kw.get("n_orig", 0),
            freq_factors=kw.get("ff"),
        )
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5 * 4, err_msg=str(kw))


def test_rope_rejects_bad_parameters():
    x = np.zeros((1, 1, 64), np.float32)
    with pytest.raises(ValueError, match="n_dims"):
        ops.rope(x, [0], 65)
    with pytest.raises(ValueError, match="n_dims"):
        ops.rope(x, [0], 128)
    with pytest.raises(ValueError, match="mode"):
        ops.rope(x, [0], 64, mode=1)
    with pytest.raises(ValueError, match="n_ctx_orig"):
        ops.rope(x, [0], 64, ext_factor=1.0)


# ------------------------------------------------------------------------------------------------------------------
# attention
# ------------------------------------------------------------------------------------------------------------------


def np_attention(q, k, v, n_head_kv, q_pos, kv_pos, scale, softcap=0.0, window=0, mask=None):
    T, H, D = q.shape
    G = H // n_head_kv
    out = np.zeros((T, H, v.shape[2]))
    for t in range(T):
        if mask is not None:
            add = mask[t].astype(np.float64)
        else:
            vis = (kv_pos >= 0) & (kv_pos <= q_pos[t])
            if window > 0:
                vis &= q_pos[t] - kv_pos < window
            add = np.where(vis, 0.0, -np.inf)
        if np.all(add == -np.inf):
            continue
        for h in range(H):
            s = k[:, h // G, :] @ q[t, h] * scale
            if softcap > 0:
                s = softcap * np.tanh(s / softcap)
            p = np_softmax(s + add)
            out[t, h] = p @ v[:, h // G, :]
    return out


def q8_0_cache(x):
    """[n, heads, d] f32 -> (raw Q8_0 bytes [n, heads * d/32 * 34], dequantized float64)"""
    n = x.shape[0]
    raw = gguf.quants.quantize(x.reshape(n, -1), GQ.Q8_0)
    return raw, gguf.quants.dequantize(raw, GQ.Q8_0).reshape(x.shape).astype(np.float64)


@pytest.mark.parametrize("cache", ["F16", "F32", "Q8_0"])
def test_attention_gqa_causal(level, cache):
    rng = np.random.default_rng(17)
    for T, H, Hkv, D, n_kv in [(1, 4, 1, 64, 1), (1, 9, 3, 64, 200), (5, 8, 2, 128, 133), (3, 4, 4, 32, 70)]:
        q = rng.standard_normal((T, H, D)).astype(np.float32)
        kf = rng.standard_normal((n_kv, Hkv, D)).astype(np.float32)
        vf = rng.standard_normal((n_kv, Hkv, D)).astype(np.float32)
        if cache == "F16":
            k, v = kf.astype(np.float16), vf.astype(np.float16)
            kd, vd = k.astype(np.float64), v.astype(np.float64)
        elif cache == "F32":
            k, v, kd, vd = kf, vf, kf.astype(np.float64), vf.astype(np.float64)
        else:
            (k, kd), (v, vd) = q8_0_cache(kf), q8_0_cache(vf)
        kv_pos = np.arange(n_kv, dtype=np.int32)
        kv_pos[n_kv // 3] = -1  # an empty cell
        q_pos = np.arange(n_kv - T, n_kv, dtype=np.int32)
        scale = 1 / math.sqrt(D)
        got = ops.attention(q, k, v, k_type=cache, v_type=cache, n_head_kv=Hkv, q_pos=q_pos, kv_pos=kv_pos, scale=scale)
        ref = np_attention(q, kd, vd, Hkv, q_pos, kv_pos, scale)
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5)


def test_attention_sliding_window_softcap_and_mask(level):
    rng = np.random.default_rng(18)
    T, H, Hkv, D, n_kv = 4, 4, 2, 64, 300
    q = (rng.standard_normal((T, H, D)) * 2).astype(np.float32)
    k = rng.standard_normal((n_kv, Hkv, D)).astype(np.float16)
    v = rng.standard_normal((n_kv, Hkv, D)).astype(np.float16)
    kd, vd = k.astype(np.float64), v.astype(np.float64)
    kv_pos = rng.permutation(n_kv).astype(np.int32)  # cells in any order
    q_pos = np.array([296, 297, 298, 299], np.int32)
    for window, cap in [(64, 0.0), (0, 30.0), (17, 50.0)]:
        got = ops.attention(
            q, k, v, n_head_kv=Hkv, q_pos=q_pos, kv_pos=kv_pos, scale=0.125, softcap=cap, sliding_window=window
        )
        ref = np_attention(q, kd, vd, Hkv, q_pos, kv_pos, 0.125, cap, window)
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5, err_msg=f"window={window} cap={cap}")
    mask = np.where(rng.random((T, n_kv)) < 0.5, -np.inf, rng.standard_normal((T, n_kv)) * 0.1).astype(np.float32)
    mask[2] = -np.inf  # a token that sees nothing -> zeros
    got = ops.attention(q, k, v, n_head_kv=Hkv, scale=0.125, mask=mask)
    ref = np_attention(q, kd, vd, Hkv, None, None, 0.125, mask=mask)
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5)
    assert not got[2].any()


@pytest.mark.parametrize("cache", ["F16", "Q8_0"])
def test_attention_prefill_tiles(level, cache):
    """Calls of 64 tokens or more (the tiled path): several 16-token tiles, a partial last tile, blocks of 64 cells,
    GQA groups of 1, 3 and 8 heads, sliding window and soft-capping, positions and mask modes."""
    rng = np.random.default_rng(22)
    for T, H, Hkv, D, n_past, window, cap in [
        (100, 6, 2, 64, 110, 0, 0.0),  # tiled from 64 tokens: 7 tiles of 16, the last one partial
        (70, 3, 3, 32, 0, 0, 0.0),
        (65, 8, 1, 128, 60, 50, 20.0),
        (21, 4, 2, 64, 30, 8, 0.0),  # fewer tokens: token by token
    ]:
        n_kv = n_past + T
        q = rng.standard_normal((T, H, D)).astype(np.float32)
        kf = rng.standard_normal((n_kv, Hkv, D)).astype(np.float32)
        vf = rng.standard_normal((n_kv, Hkv, D)).astype(np.float32)
        if cache == "F16":
            k, v = kf.astype(np.float16), vf.astype(np.float16)
            kd, vd = k.astype(np.float64), v.astype(np.float64)
        else:
            (k, kd), (v, vd) = q8_0_cache(kf), q8_0_cache(vf)
        kv_pos = rng.permutation(n_kv).astype(np.int32)
        kv_pos[rng.integers(0, n_kv, 5)] = -1
        q_pos = np.arange(n_kv - T, n_kv, dtype=np.int32)
        kw = dict(k_type=cache, v_type=cache, n_head_kv=Hkv, scale=1 / math.sqrt(D), softcap=cap)
        got = ops.attention(q, k, v, q_pos=q_pos, kv_pos=kv_pos, sliding_window=window, **kw)
        ref = np_attention(q, kd, vd, Hkv, q_pos, kv_pos, 1 / math.sqrt(D), cap, window)
        np.testing.assert_allclose(got, ref, rtol=0, atol=3e-5, err_msg=f"T={T} H={H} Hkv={Hkv}")
        for nt in (1, 3):
            again = ops.attention(q, k, v, q_pos=q_pos, kv_pos=kv_pos, sliding_window=window, n_threads=nt, **kw)
            assert np.array_equal(again, got)
        mask = np.where(rng.random((T, n_kv)) < 0.4, -np.inf, rng.standard_normal((T, n_kv)) * 0.2).astype(np.float32)
        mask[T // 2] = -np.inf
        got = ops.attention(q, k, v, mask=mask, **kw)
        ref = np_attention(q, kd, vd, Hkv, None, None, 1 / math.sqrt(D), cap, mask=mask)
        np.testing.assert_allclose(got, ref, rtol=0, atol=3e-5)
        assert not got[T // 2].any()


def test_attention_threads_agree():
    rng = np.random.default_rng(19)
    q = rng.standard_normal((1, 4, 256)).astype(np.float32)  # decode, one KV head (Gemma 3 270M shape)
    k = rng.standard_normal((500, 1, 256)).astype(np.float16)
    v = rng.standard_normal((500, 1, 256)).astype(np.float16)
    kw = dict(n_head_kv=1, q_pos=[499], kv_pos=np.arange(500), scale=1 / 16)
    ys = [ops.attention(q, k, v, n_threads=t, **kw) for t in (1, 2, 3)]
    assert np.array_equal(ys[0], ys[1]) and np.array_equal(ys[0], ys[2])


def test_attention_rejects_bad_parameters():
    q = np.zeros((1, 3, 64), np.float32)
    k = np.zeros((4, 2, 64), np.float16)
    with pytest.raises(ValueError, match="multiple of n_head_kv"):
        ops.attention(q, k, k, n_head_kv=2, q_pos=[0], kv_pos=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="q_pos and kv_pos"):
        ops.attention(np.zeros((1, 2, 64), np.float32), k, k, n_head_kv=2)


# ------------------------------------------------------------------------------------------------------------------
# real weights: every quantized format of the two models, through matmul and get_rows on every level
# ------------------------------------------------------------------------------------------------------------------


def real_tensors(path, rows: int):
    """One 2-D tensor per format of the file (the first rows of it), as (name, type name, raw rows, k)."""
    from llamacore.gguf import GGUFFile

    out, seen = [], set()
    with GGUFFile(path) as f:
        for t in f.tensors.values():
            name = t.type.name
            if len(t.shape) != 2 or name in seen or name not in ops.TYPE_IDS:
                continue
            seen.add(name)
            raw = np.array(t.data).reshape(t.shape[1], -1)[:rows]  # copy out of the mmap
            out.append((t.name, name, raw, t.shape[0]))
    return out


@pytest.mark.parametrize("model", ["smollm2", "gemma3"])
def test_matmul_and_get_rows_on_real_weights(level, model, request):
    path = request.getfixturevalue(f"{model}_path")
    rng = np.random.default_rng(21)
    for name, wtype, w, k in real_tensors(path, 96):
        wd = dequantize(w, wtype, k)
        for n in (1, 19):
            x = rng.standard_normal((n, k)).astype(np.float32)
            xq = ops.quantize_act(wtype, x)
            xd = dequantize_act(xq, ops.act_type(wtype), k)
            ref = xd @ wd.T + q8_1_sum_correction(w, wtype, xq)
            bound = np.abs(xd) @ np.abs(wd).T
            y = ops.matmul(w, wtype, x)
            assert np.all(np.abs(y - ref) <= 3e-6 * bound), f"{model} {name} ({wtype}) n={n}"
        ids = [0, 95, 7]
        assert np.array_equal(ops.get_rows(w, wtype, k, ids), wd[ids].astype(np.float32)), f"{model} {name}"
