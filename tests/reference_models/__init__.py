"""Float64 numpy implementations of every architecture llamacore runs: the ground truth the runtime is tested against.

Each module reads its hyperparameters straight from GGUF metadata and its weights through a WeightSource
(dequantized with the `gguf` package's numpy reference, then widened to float64), so nothing here shares code with
llamacore's runtime. `load(path)` picks the module named after general.architecture.

    model = reference_models.load(path)
    h = model.hidden(tokens)          # [n_tokens, n_embd] float64, after the final norm (positions 0..n-1)
    lp = model.log_probs(h)           # [n_tokens, n_vocab] log-softmax (float32 storage, computed in float64)
"""

from __future__ import annotations

import importlib

from .weights import WeightSource

ALIASES = {"mistral": "llama"}


def load(path, weights: WeightSource | None = None):
    w = weights if weights is not None else WeightSource.open(path)
    arch = w.metadata["general.architecture"]
    module = importlib.import_module(f"{__name__}.{ALIASES.get(arch, arch)}")
    return module.Model(w)


__all__ = ["WeightSource", "load"]
