"""One module per architecture, named after general.architecture; ALIASES maps other names onto them.

    graph, hp = models.build_graph(gguf_file, n_ctx=4096)

Each module defines Params (hyperparameters, `Params.from_gguf(metadata, tensors)`) and `build(g, hp, w)`, which
records one batch's forward pass on a llamacore.graph.Graph. Adding an architecture = adding a module here.
"""

from __future__ import annotations

import importlib
import inspect

from ..errors import GGUFError
from ..graph import Graph
from .base import ModelParams, Weights

ARCHITECTURES = ("llama", "gemma3", "qwen2", "qwen3", "phi3")
ALIASES = {"mistral": "llama"}


def module_for(arch: str):
    """The module implementing general.architecture `arch` (GGUFError if llamacore does not support it)."""
    name = ALIASES.get(arch, arch)
    if name not in ARCHITECTURES:
        supported = ", ".join(sorted(ARCHITECTURES + tuple(ALIASES)))
        raise GGUFError(f"architecture '{arch}' is not supported by llamacore (supported: {supported})")
    return importlib.import_module(f"{__name__}.{name}")


def build_graph(gguf, *, n_ctx: int = 0) -> tuple[Graph, ModelParams]:
    """Records the forward graph of the model in an open GGUFFile; returns it with the hyperparameters."""
    arch = gguf.metadata.get("general.architecture")
    if not isinstance(arch, str):
        raise GGUFError("model metadata lacks general.architecture")
    mod = module_for(arch)
    hp = mod.Params.from_gguf(gguf.metadata, gguf.tensors)
    g = Graph()
    w = Weights(g, gguf.tensors)
    if "n_ctx" in inspect.signature(mod.build).parameters:
        mod.build(g, hp, w, n_ctx=n_ctx)
    else:
        mod.build(g, hp, w)
    return g, hp


__all__ = ["ALIASES", "ARCHITECTURES", "ModelParams", "Weights", "build_graph", "module_for"]
