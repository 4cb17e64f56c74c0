"""The Engine contract (llamacore.engine docstring) on a small synthetic model: shapes, chunking, KV truncation and
prefix reuse, several sequences in one call, copies, errors that leave the cache untouched, lifetime."""

from __future__ import annotations

import numpy as np
import pytest

from llamacore.engine import Engine
from llamacore.errors import ModelNotFoundError

pytest.importorskip("gguf")

from reference_models.synthetic import write_model  # noqa: E402


def assert_same_logits(got, want):
    """The same tokens at the same positions computed in another batch shape. Bit-identical is the goal (see
    test_models.py); until the attention kernel's one-token and tiled paths round alike, a 1-ulp difference can flip
    an 8-bit activation rounding and move the logits a little, so the check is on the distributions: KL < 2e-3
    (a wrong KV cell or position gives far more) and the same most likely token."""
    got, want = np.atleast_2d(got).astype(np.float64), np.atleast_2d(want).astype(np.float64)
    assert got.shape == want.shape

    def log_softmax(z):
        z = z - z.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    lw, lg = log_softmax(want), log_softmax(got)
    kl = (np.exp(lw) * (lw - lg)).sum(-1)
    assert kl.max() < 2e-3, kl.max()
    assert (lg.argmax(-1) == lw.argmax(-1)).all()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "llama.gguf"
    p = write_model(path, "llama", seed=3, n_ctx_train=256)
    return path, p


def tokens(n, seed=0, vocab=320):
    return np.random.default_rng(seed).integers(0, vocab, n)


def test_attributes_and_shapes(model):
    path, p = model
    with Engine(path, n_ctx=64, n_batch=16, n_threads=1) as e:
        assert (e.arch, e.n_vocab, e.n_embd, e.n_ctx, e.n_ctx_train) == ("llama", p["n_vocab"], p["n_embd"], 64, 256)
        assert e.metadata["general.architecture"] == "llama"
        t = tokens(40)
        last = e.decode(t, np.arange(40))
        assert last.shape == (1, p["n_vocab"]) and last.dtype == np.float32
        e.kv_clear()
        every = e.decode(t, np.arange(40), logits_all=True)  # 40 tokens through n_batch=16: three calls
        assert every.shape == (40, p["n_vocab"])
        assert_same_logits(every[-1], last[0])
        assert e.kv_n_past(0) == 40
    with Engine(path, n_ctx=0) as e:
        assert e.n_ctx == 256  # n_ctx=0: the training context


def test_truncate_then_continue_equals_fresh(model):
    """Prefix reuse: keep 20 cached tokens, decode a different continuation, get what a fresh run gives."""
    path, _ = model
    a, b = tokens(30, 1), tokens(12, 2)
    with Engine(path, n_ctx=64) as fresh:
        want = fresh.decode(np.concatenate([a[:20], b]), np.arange(32), logits_all=True)[20:]
    with Engine(path, n_ctx=64) as e:
        e.decode(a, np.arange(30))
        e.kv_truncate(0, 20)
        assert e.kv_n_past(0) == 20
        got = e.decode(b, np.arange(20, 32), logits_all=True)
    assert_same_logits(got, want)


def test_decode_batch_matches_separate_sequences(model):
    path, _ = model
    a, b, c = tokens(10, 4), tokens(7, 5), tokens(5, 6)
    with Engine(path, n_ctx=96, n_seq_max=3) as e:
        want_a = e.decode(a, np.arange(10), seq_id=0, logits_all=True)
        want_b = e.decode(b, np.arange(7), seq_id=1, logits_all=True)
        want_c = e.decode(c, np.arange(5), seq_id=2, logits_all=True)
    with Engine(path, n_ctx=96, n_seq_max=3) as e:
        e.decode(a[:6], np.arange(6), seq_id=0)
        e.decode(b[:2], np.arange(2), seq_id=1)
        # one call: a continues at 6, b at 2, c starts; tokens interleaved
        toks = [a[6], b[2], c[0], a[7], c[1], b[3], c[2], a[8], a[9], b[4], b[5], b[6], c[3], c[4]]
        pos = [6, 2, 0, 7, 1, 3, 2, 8, 9, 4, 5, 6, 3, 4]
        seq = [0, 1, 2, 0, 2, 1, 2, 0, 0, 1, 1, 1, 2, 2]
        rows = [13, 0, 11]
        got = e.decode_batch(toks, pos, seq, rows)
    assert got.shape == (3, want_a.shape[1])
    assert_same_logits(got[0], want_c[4])
    assert_same_logits(got[1], want_a[6])
    assert_same_logits(got[2], want_b[6])


