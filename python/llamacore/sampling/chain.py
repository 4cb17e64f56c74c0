"""The sampler chain llama-cpp-python builds for each completion, in llama.cpp's default order:

    logits processors / logit_bias -> penalties -> (temp == 0: greedy |
    otherwise: top_k -> typical_p -> top_p -> min_p -> temperature -> seeded draw)

(llama-cpp-python also takes temp < 0 as "draw from the untruncated softmax"; here a negative temperature is an
error, as it is in the OpenAI API.)

`Sampler(params, seed).sample(row, recent)` picks one token from a logits row float32[n_vocab]; `recent` is the tail
of the context (int32[<= penalty_last_n]) the penalties look at.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from . import samplers as S

LLAMA_DEFAULT_SEED = 0xFFFFFFFF  # llama.cpp's "pick a random seed"


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings with llama.cpp's defaults (common_params_sampling)."""

    temp: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    typical_p: float = 1.0
    repeat_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    penalty_last_n: int = 64
    logit_bias: Mapping[int, float] | None = field(default=None)
    min_keep: int = 1

    def __post_init__(self):
        check(self)


def check(p: SamplingParams) -> None:
    """Raise ValueError naming the first setting that is out of range."""
    if not np.isfinite(p.temp):
        raise ValueError(f"temperature must be a finite number, got {p.temp}")
    if p.temp < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {p.temp}")
    if not 0.0 <= p.top_p <= 1.0:
        raise ValueError(f"top_p must be in [0, 1], got {p.top_p}")
    if not 0.0 <= p.min_p <= 1.0:
        raise ValueError(f"min_p must be in [0, 1], got {p.min_p}")
    if not 0.0 <= p.typical_p <= 1.0:
        raise ValueError(f"typical_p must be in [0, 1], got {p.typical_p}")
    if p.repeat_penalty <= 0 or not np.isfinite(p.repeat_penalty):
        raise ValueError(f"repeat_penalty must be > 0 (1.0 = off), got {p.repeat_penalty}")
    for name in ("frequency_penalty", "presence_penalty"):
        if not np.isfinite(getattr(p, name)):
            raise ValueError(f"{name} must be a finite number, got {getattr(p, name)}")
    if p.penalty_last_n < -1:
        raise ValueError(f"penalty_last_n must be >= -1 (-1 = whole context), got {p.penalty_last_n}")
    if p.min_keep < 1:
        raise ValueError(f"min_keep must be >= 1, got {p.min_keep}")


def make_rng(seed: int | None) -> np.random.Generator:
    """A generator for `seed`; None or LLAMA_DEFAULT_SEED (or -1) draw a fresh seed from the OS."""
    if seed is None or seed == LLAMA_DEFAULT_SEED or seed == -1:
        return np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"seed must be in [0, 2**64) (or -1 for a random seed), got {seed}")
    return np.random.default_rng(seed)


LogitsProcessor = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (input_ids, scores) -> scores


class Sampler:
    """One completion's sampler: the settings plus the random stream that the seed fixes."""

    def __init__(self, params: SamplingParams, rng: np.random.Generator):
        self.params = params
        self.rng = rng

    def recent_window(self, context: np.ndarray) -> np.ndarray:
        """The tail of the context the penalties look at."""
        n = self.params.penalty_last_n
        if n == 0:
            return context[:0]
        return context if n < 0 else context[-n:]

    def apply_penalties(
        self, row: np.ndarray, context: np.ndarray, processors: list[LogitsProcessor] | None = None
    ) -> np.ndarray:
        """Logits processors, logit_bias and penalties: every step that sees the whole row."""
        p = self.params
        if processors:
            for proc in processors:
                row = np.asarray(proc(context, row), dtype=np.float32)
        if p.logit_bias:
            row = row.copy()
            ids = np.fromiter(p.logit_bias.keys(), dtype=np.int64)
            if ids.size and (ids.min() < 0 or ids.max() >= row.shape[0]):
                raise ValueError(f"logit_bias names a token outside the vocabulary (0..{row.shape[0] - 1})")
            row[ids] += np.fromiter(p.logit_bias.values(), dtype=np.float32)
        return S.penalties(row, self.recent_window(context), p.repeat_penalty, p.frequency_penalty, p.presence_penalty)

    def sample(self, row: np.ndarray, context: np.ndarray, processors: list[LogitsProcessor] | None = None) -> int:
        """One token id from a logits row float32[n_vocab], given the context so far (int32[n_tokens])."""
        p = self.params
        row = self.apply_penalties(row, context, processors)
        if p.temp == 0.0:
            return S.greedy(row)
        c = S.top_k_row(row, p.top_k) if p.top_k > 0 else S.Candidates.from_row(row)
        c = S.typical(c, p.typical_p, p.min_keep)
        c = S.top_p(c, p.top_p, p.min_keep)
        c = S.min_p(c, p.min_p, p.min_keep)
        c = S.temperature(c, p.temp)
        return S.sample_dist(c, self.rng)
