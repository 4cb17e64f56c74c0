"""Gemma 3 in float64.

x = embedding * sqrt(n_embd). Per layer (neox rope; q/k rms-normed per head before rope; the norms' weights are used
as stored, the GGUF converter already added Gemma's +1):
    a = Wo·attn(...);  x = x + rms_norm(a, post_attention_norm)
    f = Wdown·(gelu_tanh(Wgate·n) * Wup·n) with n = rms_norm(x, ffn_norm);  x = x + rms_norm(f, post_ffw_norm)
Every sliding_window_pattern-th layer (6: layers 5, 11, 17, ...) is global with rope base rope.freq_base (1e6); the
others see the last sliding_window positions (including their own) with rope base 10000. Queries are scaled by
query_pre_attn_scalar^-1/2 = key_length^-1/2. Final logit soft-capping only when the file sets it.
"""

from __future__ import annotations

import numpy as np

from .common import ReferenceModel, attention, gelu_tanh, hparam, rms_norm, rope


class Model(ReferenceModel):
    def __init__(self, w):
        super().__init__(w)
        m = w.metadata
        self.base_global = hparam(m, "rope.freq_base", 1e6)
        self.base_local = 10000.0
        self.window = hparam(m, "attention.sliding_window", 0)
        self.pattern = hparam(m, "attention.sliding_window_pattern", 6)
        scaling = hparam(m, "rope.scaling.type", "none")
        self.freq_scale_global = 1.0 / hparam(m, "rope.scaling.factor", 1.0) if scaling == "linear" else 1.0
        self.softcap_attn = hparam(m, "attn_logit_softcapping", 0.0)
        self.softcap_final = hparam(m, "final_logit_softcapping", 0.0)

    def is_global(self, i: int) -> bool:
        return (i + 1) % self.pattern == 0

    def hidden(self, tokens) -> np.ndarray:
        w, n, hd = self.w, len(tokens), self.head_dim
        pos = np.arange(n)
        x = w.rows("token_embd.weight", tokens) * np.sqrt(self.n_embd)  # [n, n_embd]
        for i in range(self.n_layer):
            b = f"blk.{i}."
            glob = self.is_global(i)
            base = self.base_global if glob else self.base_local
            fs = self.freq_scale_global if glob else 1.0
            h = rms_norm(x, w.get(b + "attn_norm.weight"), self.eps)
            q = (h @ w.get(b + "attn_q.weight").T).reshape(n, self.n_head, hd)
            k = (h @ w.get(b + "attn_k.weight").T).reshape(n, self.n_head_kv, hd)
            v = (h @ w.get(b + "attn_v.weight").T).reshape(n, self.n_head_kv, hd)
            q = rope(
                rms_norm(q, w.get(b + "attn_q_norm.weight"), self.eps),
                pos,
                n_dims=hd,
                base=base,
                neox=True,
                freq_scale=fs,
            )
            k = rope(
                rms_norm(k, w.get(b + "attn_k_norm.weight"), self.eps),
                pos,
                n_dims=hd,
                base=base,
                neox=True,
                freq_scale=fs,
            )
            a = attention(q, k, v, scale=hd**-0.5, window=0 if glob else self.window, softcap=self.softcap_attn)
            a = a @ w.get(b + "attn_output.weight").T
            x = x + rms_norm(a, w.get(b + "post_attention_norm.weight"), self.eps)
            h = rms_norm(x, w.get(b + "ffn_norm.weight"), self.eps)
            f = gelu_tanh(h @ w.get(b + "ffn_gate.weight").T) * (h @ w.get(b + "ffn_up.weight").T)
            f = f @ w.get(b + "ffn_down.weight").T
            x = x + rms_norm(f, w.get(b + "post_ffw_norm.weight"), self.eps)
        return rms_norm(x, w.get("output_norm.weight"), self.eps)
