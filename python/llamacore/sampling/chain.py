"""The sampler chain, in llama.cpp's order (common/sampling.cpp) with llama-cpp-python's entry points:

    logits processors -> logit_bias -> constraint mask -> then one of
      temp == 0:      the penalty steps of the chain (penalties, dry) -> greedy
      mirostat 1/2:   penalties -> temperature -> mirostat (its own truncation and draw)
      otherwise:      the chain named by `samplers` (default "penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;
                      temperature") -> seeded draw

(llama-cpp-python also takes temp < 0 as "draw from the untruncated softmax"; here a negative temperature is an
error, as it is in the OpenAI API.)

`Sampler(params, rng).sample(row, context)` picks one token from a logits row float32[n_vocab]; `context` is the
sequence so far (int32[n_tokens], prompt included), whose tail the penalties and DRY look at. A Sampler belongs to
one sequence: mirostat's mu lives in it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import samplers as S
from .dry import DEFAULT_BREAKERS, Breakers, dry

LLAMA_DEFAULT_SEED = 0xFFFFFFFF  # llama.cpp's "pick a random seed"

# llama.cpp's --samplers names (common_sampler_types_from_names): canonical names, their kebab-case and no-dash
# spellings, and a few aliases. "infill" is llama.cpp's fill-in-the-middle sampler, not implemented here.
DEFAULT_SAMPLERS = ("penalties", "dry", "top_n_sigma", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature")
_CANONICAL = DEFAULT_SAMPLERS
SAMPLER_NAMES: dict[str, str] = {"nucleus": "top_p", "temp": "temperature", "typ": "typ_p"}
for _name in _CANONICAL:
    SAMPLER_NAMES[_name] = _name
    SAMPLER_NAMES[_name.replace("_", "-")] = _name
    SAMPLER_NAMES[_name.replace("_", "")] = _name


def parse_samplers(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """llama.cpp's sampler order: "penalties;top_k;temperature" (';' or ',' separated) or a list of names."""
    if spec is None:
        return DEFAULT_SAMPLERS
    if isinstance(spec, str):
        names = [s for s in spec.replace(",", ";").split(";") if s.strip()]
    elif isinstance(spec, Sequence) and all(isinstance(s, str) for s in spec):
        names = list(spec)
    else:
        raise TypeError(f"samplers must be a string like 'top_k;top_p;temperature' or a list of names, got {spec!r}")
    out = []
    for name in names:
        canonical = SAMPLER_NAMES.get(name.strip().lower())
        if canonical is None:
            raise ValueError(f"unknown sampler {name.strip()!r}: use {', '.join(_CANONICAL)}")
        out.append(canonical)
    return tuple(out)


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
    top_n_sigma: float = -1.0
    xtc_probability: float = 0.0
    xtc_threshold: float = 0.1
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    dry_penalty_last_n: int = -1
    dry_sequence_breakers: tuple[str, ...] = DEFAULT_BREAKERS
    mirostat: int = 0
    mirostat_tau: float = 5.0
    mirostat_eta: float = 0.1
    samplers: tuple[str, ...] = DEFAULT_SAMPLERS

    def __post_init__(self):
        object.__setattr__(self, "samplers", parse_samplers(self.samplers))
        if isinstance(self.dry_sequence_breakers, str) or not all(
            isinstance(s, str) for s in self.dry_sequence_breakers
        ):
            raise TypeError("dry_sequence_breakers must be a list of strings")
        object.__setattr__(self, "dry_sequence_breakers", tuple(self.dry_sequence_breakers))
        check(self)

    @property
    def dry_enabled(self) -> bool:
        return self.dry_multiplier != 0.0 and self.dry_penalty_last_n != 0 and "dry" in self.samplers


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
    for name in ("frequency_penalty", "presence_penalty", "top_n_sigma", "dry_multiplier"):
        if not np.isfinite(getattr(p, name)):
            raise ValueError(f"{name} must be a finite number, got {getattr(p, name)}")
    if p.penalty_last_n < -1:
        raise ValueError(f"penalty_last_n must be >= -1 (-1 = whole context), got {p.penalty_last_n}")
    if p.min_keep < 0:
        raise ValueError(f"min_keep must be >= 0, got {p.min_keep}")
    if not 0.0 <= p.xtc_probability <= 1.0:
        raise ValueError(f"xtc_probability must be in [0, 1], got {p.xtc_probability}")
    if not 0.0 <= p.xtc_threshold <= 1.0:
        raise ValueError(f"xtc_threshold must be in [0, 1] (> 0.5 disables XTC), got {p.xtc_threshold}")
    if p.dry_multiplier < 0:
        raise ValueError(f"dry_multiplier must be >= 0 (0 = off), got {p.dry_multiplier}")
    if not (np.isfinite(p.dry_base) and p.dry_base >= 1.0):
        raise ValueError(f"dry_base must be >= 1, got {p.dry_base}")
    if p.dry_allowed_length < 0:
        raise ValueError(f"dry_allowed_length must be >= 0, got {p.dry_allowed_length}")
    if p.dry_penalty_last_n < -1:
        raise ValueError(f"dry_penalty_last_n must be >= -1 (-1 = whole context), got {p.dry_penalty_last_n}")
    if p.mirostat not in (0, 1, 2):
        raise ValueError(f"mirostat_mode must be 0 (off), 1 or 2, got {p.mirostat}")
    for name in ("mirostat_tau", "mirostat_eta"):
        v = getattr(p, name)
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")


