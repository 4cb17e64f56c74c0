"""Samplers against straightforward numpy references (full sorts, plain loops), the chain's order and seeding, the
distribution of draws, and the text stream's stop-string holdback."""

from __future__ import annotations

import numpy as np
import pytest

from llamacore.sampling import (
    Breakers,
    Candidates,
    Sampler,
    SamplingParams,
    dry,
    greedy,
    log_softmax,
    make_rng,
    min_p,
    mirostat_v1,
    mirostat_v2,
    penalties,
    sample_dist,
    softmax,
    temperature,
    top_k,
    top_k_row,
    top_n_sigma,
    top_p,
    typical,
    xtc,
)
from llamacore.sampling.stops import TextStream


def logits(n: int, seed: int = 0, scale: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def ref_probs(x: np.ndarray) -> np.ndarray:
    e = np.exp(x.astype(np.float64) - x.max())
    return e / e.sum()


def ref_top_p(x: np.ndarray, p: float, min_keep: int = 1) -> set[int]:
    order = np.argsort(-x, kind="stable")
    probs = ref_probs(x)[order]
    total = 0.0
    for i, q in enumerate(probs):
        total += q
        if total >= p and i + 1 >= min_keep:
            return set(order[: i + 1].tolist())
    return set(order.tolist())


# ---- single samplers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k", [(49152, 40), (262144, 40), (1000, 1), (1000, 999), (50, 50), (50, 80)])
def test_top_k_row_matches_full_sort(n, k):
    x = logits(n, seed=n + k)
    c = top_k_row(x, k)
    want = np.argsort(-x, kind="stable")[: min(k, n)]
    assert set(c.ids.tolist()) == set(want.tolist())
    assert np.all(np.diff(c.logits) <= 0)  # sorted descending
    np.testing.assert_array_equal(c.logits, x[c.ids])


def test_top_k_row_flat_and_peaked_rows():
    flat = np.zeros(5000, dtype=np.float32)
    assert top_k_row(flat, 40).ids.shape == (40,)
    peaked = np.full(5000, -100.0, dtype=np.float32)
    peaked[[7, 9]] = [5.0, 4.0]
    assert set(top_k_row(peaked, 40).ids.tolist()) >= {7, 9}
    assert top_k_row(peaked, 40).ids.shape == (40,)
    assert top_k_row(peaked, 0).ids.shape == (5000,)  # k <= 0: no filtering


def test_top_k_on_candidates():
    x = logits(300, seed=1)
    c = top_k(Candidates.from_row(x), 10)
    assert list(c.ids) == list(np.argsort(-x, kind="stable")[:10])
    assert top_k(Candidates.from_row(x), 0).ids.shape == (300,)
    assert top_k(Candidates.from_row(x), 2, min_keep=5).ids.shape == (5,)


@pytest.mark.parametrize("n", [40, 5000, 262144])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 0.95, 0.999999])
def test_top_p_matches_reference(n, p):
    x = logits(n, seed=n, scale=1.0 if n > 1000 else 3.0)  # flat rows make the nucleus large (> 256 tokens)
    c = top_p(Candidates.from_row(x), p)
    assert set(c.ids.tolist()) == ref_top_p(x, p)


def test_top_p_edge_cases():
    x = logits(100, seed=3)
    assert top_p(Candidates.from_row(x), 1.0).ids.shape == (100,)
    assert set(top_p(Candidates.from_row(x), 0.0, min_keep=3).ids.tolist()) == ref_top_p(x, 0.0, min_keep=3)
    one = top_p(Candidates.from_row(x), 0.0)
    assert one.ids.tolist() == [int(np.argmax(x))]


@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 1.0])
def test_min_p_matches_reference(p):
    x = logits(2000, seed=4)
    c = min_p(Candidates.from_row(x), p)
    probs = ref_probs(x)
    want = set(range(2000)) if p == 0 else set(np.flatnonzero(probs >= p * probs.max() * (1 - 1e-6)).tolist())
    assert set(c.ids.tolist()) == want


