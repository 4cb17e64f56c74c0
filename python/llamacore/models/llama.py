"""Llama: SmolLM2, Llama 2 and 3.x, Mistral (alias), and other files with general.architecture = llama.

Per layer: x += Wo·attn(rope(Wq·n), rope(Wk·n), Wv·n) with n = rms_norm(x, attn_norm), grouped-query attention;
x += Wdown·(silu(Wgate·n) * Wup·n) with n = rms_norm(x, ffn_norm). Rope is the normal (adjacent-pair) kind, since
GGUF stores Wq/Wk rows permuted for it. Llama 3.1+'s rope scaling comes as rope_freqs.weight (frequency divisors).
"""

from __future__ import annotations

from ..graph import Graph
from .base import ATTENTION, EMBEDDING, FFN, OUTPUT, QKV_BIAS, ROPE_NORMAL, Weights, attention, ffn, lm_head
from .spec import Architecture, Params, TensorSpec, optional


def build(g: Graph, hp: Params, w: Weights, n_ctx: int) -> None:
    freq_factors = w.get("rope_freqs.weight")  # llama3 rope scaling
    x = g.get_rows(w("token_embd.weight"), g.tokens)  # [tokens, n_embd]
    for i in range(hp.n_layer):
        b = w.layer(i)
        h = g.rms_norm(x, b("attn_norm.weight"), hp.eps)
        a = attention(g, hp, b, h, rope=hp.rope, freq_factors=freq_factors)  # [tokens, n_head * head_dim]
        x = x + g.matmul(b("attn_output.weight"), a)
        h = g.rms_norm(x, b("ffn_norm.weight"), hp.eps)
        x = x + ffn(g, b, h)
    lm_head(g, hp, w, x)


ARCH = Architecture(
    name="llama",
    aliases=("mistral",),
    build=build,
    rope_mode=ROPE_NORMAL,
    tensors=(EMBEDDING, *OUTPUT, TensorSpec("rope_freqs.weight", "n_rot // 2", kind="factors", optional=True)),
    layer=(*ATTENTION, *optional(*QKV_BIAS), *FFN),
)