def make_rng(seed: int | None) -> np.random.Generator:
    """A generator for `seed`; None or LLAMA_DEFAULT_SEED (or -1) draw a fresh seed from the OS."""
    if seed is None or seed == LLAMA_DEFAULT_SEED or seed == -1:
        return np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"seed must be in [0, 2**64) (or -1 for a random seed), got {seed}")
    return np.random.default_rng(seed)


LogitsProcessor = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (input_ids, scores) -> scores


class Sampler:
    """One sequence's sampler: the settings, the random stream that the seed fixes, and mirostat's state.

    tokenizer: needed only for DRY's sequence breakers (their text is matched against token texts)."""

    def __init__(self, params: SamplingParams, rng: np.random.Generator, tokenizer=None):
        self.params = params
        self.rng = rng
        self.mu = 2.0 * params.mirostat_tau  # mirostat: the surprise bound, moved after every draw
        self.breakers: Breakers | None = None
        if params.dry_enabled:
            if params.dry_sequence_breakers and tokenizer is None:
                raise ValueError("DRY with sequence breakers needs the model's tokenizer")
            self.breakers = (
                Breakers.build(tokenizer, params.dry_sequence_breakers)
                if params.dry_sequence_breakers
                else Breakers({}, frozenset())
            )

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
        row = self.apply_processors(row, context, processors)
        return self._penalties(row, None, context)

    def apply_processors(
        self, row: np.ndarray, context: np.ndarray, processors: list[LogitsProcessor] | None = None
    ) -> np.ndarray:
        """Logits processors then logit_bias (always first, whatever the order of the chain)."""
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
        return row

    def _penalties(self, logits: np.ndarray, ids: np.ndarray | None, context: np.ndarray) -> np.ndarray:
        p = self.params
        recent = self.recent_window(context)
        if ids is None:
            return S.penalties(logits, recent, p.repeat_penalty, p.frequency_penalty, p.presence_penalty)
        return S.penalties_at(logits, ids, recent, p.repeat_penalty, p.frequency_penalty, p.presence_penalty)

    def _dry(self, logits: np.ndarray, ids: np.ndarray | None, context: np.ndarray) -> np.ndarray:
        p = self.params
        if self.breakers is None:
            return logits
        return dry(logits, ids, context, self.breakers, p.dry_multiplier, p.dry_base, p.dry_allowed_length,
                   p.dry_penalty_last_n)  # fmt: skip

    def sample(
        self,
        row: np.ndarray,
        context: np.ndarray,
        processors: list[LogitsProcessor] | None = None,
        allowed: np.ndarray | None = None,
    ) -> int:
        """One token id from a logits row float32[n_vocab], given the context so far (int32[n_tokens]).
        allowed: bool[n_vocab] (a constraint's mask) or None."""
        p = self.params
        row = self.apply_processors(row, context, processors)
        if allowed is not None:
            if not allowed.any():
                raise ValueError("the constraint allows no token here")
            row = np.where(allowed, row, np.float32(-np.inf))
        if p.temp == 0.0:
            for name in p.samplers:
                if name == "penalties":
                    row = self._penalties(row, None, context)
                elif name == "dry":
                    row = self._dry(row, None, context)
            return S.greedy(row)
        if p.mirostat:
            row = self._penalties(row, None, context)
            row = row / np.float32(p.temp) if p.temp != 1.0 else row
            mirostat = S.mirostat_v1 if p.mirostat == 1 else S.mirostat_v2
            token, self.mu = mirostat(row, self.mu, p.mirostat_tau, p.mirostat_eta, self.rng)
            return token
        return S.sample_dist(self.candidates(row, context), self.rng)

    def candidates(self, row: np.ndarray, context: np.ndarray) -> S.Candidates:
        """The chain from `samplers` over a row (after processors and bias): the candidates the draw picks from."""
        p = self.params
        logits, ids = row, None  # ids None: the whole row, token id = index (a 262k row is not copied into pairs)
        for name in p.samplers:
            if name == "penalties":
                logits = self._penalties(logits, ids, context)
            elif name == "dry":
                logits = self._dry(logits, ids, context)
            elif name == "top_n_sigma":
                logits = S.top_n_sigma(logits, p.top_n_sigma)
            elif name == "top_k" and ids is None:
                c = S.top_k_row(logits, p.top_k)
                logits, ids = c.logits, c.ids
            else:
                c = S.Candidates.from_row(logits) if ids is None else S.Candidates(ids, logits)
                if name == "top_k":
                    c = S.top_k(c, p.top_k)
                elif name == "typ_p":
                    c = S.typical(c, p.typical_p, max(p.min_keep, 1))
                elif name == "top_p":
                    c = S.top_p(c, p.top_p, max(p.min_keep, 1))
                elif name == "min_p":
                    c = S.min_p(c, p.min_p, max(p.min_keep, 1))
                elif name == "xtc":
                    c = S.xtc(c, p.xtc_probability, p.xtc_threshold, p.min_keep, self.rng)
                elif name == "temperature":
                    c = S.temperature(c, p.temp)
                logits, ids = c.logits, c.ids
        return S.Candidates.from_row(logits) if ids is None else S.Candidates(ids, logits)