def test_min_p_keeps_min_keep():
    x = np.array([10.0, 0.0, -1.0], dtype=np.float32)
    assert min_p(Candidates.from_row(x), 0.5).ids.tolist() == [0]
    assert min_p(Candidates.from_row(x), 0.5, min_keep=2).ids.shape == (3,)  # llama.cpp: too few -> unchanged


def test_typical_matches_reference():
    x = logits(500, seed=5)
    p = 0.7
    probs = ref_probs(x)
    entropy = -(probs * np.log(probs)).sum()
    order = np.argsort(np.abs(-np.log(probs) - entropy), kind="stable")
    total, keep = 0.0, []
    for i in order:
        total += probs[i]
        keep.append(i)
        if total > p:
            break
    assert set(typical(Candidates.from_row(x), p).ids.tolist()) == set(keep)
    assert typical(Candidates.from_row(x), 1.0).ids.shape == (500,)


def test_temperature_and_greedy():
    x = logits(100, seed=6)
    c = temperature(Candidates.from_row(x), 0.5)
    np.testing.assert_allclose(c.logits, x / 0.5, rtol=1e-6)
    assert temperature(Candidates.from_row(x), 0.0).ids.tolist() == [int(np.argmax(x))]
    assert greedy(x) == int(np.argmax(x))
    tie = np.array([1.0, 3.0, 3.0], dtype=np.float32)
    assert greedy(tie) == 1  # the first of equal maxima, as llama.cpp


def test_penalties_match_loop_reference():
    x = logits(64, seed=7)
    x[3], x[5] = 2.0, -2.0
    recent = np.array([3, 5, 5, 9, 3, 3, 63, 200, -1], dtype=np.int32)  # ids outside the vocabulary are ignored
    got = penalties(x, recent, repeat=1.3, frequency=0.2, presence=0.5)
    want = x.copy()
    for t in set(recent.tolist()):
        if not 0 <= t < 64:
            continue
        count = int(np.sum(recent == t))
        want[t] = want[t] * 1.3 if want[t] <= 0 else want[t] / 1.3
        want[t] -= count * 0.2 + 0.5
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert penalties(x, recent) is x  # all off: the row is returned untouched
    assert x[3] == 2.0  # never modified in place


def test_softmax_and_log_softmax():
    x = logits(1000, seed=8)
    np.testing.assert_allclose(softmax(x), ref_probs(x), rtol=1e-9)
    np.testing.assert_allclose(log_softmax(x), np.log(ref_probs(x)), rtol=1e-4, atol=1e-4)
    masked = x.copy()
    masked[:10] = -np.inf
    assert softmax(masked)[:10].sum() == 0


# ---- draws ------------------------------------------------------------------------------------------------------


def test_sample_dist_follows_the_distribution():
    x = np.log(np.array([0.5, 0.25, 0.15, 0.1])).astype(np.float32)
    rng = make_rng(0)
    c = Candidates.from_row(x)
    draws = np.bincount([sample_dist(c, rng) for _ in range(20000)], minlength=4) / 20000
    np.testing.assert_allclose(draws, [0.5, 0.25, 0.15, 0.1], atol=0.015)


def test_chain_distribution_matches_reference():
    """The whole chain (top_k -> top_p -> min_p -> temperature -> draw) against the distribution it should draw."""
    x = logits(1000, seed=9, scale=1.5)
    params = SamplingParams(temp=0.7, top_k=20, top_p=0.8, min_p=0.05)
    order = np.argsort(-x, kind="stable")[:20]
    sub = x[order]
    keep = sorted(ref_top_p(sub, 0.8))  # positions within the top 20
    sub_ids, sub_x = order[keep], sub[keep]
    q = ref_probs(sub_x)
    m = q >= 0.05 * q.max()
    sub_ids, sub_x = sub_ids[m], sub_x[m]
    want = ref_probs(sub_x / 0.7)
    s = Sampler(params, make_rng(1))
    draws = [s.sample(x, np.zeros(0, dtype=np.int32)) for _ in range(20000)]
    assert set(draws) <= set(sub_ids.tolist())
    freq = np.array([np.mean(np.array(draws) == i) for i in sub_ids])
    np.testing.assert_allclose(freq, want, atol=0.015)


