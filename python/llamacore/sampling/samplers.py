"""Samplers as small pure functions over a set of candidate tokens, as llama.cpp defines them (src/llama-sampling.cpp).

A candidate set is `Candidates(ids, logits)`: ids int64[n] (token ids), logits float32[n] (their scores). Every
function returns a new, usually smaller, set and never changes its input. Only the first step (`top_k_row`) sees the
whole vocabulary; it uses a threshold pre-filter and argpartition, so a 262k-token row is never sorted. The later
steps work on the few candidates that are left.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Candidates(NamedTuple):
    ids: np.ndarray  # int64[n]
    logits: np.ndarray  # float32[n]

    @staticmethod
    def from_row(row: np.ndarray) -> Candidates:
        """All tokens of a logits row float32[n_vocab]."""
        return Candidates(np.arange(row.shape[0], dtype=np.int64), row)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities of logits (float64 for stable cumulative sums); -inf logits get probability 0."""
    z = logits.astype(np.float64) - np.max(logits)
    e = np.exp(z)
    return e / e.sum()


def log_softmax(row: np.ndarray) -> np.ndarray:
    """log-probabilities of a logits row, float32[n] (llama-cpp-python's Llama.logits_to_logprobs)."""
    m = np.max(row)
    shifted = row - m
    return (shifted - np.log(np.sum(np.exp(shifted, dtype=np.float32), dtype=np.float64))).astype(np.float32)


def _sorted_desc(c: Candidates) -> Candidates:
    order = np.argsort(-c.logits, kind="stable")
    return Candidates(c.ids[order], c.logits[order])