def test_kv_copy_shares_a_prompt(model):
    path, _ = model
    a = tokens(12, 7)
    with Engine(path, n_ctx=64, n_seq_max=2) as e:
        e.decode(a[:11], np.arange(11), seq_id=0)
        e.kv_copy(0, 1)
        assert e.kv_n_past(1) == 11
        x = e.decode(a[11:], [11], seq_id=1)
        y = e.decode(a[11:], [11], seq_id=0)
    assert_same_logits(x, y)


def test_thread_counts_agree(model):
    path, _ = model
    t = tokens(24, 8)
    outs = []
    for n in (1, 2, 3):
        with Engine(path, n_ctx=32, n_threads=n) as e:
            outs.append(e.decode(t, np.arange(24), logits_all=True))
    assert_same_logits(outs[0], outs[1])
    assert_same_logits(outs[0], outs[2])


def test_errors_change_nothing(model):
    path, p = model
    with Engine(path, n_ctx=32, n_batch=8, n_seq_max=2) as e:  # 16 positions per sequence
        e.decode(tokens(5), np.arange(5))
        bad = [
            (lambda: e.decode(tokens(20), np.arange(20)), "outside the context"),  # 20 > 16
            (lambda: e.decode([1], [16]), "outside the context"),
            (lambda: e.decode([p["n_vocab"]], [5]), "vocabulary"),
            (lambda: e.decode([-3], [5]), "vocabulary"),
            (lambda: e.decode([1, 2], [5]), "positions"),
            (lambda: e.decode([1, 2], [5, 5]), "twice"),
            (lambda: e.decode([1], [5], seq_id=2), "sequence"),
            (lambda: e.decode([], []), "no tokens"),
            (lambda: e.decode([1.5], [5]), "integers"),
            (lambda: e.decode_batch(tokens(9), np.arange(9), [0] * 9, [0]), "n_batch"),
            (lambda: e.decode_batch([1], [5], [0], [1]), "output_rows"),
            (lambda: e.decode_batch([1, 2], [5, 6], [0], [1]), "same length"),
            (lambda: e.kv_truncate(7, 0), "sequence"),
        ]
        for call, msg in bad:
            with pytest.raises(ValueError, match=msg):
                call()
            assert e.kv_n_past(0) == 5 and e.kv_n_past(1) == 0
    with pytest.raises(ValueError, match="closed"):
        e.decode([1], [0])
    e.close()  # twice is fine


def test_bad_construction(model, tmp_path):
    path, _ = model
    with pytest.raises(ModelNotFoundError):
        Engine(tmp_path / "missing.gguf")
    with pytest.raises(ValueError, match="KV cache type"):
        Engine(path, type_k="q4_0")
    with pytest.raises(ValueError, match="n_batch"):
        Engine(path, n_batch=0)
    with pytest.raises(ValueError, match="n_seq_max"):
        Engine(path, n_ctx=4, n_seq_max=8)
    with Engine(path, n_ctx=64, type_k=8, type_v="Q8_0") as e:  # GGML ids and names
        assert e.decode([1, 2, 3], [0, 1, 2]).shape == (1, e.n_vocab)


def test_calls_from_several_threads_are_serialized(model):
    """The forward pass runs without the GIL; concurrent calls on one engine wait for each other."""
    import threading

    path, _ = model
    a, b = tokens(30, 9), tokens(30, 10)
    with Engine(path, n_ctx=64, n_seq_max=2) as e:
        want = [e.decode(a, np.arange(30), seq_id=0), e.decode(b, np.arange(30), seq_id=1)]
        e.kv_clear()
        got = [None, None]

        def work(s, t):
            for i in range(30):
                got[s] = e.decode(t[i : i + 1], [i], seq_id=s)
                if i == 10:
                    e.kv_truncate(s, 11)  # a KV change racing with the other thread's decode

        threads = [threading.Thread(target=work, args=(s, t)) for s, t in ((0, a), (1, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert_same_logits(got[0], want[0])
    assert_same_logits(got[1], want[1])