def test_seeded_reproducibility():
    x = logits(5000, seed=10, scale=1.0)
    params = SamplingParams(temp=1.2, top_k=0, top_p=1.0, min_p=0.0)
    ctx = np.zeros(0, dtype=np.int32)
    a = [Sampler(params, make_rng(42)).sample(x, ctx) for _ in range(3)]
    s1, s2, s3 = Sampler(params, make_rng(42)), Sampler(params, make_rng(42)), Sampler(params, make_rng(43))
    seq1 = [s1.sample(x, ctx) for _ in range(50)]
    assert seq1 == [s2.sample(x, ctx) for _ in range(50)]
    assert seq1 != [s3.sample(x, ctx) for _ in range(50)]
    assert len(set(a)) == 1  # a fresh sampler with the same seed draws the same first token


def test_temp_zero_is_greedy_after_penalties():
    x = np.array([1.0, 5.0, 4.9, 0.0], dtype=np.float32)
    ctx = np.array([1], dtype=np.int32)
    assert Sampler(SamplingParams(temp=0.0), make_rng(0)).sample(x, ctx) == 1
    assert Sampler(SamplingParams(temp=0.0, repeat_penalty=1.1), make_rng(0)).sample(x, ctx) == 2


def test_penalty_window_and_logit_bias():
    x = np.array([5.0, 4.0, 0.0], dtype=np.float32)
    ctx = np.array([0, 2, 2, 2], dtype=np.int32)
    s = Sampler(SamplingParams(temp=0.0, presence_penalty=10.0, penalty_last_n=2), make_rng(0))
    assert s.sample(x, ctx) == 0  # token 0 is outside the last 2 tokens: not penalized
    s = Sampler(SamplingParams(temp=0.0, presence_penalty=10.0, penalty_last_n=-1), make_rng(0))
    assert s.sample(x, ctx) == 1  # -1: the whole context
    s = Sampler(SamplingParams(temp=0.0, logit_bias={2: 100.0}), make_rng(0))
    assert s.sample(x, ctx) == 2
    with pytest.raises(ValueError, match="vocabulary"):
        Sampler(SamplingParams(logit_bias={7: 1.0}), make_rng(0)).sample(x, ctx)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temp": -0.1}, "temperature"),
        ({"top_p": 1.01}, "top_p"),
        ({"min_p": -0.5}, "min_p"),
        ({"typical_p": 2}, "typical_p"),
        ({"repeat_penalty": -1}, "repeat_penalty"),
        ({"frequency_penalty": float("inf")}, "frequency_penalty"),
        ({"penalty_last_n": -2}, "penalty_last_n"),
    ],
)
def test_params_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SamplingParams(**kwargs)


def test_make_rng():
    assert make_rng(5).random() == make_rng(5).random()
    assert make_rng(None).random() != make_rng(None).random()
    assert make_rng(-1).random() != make_rng(0xFFFFFFFF).random()
    with pytest.raises(ValueError, match="seed"):
        make_rng(-3)


# ---- stop strings -----------------------------------------------------------------------------------------------


def run_stream(pieces: list[bytes], stop: list[str]) -> tuple[list[str], bool]:
    s = TextStream(stop)
    out = []
    for p in pieces:
        out.append(s.push(p))
        if s.stopped:
            break
    if not s.stopped:
        out.append(s.flush())
    return out, s.stopped


