"""Phi-3 / Phi-3.5 (mini, medium): fused projections and LongRoPE factors.

attn_qkv.weight projects to [q | k | v] in one matmul (views split it, no copy); ffn_up.weight to [gate | up]
(swiglu of the halves). Neox rope; when the file has LongRoPE factors, rope_factors_long.weight applies when the
context asked for exceeds the original training context, rope_factors_short.weight otherwise (llama.cpp's rule).
Like llama.cpp, no sliding window even where phi3.attention.sliding_window is set (llama.cpp disables Phi's SWA).
"""

from __future__ import annotations

from ..graph import Glu, Graph
from .base import EMBEDDING, OUTPUT, ROPE_NEOX, Weights, attention, lm_head
from .spec import Architecture, Params, TensorSpec


def build(g: Graph, hp: Params, w: Weights, n_ctx: int) -> None:
    long = n_ctx > (hp.rope.n_ctx_orig or hp.n_ctx_train)
    factors = w.get("rope_factors_long.weight" if long else "rope_factors_short.weight")
    nq, nk, nv = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim, hp.n_head_kv * hp.head_dim_v
    x = g.get_rows(w("token_embd.weight"), g.tokens)  # [tokens, n_embd]
    for i in range(hp.n_layer):
        b = w.layer(i)
        h = g.rms_norm(x, b("attn_norm.weight"), hp.eps)
        qkv = g.matmul(b("attn_qkv.weight"), h)  # [tokens, nq + nk + nv]
        parts = (g.view(qkv, 0, nq), g.view(qkv, nq, nk), g.view(qkv, nq + nk, nv))
        a = attention(g, hp, b, h, rope=hp.rope, freq_factors=factors, qkv=parts)
        x = x + g.matmul(b("attn_output.weight"), a)
        h = g.rms_norm(x, b("ffn_norm.weight"), hp.eps)
        gu = g.matmul(b("ffn_up.weight"), h)  # [tokens, 2 n_ff]: gate then up
        x = x + g.matmul(b("ffn_down.weight"), g.glu(Glu.swiglu, g.view(gu, 0, hp.n_ff), g.view(gu, hp.n_ff, hp.n_ff)))
    lm_head(g, hp, w, x)


ARCH = Architecture(
    name="phi3",
    build=build,
    rope_mode=ROPE_NEOX,
    tensors=(
        EMBEDDING,
        *OUTPUT,
        TensorSpec("rope_factors_short.weight", "n_rot // 2", kind="factors", optional=True),
        TensorSpec("rope_factors_long.weight", "n_rot // 2", kind="factors", optional=True),
    ),
    layer=(
        TensorSpec("attn_norm.weight", "n_embd", kind="norm"),
        TensorSpec("attn_qkv.weight", "n_head * head_dim + n_head_kv * (head_dim + head_dim_v), n_embd"),
        TensorSpec("attn_output.weight", "n_embd, n_head * head_dim_v"),
        TensorSpec("ffn_norm.weight", "n_embd", kind="norm"),
        TensorSpec("ffn_up.weight", "2 * n_ff, n_embd"),  # gate then up
        TensorSpec("ffn_down.weight", "n_embd, n_ff"),
    ),
)
