"""Gemma 3 (the 270M and larger text models).

x = embedding * sqrt(n_embd). Per layer, with neox rope and q/k rms-normed per head before it:
    x += rms_norm(Wo·attn(...), post_attention_norm)
    x += rms_norm(Wdown·(gelu_tanh(Wgate·n) * Wup·n), post_ffw_norm)      n = rms_norm(x, ffn_norm)
Norm weights are used as stored: the GGUF converter already added Gemma's +1. Every sliding_window_pattern-th layer
(6 unless the file says: layers 5, 11, 17, ...) is global with rope base rope.freq_base (and rope scaling); the
others see the last sliding_window positions with rope base 10000, as in llama.cpp. Queries are scaled by
key_length^-1/2 (query_pre_attn_scalar), except the 27B, which uses (n_embd / n_head)^-1/2 like llama.cpp.
Attention and final soft-capping only when the file sets them. The output projection is tied to the embedding.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..graph import Glu, Graph
from .base import ATTENTION, EMBEDDING, FFN, OUTPUT, QK_NORM, ROPE_NEOX, Weights, attention, ffn, lm_head
from .spec import Architecture, HParam, Params, TensorSpec

ROPE_BASE_LOCAL = 10000.0  # the sliding-window layers' rope base (llama.cpp's for gemma3)


def build(g: Graph, hp: Params, w: Weights, n_ctx: int) -> None:
    rope_local = replace(hp.rope, freq_base=ROPE_BASE_LOCAL, freq_scale=1.0, ext_factor=0.0, attn_factor=1.0)
    is_27b = hp.n_layer == 62
    scale = (hp.n_embd / hp.n_head) ** -0.5 if is_27b else hp.head_dim**-0.5
    x = g.scale(g.get_rows(w("token_embd.weight"), g.tokens), math.sqrt(hp.n_embd))  # [tokens, n_embd]
    for i in range(hp.n_layer):
        b = w.layer(i)
        glob = hp.swa_pattern <= 1 or (i + 1) % hp.swa_pattern == 0
        h = g.rms_norm(x, b("attn_norm.weight"), hp.eps)
        a = attention(
            g,
            hp,
            b,
            h,
            rope=hp.rope if glob else rope_local,
            qk_norm=True,
            scale=scale,
            sliding_window=0 if glob else hp.sliding_window,
            softcap=hp.softcap_attn,
        )
        x = x + g.rms_norm(g.matmul(b("attn_output.weight"), a), b("post_attention_norm.weight"), hp.eps)
        h = g.rms_norm(x, b("ffn_norm.weight"), hp.eps)
        x = x + g.rms_norm(ffn(g, b, h, Glu.geglu), b("post_ffw_norm.weight"), hp.eps)
    lm_head(g, hp, w, x, softcap=hp.softcap_final)


ARCH = Architecture(
    name="gemma3",
    build=build,
    rope_mode=ROPE_NEOX,
    hparams=(
        HParam("sliding_window", "attention.sliding_window", default=0, example=8),
        HParam("swa_pattern", "attention.sliding_window_pattern", default=6, example=3),
        HParam("softcap_attn", "attn_logit_softcapping", float, default=0.0),
        HParam("softcap_final", "final_logit_softcapping", float, default=0.0, example=10.0),
    ),
    tensors=(
        # scaled by sqrt(n_embd) and tied: a small random table keeps each token from only predicting itself
        replace(EMBEDDING, example_std="3 / sqrt(n_embd)"),
        OUTPUT[0],
        replace(OUTPUT[1], example=False),  # real Gemma 3 files are tied, so synthetic ones are too
    ),
    layer=(
        *ATTENTION,
        *QK_NORM,
        TensorSpec("post_attention_norm.weight", "n_embd", kind="norm"),
        *FFN,
        TensorSpec("post_ffw_norm.weight", "n_embd", kind="norm"),
    ),
)