@pytest.mark.parametrize(
    "pieces, stop, shown, stopped",
    [
        ([b"Hello", b" wor", b"ld"], ["world"], ["Hello", " ", ""], True),  # " wor" is held until it diverges/matches
        ([b"ab", b"c"], ["abc"], ["", ""], True),  # a stop string at the very start
        ([b"aa", b"ab"], ["aab"], ["", "a"], True),  # overlapping: "aaab" ends with the stop string at index 1
        ([b"x<", b"y"], ["<|end|>"], ["x", "<y", ""], False),  # the held "<" is released once it cannot match
        ([b"x<|en"], ["<|end|>"], ["x", "<|en"], False),  # generation ended mid-match: flush releases it
        ([b"one\n", b"\ntwo"], ["\n\n", "two"], ["one", ""], True),  # the earliest stop string wins
        ([b"abc"], [], ["abc", ""], False),
        ([b"\xe2\x9c", b"\x93!"], ["!"], ["", "\u2713"], True),  # one character split over two tokens
        ([b"ok\xe2\x9c"], [], ["ok", ""], False),  # an incomplete last character is dropped
        ([b"a\xffb"], [], ["a\ufffdb", ""], False),  # invalid UTF-8 becomes U+FFFD
    ],
)
def test_text_stream(pieces, stop, shown, stopped):
    out, did_stop = run_stream(pieces, stop)
    assert out == shown
    assert did_stop == stopped


def test_text_stream_never_shows_a_stop_prefix_that_completes():
    text = "The answer is 42.\nUser: next question"
    stop = ["\nUser:", "###"]
    for cut in range(1, len(text)):  # every split of the text into two tokens, and single characters
        for pieces in ([text[:cut], text[cut:]], list(text)):
            s, shown = TextStream(stop), ""
            for p in pieces:
                shown += s.push(p.encode())
                assert "The answer is 42.".startswith(shown)  # nothing of the stop string is ever shown
                if s.stopped:
                    break
            assert s.stopped and shown == "The answer is 42." and s.stop_string == "\nUser:"
            assert s.emitted == len(shown)


# ---- llama.cpp's other samplers, against plain-loop references written from llama-sampling.cpp's description -----


def test_top_n_sigma_matches_loop_reference():
    x = logits(3000, seed=11)
    x[:50] = -np.inf  # -inf logits are left out of the mean and std
    for n in (0.5, 1.0, 2.0, 3.0):
        valid = [float(v) for v in x if v != -np.inf]
        mean = sum(valid) / len(valid)
        std = (sum((v - mean) ** 2 for v in valid) / len(valid)) ** 0.5
        want = [v if v >= max(valid) - n * std else -np.inf for v in x.tolist()]
        np.testing.assert_allclose(top_n_sigma(x, n), want, rtol=1e-6)
    assert top_n_sigma(x, 0.0) is x and top_n_sigma(x, -1.0) is x


def ref_xtc(x: np.ndarray, threshold: float, min_keep: int) -> set[int]:
    """XTC when it fires: sort descending; drop the tokens before the last one whose probability >= threshold."""
    order = np.argsort(-x, kind="stable")
    probs = ref_probs(x)[order]
    pos_last = 0
    for i, q in enumerate(probs):
        if q >= threshold:
            pos_last = i
        else:
            break
    if len(x) - pos_last >= min_keep and pos_last > 0:
        order = order[pos_last:]
    return set(order.tolist())


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold, min_keep", [(0.05, 1), (0.1, 1), (0.2, 1), (0.1, 48), (0.5, 1), (0.6, 1)])
def test_xtc_matches_reference(seed, threshold, min_keep):
    x = logits(50, seed=seed, scale=2.0)
    c = xtc(Candidates.from_row(x), 1.0, threshold, min_keep, make_rng(seed))  # probability 1: always fires
    want = set(range(50)) if threshold > 0.5 else ref_xtc(x, threshold, min_keep)
    assert set(c.ids.tolist()) == want
    np.testing.assert_array_equal(c.logits, x[c.ids])


def test_xtc_fires_with_its_probability():
    x = np.log(np.array([0.4, 0.3, 0.2, 0.1])).astype(np.float32)
    rng = make_rng(5)
    fired = [xtc(Candidates.from_row(x), 0.3, 0.25, 1, rng).ids.shape[0] < 4 for _ in range(20000)]
    assert abs(np.mean(fired) - 0.3) < 0.015
    assert xtc(Candidates.from_row(x), 0.0, 0.25, 1, rng).ids.shape[0] == 4


