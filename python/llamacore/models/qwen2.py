"""Qwen2 / Qwen2.5: Llama's layer with biases on the q, k and v projections, and neox rope."""

from __future__ import annotations

from dataclasses import dataclass

from ..graph import Graph
from .base import ROPE_NEOX, ModelParams, Weights, attention, ffn, lm_head


@dataclass
class Params(ModelParams):
    @classmethod
    def from_gguf(cls, metadata: dict, tensors: dict) -> Params:
        return cls(**cls.read(metadata, tensors, rope_mode=ROPE_NEOX))


def build(g: Graph, hp: Params, w: Weights, qk_norm: bool = False) -> None:
    x = g.get_rows(w("token_embd.weight"), g.tokens)  # [tokens, n_embd]
    for i in range(hp.n_layer):
        b = w.layer(i)
        h = g.rms_norm(x, b("attn_norm.weight"), hp.eps)
        a = attention(g, hp, b, h, rope=hp.rope, qk_norm=qk_norm)  # q/k/v biases when the file has them
        x = x + g.matmul(b("attn_output.weight"), a, b.get("attn_output.bias"))
        h = g.rms_norm(x, b("ffn_norm.weight"), hp.eps)
        x = x + ffn(g, b, h)
    lm_head(g, hp, w, x)
