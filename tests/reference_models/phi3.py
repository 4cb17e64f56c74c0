"""Phi-3 in float64.

Fused projections: attn_qkv.weight [q | k | v rows] and ffn_up.weight [gate | up rows] (swiglu of the halves).
Neox rope over rope.dimension_count dims, with LongRoPE's rope_factors_short.weight as frequency divisors when the
file has it (the long factors only apply past the training context, which these tests never reach). Like llama.cpp,
no sliding window even when phi3.attention.sliding_window is set (llama.cpp disables Phi's SWA).
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
        self.attn_factor = hparam(m, "rope.scaling.attn_factor", 1.0)
        name = "rope_factors_short.weight"
        self.freq_factors = w.get(name) if w.has(name) else None

    def hidden(self, tokens) -> np.ndarray:
        w, n, hd = self.w, len(tokens), self.head_dim
        nq, nk = self.n_head * hd, self.n_head_kv * hd
        pos = np.arange(n)
        x = w.rows("token_embd.weight", tokens)  # [n, n_embd]
        for i in range(self.n_layer):
            b = f"blk.{i}."
            h = rms_norm(x, w.get(b + "attn_norm.weight"), self.eps)
            qkv = h @ w.get(b + "attn_qkv.weight").T  # [n, nq + 2 nk]
            q = qkv[:, :nq].reshape(n, self.n_head, hd)
            k = qkv[:, nq : nq + nk].reshape(n, self.n_head_kv, hd)
            v = qkv[:, nq + nk :].reshape(n, self.n_head_kv, hd)
            kw = dict(
                n_dims=self.n_rot,
                base=self.base,
                neox=True,
                freq_factors=self.freq_factors,
                attn_factor=self.attn_factor,
            )
            a = attention(rope(q, pos, **kw), rope(k, pos, **kw), v, scale=hd**-0.5)
            x = x + a @ w.get(b + "attn_output.weight").T
            h = rms_norm(x, w.get(b + "ffn_norm.weight"), self.eps)
            gu = h @ w.get(b + "ffn_up.weight").T  # [n, 2 n_ff]: gate then up
            n_ff = gu.shape[1] // 2
            x = x + (silu(gu[:, :n_ff]) * gu[:, n_ff:]) @ w.get(b + "ffn_down.weight").T
        return rms_norm(x, w.get("output_norm.weight"), self.eps)