def ref_mirostat_v2_probs(x: np.ndarray, mu: float) -> dict[int, float]:
    order = np.argsort(-x, kind="stable")
    probs = ref_probs(x)[order]
    n = 0
    while n < len(order) and -np.log2(probs[n]) <= mu:
        n += 1
    n = max(n, 1)
    kept = probs[:n] / probs[:n].sum()
    return dict(zip(order[:n].tolist(), kept.tolist(), strict=True))


def ref_mirostat_v1_probs(x: np.ndarray, mu: float, m: int = 100) -> dict[int, float]:
    order = np.argsort(-x, kind="stable")
    probs = ref_probs(x)[order]
    sum_tb = sum_tt = 0.0
    for i in range(min(m - 1, len(x) - 1)):
        t = np.log((i + 2) / (i + 1))
        b = np.log(probs[i] / probs[i + 1])
        sum_tb += t * b
        sum_tt += t * t
    s_hat = sum_tb / sum_tt
    eps = s_hat - 1
    k = int(((eps * 2**mu) / (1 - len(x) ** (-eps))) ** (1 / s_hat))
    k = max(k, 1)
    kept = probs[:k] / probs[:k].sum()
    return dict(zip(order[:k].tolist(), kept.tolist(), strict=True))


@pytest.mark.parametrize("version, mu", [(1, 6.0), (1, 9.0), (2, 3.0), (2, 6.0), (2, 0.1)])
def test_mirostat_distribution_and_mu_update(version, mu):
    x = logits(2000, seed=12, scale=2.5)
    ref = (ref_mirostat_v1_probs if version == 1 else ref_mirostat_v2_probs)(x, mu)
    fn = mirostat_v1 if version == 1 else mirostat_v2
    rng = make_rng(7)
    tau, eta, n = 5.0, 0.1, 20000
    counts: dict[int, int] = {}
    for _ in range(n):
        tok, new_mu = fn(x, mu, tau, eta, rng)  # mu passed fresh each time: draws from one distribution
        assert tok in ref
        assert new_mu == pytest.approx(mu - eta * (-np.log2(ref[tok]) - tau), rel=1e-4, abs=1e-4)
        counts[tok] = counts.get(tok, 0) + 1
    for tok, p in ref.items():
        assert abs(counts.get(tok, 0) / n - p) < 0.015, (tok, p)


def test_mirostat_in_the_chain_keeps_its_mu_and_respects_temperature():
    x = logits(500, seed=13)
    s = Sampler(SamplingParams(temp=1.0, mirostat=2, mirostat_tau=3.0, mirostat_eta=0.5), make_rng(1))
    assert s.mu == 6.0  # llama.cpp starts at 2 * tau
    s.sample(x, np.zeros(0, dtype=np.int32))
    assert s.mu != 6.0
    greedy_ish = Sampler(SamplingParams(temp=0.0, mirostat=1), make_rng(1))
    assert greedy_ish.sample(x, np.zeros(0, dtype=np.int32)) == int(np.argmax(x))  # temp 0 is greedy


# ---- DRY ---------------------------------------------------------------------------------------------------------

DRY_TOKENS = {256: b"ab", 257: b"\n\n", 258: b"x:", 259: b"::y", 260: b"zab", 261: b"<|end|>"}


class ByteTokenizer:
    """Bytes are tokens 0..255 (tokenize is byte by byte); a few multi-byte tokens after them."""

    def n_vocab(self) -> int:
        return 262

    def detokenize(self, tokens, special: bool = False) -> bytes:
        return b"".join(bytes([t]) if t < 256 else DRY_TOKENS[t] for t in tokens)

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(text)


