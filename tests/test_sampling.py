"""Samplers against straightforward numpy references (full sorts, plain loops), the chain's order and seeding, the
distribution of draws, and the text stream's stop-string holdback."""

from __future__ import annotations

import numpy as np
import pytest

from llamacore.sampling import (
    Candidates,
    Sampler,
    SamplingParams,
    greedy,
    log_softmax,
    make_rng,
    min_p,
    penalties,
    sample_dist,
    softmax,
    temperature,
    top_k,
    top_k_row,
    top_p,
    typical,
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
