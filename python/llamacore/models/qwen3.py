"""Qwen3 (dense): Qwen2's layer without q/k/v biases, with each q and k head rms-normed before rope."""

from __future__ import annotations

from ..graph import Graph
from . import qwen2
from .base import ATTENTION, EMBEDDING, FFN, OUTPUT, QK_NORM, ROPE_NEOX, Weights
from .spec import Architecture, Params


def build(g: Graph, hp: Params, w: Weights, n_ctx: int) -> None:
    qwen2.decoder(g, hp, w, qk_norm=True)


ARCH = Architecture(
    name="qwen3",
    build=build,
    rope_mode=ROPE_NEOX,
    tensors=(EMBEDDING, *OUTPUT),
    layer=(*ATTENTION, *QK_NORM, *FFN),
)
