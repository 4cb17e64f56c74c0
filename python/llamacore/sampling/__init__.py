"""Token sampling: small composable samplers (samplers.py) and the chain llama.cpp runs by default (chain.py)."""

from .chain import LLAMA_DEFAULT_SEED, Sampler, SamplingParams, make_rng
from .samplers import (
    Candidates,
    greedy,
    log_softmax,
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

__all__ = [
    "LLAMA_DEFAULT_SEED",
    "Candidates",
    "Sampler",
    "SamplingParams",
    "greedy",
    "log_softmax",
    "make_rng",
    "min_p",
    "penalties",
    "sample_dist",
    "softmax",
    "temperature",
    "top_k",
    "top_k_row",
    "top_p",
    "typical",
]