def top_k_row(row: np.ndarray, k: int) -> Candidates:
    """The k highest logits of a full row float32[n_vocab], sorted descending; k <= 0 keeps all tokens (unsorted).

    Exact without sorting or partitioning the whole row: the k-th largest value of a strided subsample is at most
    the row's k-th largest, so the tokens at or above it include the top k. The subsample (~4096 values) sets the
    threshold, one compare pass finds the few thousand tokens above it, and argpartition runs on those only.
    Masked rows (-inf for disallowed tokens, as a grammar leaves them) go straight to their finite entries, and keep
    only those when fewer than k are finite."""
    n = row.shape[0]
    if k <= 0:
        return Candidates.from_row(row)
    if k >= n:
        return _sorted_desc(Candidates.from_row(row))
    stride = max(1, min(n // k, 4096 // k))
    sample = row[::stride]
    thr = np.partition(sample, sample.shape[0] - k)[sample.shape[0] - k]  # k-th largest of the subsample
    if thr == -np.inf:  # mostly masked: the finite tokens (-inf ones have probability 0: leaving them out of a
        ids = np.flatnonzero(row > -np.inf)  # short list changes no draw)
        if ids.shape[0] == 0:
            ids = np.arange(n, dtype=np.int64)
    else:
        ids = np.flatnonzero(row >= thr)
        if ids.shape[0] < k:  # only when the row holds NaN
            ids = np.arange(n, dtype=np.int64)
    sub = row[ids]
    if sub.shape[0] > k:
        part = np.argpartition(-sub, k - 1)[:k]
        ids, sub = ids[part], sub[part]
    return _sorted_desc(Candidates(ids.astype(np.int64), sub))


def top_k(c: Candidates, k: int, min_keep: int = 1) -> Candidates:
    """Keep the k highest logits (at least min_keep); k <= 0 disables it."""
    if k <= 0:
        return c
    k = min(max(k, min_keep), c.ids.shape[0])
    if k < c.ids.shape[0]:
        part = np.argpartition(-c.logits, k - 1)[:k]
        c = Candidates(c.ids[part], c.logits[part])
    return _sorted_desc(c)


def top_p(c: Candidates, p: float, min_keep: int = 1) -> Candidates:
    """Nucleus: the smallest head of the sorted distribution whose probability reaches p (at least min_keep)."""
    if p >= 1.0:
        return c
    n = c.ids.shape[0]
    probs = softmax(c.logits)
    # Sort only as much of the head as needed: the cumulative sum of the m largest probabilities is a prefix of
    # the fully sorted one, so once it reaches p the cut is exact (a 262k-token vocabulary is never fully sorted).
    m = min(n, 256)
    while True:
        head = np.argpartition(-probs, m - 1)[:m] if m < n else np.arange(n)
        head = head[np.argsort(-probs[head], kind="stable")]
        cum = np.cumsum(probs[head])
        if cum[-1] >= p or m == n:
            break
        m = min(n, m * 16)
    # first index whose cumulative probability reaches p (llama.cpp: cum_sum >= p && i + 1 >= min_keep)
    last = int(np.searchsorted(cum, p, side="left")) + 1
    last = min(max(last, min_keep), m)
    keep = head[:last]
    return Candidates(c.ids[keep], c.logits[keep])


def min_p(c: Candidates, p: float, min_keep: int = 1) -> Candidates:
    """Keep tokens whose probability is at least p times the most likely one's: logit >= max + log(p)."""
    if p <= 0.0 or c.ids.shape[0] == 0:
        return c
    keep = c.logits >= np.max(c.logits) + np.log(p)
    if int(np.count_nonzero(keep)) < min_keep:
        return c
    return Candidates(c.ids[keep], c.logits[keep])


def typical(c: Candidates, p: float, min_keep: int = 1) -> Candidates:
    """Locally typical sampling: keep the tokens whose surprise is closest to the entropy until their mass exceeds p."""
    if p >= 1.0:
        return c
    probs = softmax(c.logits)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(probs)
        entropy = -np.nansum(probs * logp)
    shifted = np.abs(-logp - entropy)
    order = np.argsort(shifted, kind="stable")
    cum = np.cumsum(probs[order])
    # llama.cpp: first i with cum_sum > p and i >= min_keep - 1
    last = int(np.searchsorted(cum, p, side="right")) + 1
    last = min(max(last, min_keep), c.ids.shape[0])
    keep = order[:last]
    return Candidates(c.ids[keep], c.logits[keep])


def temperature(c: Candidates, t: float) -> Candidates:
    """Divide logits by t; t <= 0 keeps only the most likely token."""
    if t <= 0.0:
        i = int(np.argmax(c.logits))
        return Candidates(c.ids[i : i + 1], c.logits[i : i + 1])
    if t == 1.0:
        return c
    return Candidates(c.ids, (c.logits / np.float32(t)).astype(np.float32))


def penalties(
    row: np.ndarray, recent: np.ndarray, repeat: float = 1.0, frequency: float = 0.0, presence: float = 0.0
) -> np.ndarray:
    """llama.cpp's penalties on a full logits row float32[n_vocab] for the tokens in `recent` (the last n of the
    context): repeat divides positive logits and multiplies negative ones (once per distinct token), frequency
    subtracts count * frequency, presence subtracts presence once. Returns a new row; touches only those tokens."""
    if (repeat == 1.0 and frequency == 0.0 and presence == 0.0) or recent.shape[0] == 0:
        return row
    recent = recent[(recent >= 0) & (recent < row.shape[0])]
    ids, counts = np.unique(recent, return_counts=True)
    out = row.copy()
    vals = out[ids]
    vals = np.where(vals <= 0, vals * repeat, vals / repeat)
    vals = vals - counts * frequency - presence
    out[ids] = vals.astype(np.float32)
    return out


def penalties_at(
    logits: np.ndarray, ids: np.ndarray, recent: np.ndarray, repeat: float = 1.0, frequency: float = 0.0,
    presence: float = 0.0,
) -> np.ndarray:  # fmt: skip
    """`penalties` on candidates: logits float32[m] of token ids int64[m] (a chain whose order puts the penalties
    after a truncation). Returns a new array, or the input when nothing applies."""
    if (repeat == 1.0 and frequency == 0.0 and presence == 0.0) or recent.shape[0] == 0:
        return logits
    toks, counts = np.unique(recent, return_counts=True)
    pos = np.minimum(np.searchsorted(toks, ids), toks.shape[0] - 1)
    hit = toks[pos] == ids
    if not hit.any():
        return logits
    out = logits.copy()
    vals = out[hit]
    vals = np.where(vals <= 0, vals * repeat, vals / repeat) - counts[pos[hit]] * frequency - presence
    out[hit] = vals.astype(np.float32)
    return out


def greedy(row: np.ndarray) -> int:
    """The most likely token of a logits row (the first one on ties, as llama.cpp)."""
    return int(np.argmax(row))


def sample_dist(c: Candidates, rng: np.random.Generator) -> int:
    """Draw one token from softmax(logits) of the candidates."""
    if c.ids.shape[0] == 1:
        return int(c.ids[0])
    cum = np.cumsum(softmax(c.logits))
    u = rng.random() * cum[-1]
    i = min(int(np.searchsorted(cum, u, side="right")), c.ids.shape[0] - 1)
    return int(c.ids[i])


def logsumexp(logits: np.ndarray) -> float:
    """log(sum(exp(logits))), summed in float64; -inf entries count as zero."""
    m = np.max(logits)
    return float(m) + float(np.log(np.sum(np.exp(logits - m), dtype=np.float64)))  # exp in float32: one fast pass


def top_n_sigma(logits: np.ndarray, n: float) -> np.ndarray:
    """llama.cpp's top-n-sigma on logits float32[m] (a row or candidates): logits below max - n * std become -inf,
    mean and std taken over the finite ones. n <= 0 disables it. Returns a new array (or the input, unchanged)."""
    if n <= 0.0 or logits.shape[0] <= 1:
        return logits
    valid = logits[logits != -np.inf]
    if valid.shape[0] == 0:
        return logits
    mean = float(np.mean(valid, dtype=np.float64))
    std = float(np.sqrt(np.mean((valid.astype(np.float64) - mean) ** 2)))
    cut = float(np.max(valid)) - n * std
    return np.where(logits < cut, np.float32(-np.inf), logits).astype(np.float32, copy=False)


def xtc(c: Candidates, probability: float, threshold: float, min_keep: int, rng: np.random.Generator) -> Candidates:
    """Exclude Top Choices: with the given probability, drop every token whose probability is >= threshold except the
    least likely of them (nothing happens when fewer than two reach it, or fewer than min_keep would be left).
    Disabled when probability <= 0 or threshold > 0.5 (two tokens cannot both pass it)."""
    n = c.ids.shape[0]
    if probability <= 0.0 or threshold > 0.5 or n < 2:
        return c
    if rng.random() > probability:
        return c
    above = np.flatnonzero(c.logits >= logsumexp(c.logits) + np.log(threshold))  # p >= threshold
    if above.shape[0] < 2 or n - (above.shape[0] - 1) < min_keep:
        return c
    # keep the least likely of the top choices (the first of equal logits in candidate order, as a stable sort)
    last = above[np.lexsort((-above, c.logits[above]))[0]]
    keep = np.ones(n, dtype=bool)
    keep[above] = False
    keep[last] = True
    return Candidates(c.ids[keep], c.logits[keep])


def mirostat_v1(
    row: np.ndarray, mu: float, tau: float, eta: float, rng: np.random.Generator, m: int = 100
) -> tuple[int, float]:
    """Mirostat 1.0 on a full logits row float32[n_vocab]: estimate the Zipf exponent s from the m most likely
    tokens, keep the top k that makes the expected surprise 2^mu, draw, and move mu towards tau.
    Returns (token, new mu)."""
    n_vocab = row.shape[0]
    head = top_k_row(row, min(m, n_vocab))  # sorted descending
    t = np.log(np.arange(2, head.ids.shape[0] + 1, dtype=np.float64) / np.arange(1, head.ids.shape[0]))
    b = head.logits[:-1].astype(np.float64) - head.logits[1:]  # log(p_i / p_{i+1})
    s_hat = float(np.sum(t * b) / np.sum(t * t)) if t.shape[0] else 1.0
    eps = s_hat - 1.0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        k = float((eps * 2.0**mu) / (1.0 - float(n_vocab) ** (-eps))) ** (1.0 / s_hat)
    k = max(1, min(int(k) if np.isfinite(k) else n_vocab, n_vocab))
    if k <= 4096:
        c = top_k_row(row, k)
    else:  # the draw needs the k best, not their order: skip sorting thousands of candidates
        ids = np.arange(n_vocab, dtype=np.int64) if k == n_vocab else np.argpartition(-row, k - 1)[:k]
        c = Candidates(ids, row[ids])
    token, p = _draw_with_prob(c, rng)
    return token, mu - eta * (-np.log2(p) - tau)


def mirostat_v2(row: np.ndarray, mu: float, tau: float, eta: float, rng: np.random.Generator) -> tuple[int, float]:
    """Mirostat 2.0 on a full logits row: drop tokens whose surprise -log2(p) exceeds mu (keeping at least the most
    likely), draw from the rest renormalised, and move mu towards tau. Returns (token, new mu)."""
    # -log2(p) > mu  <=>  logit < logsumexp - mu * ln 2
    keep = np.flatnonzero(row >= logsumexp(row) - mu * np.log(2.0))
    if keep.shape[0] == 0:
        keep = np.array([int(np.argmax(row))])
    c = Candidates(keep.astype(np.int64), row[keep])
    token, p = _draw_with_prob(c, rng)
    return token, mu - eta * (-np.log2(p) - tau)


def _draw_with_prob(c: Candidates, rng: np.random.Generator) -> tuple[int, float]:
    """A draw from softmax(logits) and the probability it had."""
    probs = softmax(c.logits)
    cum = np.cumsum(probs)
    i = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), c.ids.shape[0] - 1)
    return int(c.ids[i]), float(probs[i])