def ref_breakers(tok, strings: list[str]) -> dict[int, set[tuple[int, ...]]]:
    """llama.cpp's get_overlapping_token_sequences, as a loop over the vocabulary."""
    out: dict[int, set[tuple[int, ...]]] = {}
    for s in strings:
        b = s.encode()[:40]
        for tid in range(tok.n_vocab()):
            word = tok.detokenize([tid], special=True)
            if b in word:
                out.setdefault(tid, set()).add(())
                continue
            pos = word.find(b[:1])
            while pos != -1:
                i, match = 1, True
                while i < len(b) and i + pos < len(word):
                    if word[pos + i] != b[i]:
                        match = False
                        break
                    i += 1
                if match:
                    out.setdefault(tid, set()).add(tuple(tok.tokenize(b[i:])[:20]))
                pos = word.find(b[:1], pos + 1)
    return out


def ref_dry(x, context, table, mult, base, allowed, last_n):
    """llama_sampler_dry_apply with a naive O(n^2) match instead of the Z-algorithm."""
    n = len(context) if last_n < 0 else min(len(context), last_n)
    if n <= allowed:
        return x.copy()
    w = list(context[len(context) - n :])

    def rat(i):
        return w[n - 1 - i]

    rep_limit = n
    for i in range(n):
        longest = -1
        for tail in table.get(rat(i), ()):
            if longest < len(tail) <= i and all(tail[o] == rat(i - o - 1) for o in range(len(tail))):
                longest = len(tail)
        if longest >= 0:
            rep_limit = i - longest
            break
    if rep_limit < allowed:
        return x.copy()
    counts = [0] * n
    for k in range(1, n):
        m = 0
        while m + k < n and rat(m) == rat(m + k):
            m += 1
        counts[n - 1 - k] = min(m, rep_limit)
    longest_rep: dict[int, int] = {}
    for i in range(n - 1):
        if counts[i] >= allowed:
            t = rat(n - 2 - i)
            longest_rep[t] = max(longest_rep.get(t, -1), counts[i])
    out = x.copy()
    max_exp = int(88.7228391 / np.log(base)) if base > 1.000001 else 0
    for t, length in longest_rep.items():
        if () in table.get(t, ()):
            continue
        e = length - allowed
        if max_exp > 0 and e > max_exp:
            e = max_exp
        out[t] -= np.float32(mult * base**e)
    return out


BREAKER_STRINGS = ["\n", ":", "ab:c", "<|end|>"]


def test_dry_breakers_match_reference():
    got = Breakers.build(ByteTokenizer(), BREAKER_STRINGS)
    want = ref_breakers(ByteTokenizer(), BREAKER_STRINGS)
    assert {k: set(v) for k, v in got.tails.items()} == want
    assert want[256] == {(58, 99)} and want[97] == {(98, 58, 99)} and () in want[259]  # sanity of the reference
    assert got.single == frozenset(k for k, v in want.items() if () in v)


@pytest.mark.parametrize("seed", range(40))
def test_dry_matches_reference(seed):
    rng = np.random.default_rng(seed)
    alphabet = np.array([97, 98, 99, 100, 58, 10, 256, 260, 120])
    # repetitive contexts: random blocks copied around, with breakers sprinkled in
    block = rng.choice(alphabet, size=rng.integers(3, 9))
    parts = [block if rng.random() < 0.6 else rng.choice(alphabet, size=rng.integers(1, 6)) for _ in range(12)]
    context = np.concatenate(parts).astype(np.int32)
    x = logits(262, seed=seed)
    tok = ByteTokenizer()
    table = ref_breakers(tok, BREAKER_STRINGS)
    breakers = Breakers.build(tok, BREAKER_STRINGS)
    for mult, base, allowed, last_n in [(0.8, 1.75, 2, -1), (1.0, 2.0, 0, 20), (0.5, 1.1, 3, 40), (2.0, 30.0, 1, -1)]:
        want = ref_dry(x, context, table, mult, base, allowed, last_n)
        got = dry(x, None, context, breakers, mult, base, allowed, last_n)
        np.testing.assert_allclose(got, want, rtol=1e-6)
        ids = np.array([3, 97, 98, 99, 256, 260, 10, 58], dtype=np.int64)  # on candidates: the same numbers
        np.testing.assert_allclose(dry(x[ids], ids, context, breakers, mult, base, allowed, last_n), want[ids])
    no_breakers = Breakers({}, frozenset())
    np.testing.assert_allclose(
        dry(x, None, context, no_breakers, 0.8, 1.75, 2, -1), ref_dry(x, context, {}, 0.8, 1.75, 2, -1), rtol=1e-6
    )


