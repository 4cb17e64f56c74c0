"""Gemma 3 (the 270M and larger text models).

x = embedding * sqrt(n_embd). Per layer, with neox rope and q/k rms-normed per head before it:
    x += rms_norm(Wo·attn(...), post_attention_norm)
    x += rms_norm(Wdown·(gelu_tanh(Wgate·n) * Wup·n), post_ffw_norm)      n = rms_norm(x, ffn_norm)
Norm weights are used as stored: the GGUF converter already added Gemma's +1. Every sliding_window_pattern-th layer
(6 unless the file says: layers 5, 11, 17, ...) is global with rope base rope.freq_base (and rope scaling); the
others see the last sliding_window positions with rope base 10000, as in llama.cpp. Queries are scaled by
key_length^-1/2 (query_pre_attn_scalar), except the 27B, which uses (n_embd / n_head)^-1/2 like llama.cpp.
Attention and final soft-capping only when the file sets them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..graph import Glu, Graph
from .base import ROPE_NEOX, Meta, ModelParams, Weights, attention, ffn, lm_head


@dataclass
class Params(ModelParams):
    sliding_window: int = 0
    swa_pattern: int = 6
    rope_base_local: float = 10000.0
    attn_scale: float = 0.0
    softcap_attn: float = 0.0
    softcap_final: float = 0.0

    @classmethod
    def from_gguf(cls, metadata: dict, tensors: dict) -> Params:
        f = cls.read(metadata, tensors, rope_mode=ROPE_NEOX)
        m = Meta(metadata, f["arch"])
        is_27b = f["n_layer"] == 62
        scale = (f["n_embd"] / f["n_head"]) ** -0.5 if is_27b else f["head_dim"] ** -0.5
        return cls(
            **f,
            sliding_window=m.int("attention.sliding_window", 0),
            swa_pattern=m.int("attention.sliding_window_pattern", 6),
            attn_scale=scale,
            softcap_attn=m.float("attn_logit_softcapping", 0.0),
            softcap_final=m.float("final_logit_softcapping", 0.0),
        )

    def is_global(self, i: int) -> bool:
        return self.swa_pattern <= 1 or (i + 1) % self.swa_pattern == 0


def build(g: Graph, hp: Params, w: Weights) -> None:
    rope_local = replace(hp.rope, freq_base=hp.rope_base_local, freq_scale=1.0, ext_factor=0.0, attn_factor=1.0)
    x = g.scale(g.get_rows(w("token_embd.weight"), g.tokens), math.sqrt(hp.n_embd))  # [tokens, n_embd]
    for i in range(hp.n_layer):
        b = w.layer(i)
        glob = hp.is_global(i)
        h = g.rms_norm(x, b("attn_norm.weight"), hp.eps)
        a = attention(
            g,
            hp,
            b,
            h,
            rope=hp.rope if glob else rope_local,
            qk_norm=True,
            scale=hp.attn_scale,
            sliding_window=0 if glob else hp.sliding_window,
            softcap=hp.softcap_attn,
        )
        x = x + g.rms_norm(g.matmul(b("attn_output.weight"), a), b("post_attention_norm.weight"), hp.eps)
        h = g.rms_norm(x, b("ffn_norm.weight"), hp.eps)
        x = x + g.rms_norm(ffn(g, b, h, Glu.geglu), b("post_ffw_norm.weight"), hp.eps)
    lm_head(g, hp, w, x, softcap=hp.softcap_final)
