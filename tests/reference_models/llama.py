"""Llama (SmolLM2, Llama 2/3.x, Mistral) in float64.

Per layer: x += Wo·attn(rope(Wq·n), rope(Wk·n), Wv·n) with n = rms_norm(x); x += Wdown·(silu(Wgate·n) * Wup·n)
with n = rms_norm(x). Rope is the normal (adjacent-pair) kind: GGUF stores Wq/Wk rows permuted for it. Llama 3's
rope scaling arrives as the rope_freqs.weight tensor (frequency divisors); linear scaling as rope.scaling.factor.
"""

from __future__ import annotations

import numpy as np

from .common import ReferenceModel, attention, hparam, rms_norm, rope, silu


class Model(ReferenceModel):
    def __init__(self, w):
        super().__init__(w)
        m = w.metadata
        self.n_rot = hparam(m, "rope.dimension_count", self.head_dim)
        self.base = hparam(m, "rope.freq_base", 10000.0)
        scaling = hparam(m, "rope.scaling.type", "none")
        self.freq_scale = 1.0 / hparam(m, "rope.scaling.factor", 1.0) if scaling == "linear" else 1.0
        self.freq_factors = w.get("rope_freqs.weight") if w.has("rope_freqs.weight") else None

    def rope(self, x, pos):
        return rope(
            x,
            pos,
            n_dims=self.n_rot,
            base=self.base,
            neox=False,
            freq_scale=self.freq_scale,
            freq_factors=self.freq_factors,
        )

    def hidden(self, tokens) -> np.ndarray:
        w, n = self.w, len(tokens)
        pos = np.arange(n)
        x = w.rows("token_embd.weight", tokens)  # [n, n_embd]
        for i in range(self.n_layer):
            b = f"blk.{i}."
            h = rms_norm(x, w.get(b + "attn_norm.weight"), self.eps)
            q = (h @ w.get(b + "attn_q.weight").T).reshape(n, self.n_head, self.head_dim)
            k = (h @ w.get(b + "attn_k.weight").T).reshape(n, self.n_head_kv, self.head_dim)
            v = (h @ w.get(b + "attn_v.weight").T).reshape(n, self.n_head_kv, self.head_dim)
            a = attention(self.rope(q, pos), self.rope(k, pos), v, scale=self.head_dim**-0.5)
            x = x + a @ w.get(b + "attn_output.weight").T
            h = rms_norm(x, w.get(b + "ffn_norm.weight"), self.eps)
            g = silu(h @ w.get(b + "ffn_gate.weight").T) * (h @ w.get(b + "ffn_up.weight").T)
            x = x + g @ w.get(b + "ffn_down.weight").T
        return rms_norm(x, w.get("output_norm.weight"), self.eps)