def test_dry_in_the_chain_breaks_a_loop():
    """Greedy decoding after "abcab": without DRY the repeat continues with "c"; DRY penalises it."""
    x = np.zeros(262, dtype=np.float32)
    x[99], x[100] = 2.0, 1.0  # "c" preferred over "d"
    ctx = np.array([97, 98, 99, 97, 98], dtype=np.int32)
    plain = Sampler(SamplingParams(temp=0.0), make_rng(0))
    dry_on = Sampler(SamplingParams(temp=0.0, dry_multiplier=2.0, dry_allowed_length=1), make_rng(0), ByteTokenizer())
    assert plain.sample(x, ctx) == 99 and dry_on.sample(x, ctx) == 100
    with pytest.raises(ValueError, match="tokenizer"):
        Sampler(SamplingParams(dry_multiplier=1.0), make_rng(0))


# ---- the chain's order -------------------------------------------------------------------------------------------


def test_parse_samplers_names_and_aliases():
    from llamacore.sampling import DEFAULT_SAMPLERS, parse_samplers

    assert parse_samplers(None) == DEFAULT_SAMPLERS
    assert parse_samplers("penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature") == DEFAULT_SAMPLERS
    assert parse_samplers("Top-K;nucleus;typ;min-p;topnsigma;TEMP") == (
        "top_k", "top_p", "typ_p", "min_p", "top_n_sigma", "temperature",
    )  # fmt: skip
    assert parse_samplers(["top_k", "temperature"]) == parse_samplers("top_k,temperature")
    for bad in ("top_k;bogus", "infill"):
        with pytest.raises(ValueError, match="unknown sampler"):
            parse_samplers(bad)
    with pytest.raises(TypeError):
        parse_samplers(5)


def test_custom_order_penalties_after_top_k():
    """samplers="top_k;penalties": the penalties see only the k survivors (and may reorder them)."""
    x = logits(1000, seed=14)
    top5 = np.argsort(-x, kind="stable")[:5]
    ctx = np.array([top5[0], top5[0], 7], dtype=np.int32)
    params = SamplingParams(temp=1.0, top_k=5, top_p=1.0, min_p=0.0, repeat_penalty=1.5, presence_penalty=0.5,
                            samplers="top_k;penalties;temperature")  # fmt: skip
    c = Sampler(params, make_rng(0)).candidates(x, ctx)
    want = {int(t): float(x[t]) for t in top5}
    t0 = int(top5[0])
    want[t0] = (want[t0] / 1.5 if want[t0] > 0 else want[t0] * 1.5) - 0.5
    assert dict(zip(c.ids.tolist(), c.logits.tolist(), strict=True)) == pytest.approx(want)


