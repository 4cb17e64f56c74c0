"""Qwen3 (dense): Qwen2's layer without q/k/v biases, with each q and k head rms-normed before rope."""

from __future__ import annotations

from ..graph import Graph
from . import qwen2
from .base import Weights

Params = qwen2.Params


def build(g: Graph, hp: Params, w: Weights) -> None:
    qwen2.build(g, hp, w, qk_norm=True)
