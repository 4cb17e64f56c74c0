"""One module per architecture, named after general.architecture, each declaring ARCH (see spec.py); the registry
below collects them, with their aliases (mistral -> llama).

    graph, hp = models.build_graph(gguf_file, n_ctx=4096)

Adding an architecture is adding one file here; see README.md for the checklist.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import GGUFError
from ..graph import Graph
from .base import Weights
from .spec import Architecture, HParam, Params, TensorSpec

_SHARED = {"base", "spec"}  # modules that are not architectures


def _collect() -> dict[str, Architecture]:
    found = {}
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if m.name not in _SHARED:
            arch = importlib.import_module(f"{__name__}.{m.name}").ARCH
            if arch.name != m.name:
                raise ImportError(f"models/{m.name}.py declares architecture {arch.name!r}: name them alike")
            found[arch.name] = arch
    return found


ARCHITECTURES: dict[str, Architecture] = _collect()
ALIASES: dict[str, str] = {alias: a.name for a in ARCHITECTURES.values() for alias in a.aliases}


def supported() -> list[str]:
    """Every general.architecture value llamacore loads (names and aliases), sorted."""
    return sorted([*ARCHITECTURES, *ALIASES])


def lookup(arch: str) -> Architecture:
    """The declaration for general.architecture `arch` (GGUFError listing the supported ones if there is none)."""
    found = ARCHITECTURES.get(ALIASES.get(arch, arch))
    if found is None:
        raise GGUFError(f"architecture '{arch}' is not supported by llamacore (supported: {', '.join(supported())})")
    return found


def build_graph(gguf, *, n_ctx: int = 0) -> tuple[Graph, Params]:
    """Records the forward graph of the model in an open GGUFFile; returns it with the hyperparameters.

    n_ctx: the context the model will run with (0: its training context); phi3's LongRoPE depends on it.
    GGUFError when the architecture is unsupported, or the file lacks a required key or tensor, or a tensor's
    shape differs from the declaration."""
    arch = gguf.metadata.get("general.architecture")
    if not isinstance(arch, str):
        raise GGUFError("model metadata lacks general.architecture")
    spec = lookup(arch)
    hp = spec.read_params(gguf.metadata, gguf.tensors)
    spec.check_tensors(hp, gguf.tensors)
    g = Graph()
    spec.build(g, hp, Weights(g, gguf.tensors, spec), n_ctx)
    return g, hp


__all__ = [
    "ALIASES",
    "ARCHITECTURES",
    "Architecture",
    "HParam",
    "Params",
    "TensorSpec",
    "Weights",
    "build_graph",
    "lookup",
    "supported",
]
