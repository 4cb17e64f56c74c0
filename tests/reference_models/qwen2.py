"""Qwen2 in float64: Llama's layer with biases on the q, k and v projections and neox rope."""

from __future__ import annotations

import numpy as np

from .common import ReferenceModel, attention, hparam, rms_norm, rope, silu


class Model(ReferenceModel):
    qk_norm = False

    def __init__(self, w):
        super().__init__(w)
        m = w.metadata
        self.n_rot = hparam(m, "rope.dimension_count", self.head_dim)
        self.base = hparam(m, "rope.freq_base", 10000.0)

    def proj(self, name: str, h: np.ndarray) -> np.ndarray:
        y = h @ self.w.get(name + ".weight").T
        if self.w.has(name + ".bias"):
            y = y + self.w.get(name + ".bias")
        return y

    def hidden(self, tokens) -> np.ndarray:
        w, n, hd = self.w, len(tokens), self.head_dim
        pos = np.arange(n)
        x = w.rows("token_embd.weight", tokens)  # [n, n_embd]
        for i in range(self.n_layer):
            b = f"blk.{i}."
            h = rms_norm(x, w.get(b + "attn_norm.weight"), self.eps)
            q = self.proj(b + "attn_q", h).reshape(n, self.n_head, hd)
            k = self.proj(b + "attn_k", h).reshape(n, self.n_head_kv, hd)
            v = self.proj(b + "attn_v", h).reshape(n, self.n_head_kv, hd)
            if self.qk_norm:  # Qwen3: rms norm of each head before rope
                q = rms_norm(q, w.get(b + "attn_q_norm.weight"), self.eps)
                k = rms_norm(k, w.get(b + "attn_k_norm.weight"), self.eps)
            q = rope(q, pos, n_dims=self.n_rot, base=self.base, neox=True)
            k = rope(k, pos, n_dims=self.n_rot, base=self.base, neox=True)
            a = attention(q, k, v, scale=hd**-0.5)
            x = x + self.proj(b + "attn_output", a)
            h = rms_norm(x, w.get(b + "ffn_norm.weight"), self.eps)
            g = silu(h @ w.get(b + "ffn_gate.weight").T) * (h @ w.get(b + "ffn_up.weight").T)
            x = x + g @ w.get(b + "ffn_down.weight").T
        return rms_norm(x, w.get("output_norm.weight"), self.eps)
