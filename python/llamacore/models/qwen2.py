"""Qwen2 / Qwen2.5: Llama's layer with biases on the q, k and v projections, and neox rope."""

from __future__ import annotations

from ..graph import Graph
from .base import ATTENTION, EMBEDDING, FFN, OUTPUT, QKV_BIAS, ROPE_NEOX, Weights, attention, ffn, lm_head
from .spec import Architecture, Params, TensorSpec, optional


def build(g: Graph, hp: Params, w: Weights, n_ctx: int) -> None:
    decoder(g, hp, w, qk_norm=False)


def decoder(g: Graph, hp: Params, w: Weights, *, qk_norm: bool) -> None:
    """Qwen2's graph, and Qwen3's with qk_norm (rms norm of each q and k head before rope)."""
    x = g.get_rows(w("token_embd.weight"), g.tokens)  # [tokens, n_embd]
    for i in range(hp.n_layer):
        b = w.layer(i)
        h = g.rms_norm(x, b("attn_norm.weight"), hp.eps)
        a = attention(g, hp, b, h, rope=hp.rope, qk_norm=qk_norm)  # q/k/v biases where declared
        x = x + g.matmul(b("attn_output.weight"), a, b.get("attn_output.bias"))
        h = g.rms_norm(x, b("ffn_norm.weight"), hp.eps)
        x = x + ffn(g, b, h)
    lm_head(g, hp, w, x)


ARCH = Architecture(
    name="qwen2",
    build=build,
    rope_mode=ROPE_NEOX,
    tensors=(EMBEDDING, *OUTPUT),
    layer=(*ATTENTION, *QKV_BIAS, *optional(TensorSpec("attn_output.bias", "n_embd", kind="bias")), *FFN),
)