def test_full_chain_with_every_sampler_matches_the_composition():
    """The default order with top-n-sigma and XTC (probability 1) on: the candidate set is the references composed."""
    x = logits(4000, seed=15, scale=2.0)
    params = SamplingParams(temp=0.8, top_k=60, top_p=0.97, min_p=0.02, typical_p=0.99, top_n_sigma=2.0,
                            xtc_probability=1.0, xtc_threshold=0.05)  # fmt: skip
    c = Sampler(params, make_rng(0)).candidates(x, np.zeros(0, dtype=np.int32))
    # reference: top-n-sigma, top-k, typical, top-p, min-p, xtc, temperature
    y = top_n_sigma(x, 2.0)
    ids = np.argsort(-y, kind="stable")[:60]
    ids = ids[np.isfinite(y[ids])]
    keep = typical(Candidates(ids, y[ids]), 0.99).ids  # checked against its own reference above
    ids = np.array([i for i in ids if i in set(keep.tolist())])
    sub = y[ids]
    ids = ids[sorted(ref_top_p(sub, 0.97))]
    q = ref_probs(y[ids])
    ids = ids[q >= 0.02 * q.max() * (1 - 1e-6)]
    ids = np.array(sorted(ref_xtc_ids(y, ids, 0.05)))
    assert set(c.ids.tolist()) == set(ids.tolist())
    np.testing.assert_allclose(np.sort(c.logits), np.sort(y[ids] / np.float32(0.8)), rtol=1e-6)


def ref_xtc_ids(y: np.ndarray, ids: np.ndarray, threshold: float) -> list[int]:
    kept = ref_xtc(y[ids], threshold, 1)
    return [int(ids[i]) for i in kept]


def test_new_params_validation():
    for kwargs, match in [
        ({"mirostat": 3}, "mirostat"),
        ({"mirostat_tau": -1.0}, "mirostat_tau"),
        ({"xtc_probability": 1.5}, "xtc_probability"),
        ({"xtc_threshold": -0.1}, "xtc_threshold"),
        ({"dry_multiplier": -1.0}, "dry_multiplier"),
        ({"dry_base": 0.5}, "dry_base"),
        ({"dry_allowed_length": -1}, "dry_allowed_length"),
        ({"dry_penalty_last_n": -2}, "dry_penalty_last_n"),
        ({"top_n_sigma": float("nan")}, "top_n_sigma"),
        ({"min_keep": -1}, "min_keep"),
        ({"samplers": "top_k;nope"}, "nope"),
    ]:
        with pytest.raises(ValueError, match=match):
            SamplingParams(**kwargs)
    with pytest.raises(TypeError, match="dry_sequence_breakers"):
        SamplingParams(dry_sequence_breakers="\n")


def test_top_k_row_spiky_and_masked_rows():
    """Rows where one token towers over a wide spread, and rows a constraint masked to a few tokens."""
    rng = np.random.default_rng(16)
    for n, k in [(262144, 40), (49152, 40), (49152, 1000), (5000, 7)]:
        x = (rng.standard_normal(n) * 2).astype(np.float32)
        x[123] += 30.0
        want = np.argsort(-x, kind="stable")[:k]
        assert set(top_k_row(x, k).ids.tolist()) == set(want.tolist())
        masked = np.full(n, -np.inf, dtype=np.float32)
        allowed = rng.choice(n, size=5, replace=False)
        masked[allowed] = x[allowed]
        got = top_k_row(masked, k)
        assert set(got.ids.tolist()) == set(allowed.tolist())  # k >= 5: the allowed ones, no -inf filler
        assert np.all(np.diff(got.logits) <= 0)


@pytest.mark.parametrize("mu", [15.5, 15.9])  # k of about 10k, and the whole vocabulary
def test_mirostat_v1_with_thousands_of_candidates(mu):
    x = logits(50000, seed=3, scale=1.0)
    ref = ref_mirostat_v1_probs(x, mu)
    assert len(ref) > 4096
    rng = make_rng(8)
    draws = []
    for _ in range(2000):
        tok, new_mu = mirostat_v1(x, mu, 5.0, 0.1, rng)
        assert tok in ref and new_mu == pytest.approx(mu - 0.1 * (-np.log2(ref[tok]) - 5.0), rel=1e-4)
        draws.append(tok)
    # the draws' mean surprise matches the distribution's entropy in bits (a distribution-level check on a set too
    # large to count token by token)
    p = np.array(list(ref.values()))
    entropy = float(-(p * np.log2(p)).sum())
    surprise = np.mean([-np.log2(ref[t]) for t in draws])
    assert abs(surprise - entropy) < 0.1, (surprise, entropy)
