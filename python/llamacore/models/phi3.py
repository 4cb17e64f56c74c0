"""Phi-3 / Phi-3.5 (mini, medium): fused projections and LongRoPE factors.

attn_qkv.weight projects to [q | k | v] in one matmul (views split it, no copy); ffn_up.weight to [gate | up]
(swiglu of the halves). Neox rope; when the file has LongRoPE factors, rope_factors_long.weight applies when the
context asked for exceeds the original training context, rope_factors_short.weight otherwise (llama.cpp's rule).
Like llama.cpp, no sliding window even where phi3.attention.sliding_window is set (llama.cpp disables Phi's SWA).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..graph import Glu, Graph
from .base import ROPE_NEOX, ModelParams, Weights, attention, lm_head


@dataclass
class Params(ModelParams):
    @classmethod
    def from_gguf(cls, metadata: dict, tensors: dict) -> Params:
        return cls(**cls.read(metadata, tensors, rope_mode=ROPE_NEOX))


def build(g: Graph, hp: Params, w: Weights, n_ctx: int = 0) -> None:
    long = n_ctx > (hp.rope.n_ctx_orig or hp.n_ctx_train)
    factors = w.get("rope_factors_long.weight" if long else "rope_factors_short.weight")
    nq, nk = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim
    x = g.get_rows(w("token_embd.weight"), g.tokens)  # [tokens, n_embd]
    for i in range(hp.n_layer):
        b = w.layer(i)
        h = g.rms_norm(x, b("attn_norm.weight"), hp.eps)
        qkv = g.matmul(b("attn_qkv.weight"), h)  # [tokens, nq + 2 nk]
        parts = (g.view(qkv, 0, nq), g.view(qkv, nq, nk), g.view(qkv, nq + nk, hp.n_head_kv * hp.head_dim_v))
        a = attention(g, hp, b, h, rope=hp.rope, freq_factors=factors, qkv=parts)
        x = x + g.matmul(b("attn_output.weight"), a)
        h = g.rms_norm(x, b("ffn_norm.weight"), hp.eps)
        gu = g.matmul(b("ffn_up.weight"), h)  # [tokens, 2 n_ff]: gate then up
        n_ff = gu.cols // 2
        x = x + g.matmul(b("ffn_down.weight"), g.glu(Glu.swiglu, g.view(gu, 0, n_ff), g.view(gu, n_ff, n_ff)))
    lm_head(g, hp, w, x)
