"""Small random GGUF models of each architecture, written with llamacore's GGUF writer and quantizers.

write_model(path, arch, seed=0, **overrides) writes a file llamacore and the float64 references both load. Weights
mix several GGML types (F32, F16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K), so the runtime's matmuls meet the formats of real
files; the reference dequantizes the same bytes, so only the arithmetic differs.
"""

from __future__ import annotations

import numpy as np

from llamacore.gguf import GGMLType, GGUFWriter
from llamacore.quants import quantize

# Sizes: head_dim 32 keeps a q8_0 KV cache possible; n_ff 256 allows K-quants for ffn_down.
BASE = dict(n_vocab=320, n_embd=128, n_ff=256, n_layer=3, n_head=4, n_head_kv=2, head_dim=32, ctx=512)

# Cycled over the 2-D weights (a type is skipped when the row length is not a multiple of its block).
TYPES = [GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.F16, GGMLType.Q5_0, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.F32]
BLOCK = {GGMLType.Q4_K: 256, GGMLType.Q6_K: 256, GGMLType.F16: 1, GGMLType.F32: 1}


def _tensor(w: GGUFWriter, name: str, a: np.ndarray, qtype: GGMLType) -> None:
    a = np.ascontiguousarray(a, dtype=np.float32)
    if qtype == GGMLType.F32:
        w.add_tensor(name, a)
    elif qtype == GGMLType.F16:
        w.add_tensor(name, a.astype(np.float16))
    else:
        w.add_tensor(name, quantize(a, int(qtype)), type=qtype, shape=tuple(reversed(a.shape)))


class _Builder:
    def __init__(self, w: GGUFWriter, rng: np.random.Generator):
        self.w, self.rng, self.k = w, rng, 0

    def matrix(self, name: str, rows: int, cols: int, scale: float | None = None, qtype=None) -> None:
        """A [rows, cols] weight, N(0, scale^2) (default 1/sqrt(cols)), of the next type in TYPES that fits."""
        a = self.rng.standard_normal((rows, cols)) * (scale if scale is not None else cols**-0.5)
        if qtype is None:
            while True:
                qtype = TYPES[self.k % len(TYPES)]
                self.k += 1
                if cols % BLOCK.get(qtype, 32) == 0:
                    break
        _tensor(self.w, name, a, qtype)

    def vector(self, name: str, n: int, mean: float = 1.0, spread: float = 0.2) -> None:
        _tensor(self.w, name, mean + spread * self.rng.standard_normal(n), GGMLType.F32)


def write_model(path, arch: str, seed: int = 0, **overrides) -> dict:
    """Writes a random model of `arch` (llama, mistral, gemma3, qwen2, qwen3, phi3); returns its sizes."""
    p = {**BASE, **overrides}
    rng = np.random.default_rng(seed)
    V, D, F, L = p["n_vocab"], p["n_embd"], p["n_ff"], p["n_layer"]
    H, HKV, HD = p["n_head"], p["n_head_kv"], p["head_dim"]
    w = GGUFWriter(path)
    w.add("general.architecture", arch)
    w.add("general.name", f"synthetic {arch}")
    a = arch
    w.add(f"{a}.context_length", p["ctx"])
    w.add(f"{a}.embedding_length", D)
    w.add(f"{a}.feed_forward_length", F)
    w.add(f"{a}.block_count", L)
    w.add(f"{a}.attention.head_count", H)
    w.add(f"{a}.attention.head_count_kv", HKV)
    w.add(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    w.add(f"{a}.rope.freq_base", p.get("rope_base", 10000.0))
    if HD != D // H or arch in ("gemma3", "qwen3"):
        w.add(f"{a}.attention.key_length", HD)
        w.add(f"{a}.attention.value_length", HD)
    if arch == "gemma3":
        w.add(f"{a}.attention.sliding_window", p.get("sliding_window", 8))
        w.add(f"{a}.attention.sliding_window_pattern", p.get("swa_pattern", 3))
        if p.get("softcap_final", 10.0):
            w.add(f"{a}.final_logit_softcapping", float(p.get("softcap_final", 10.0)))
    b = _Builder(w, rng)
    # Large embeddings and lm_head give peaked next-token distributions, so top-1 agreement means something.
    tied = arch in ("gemma3",) or p.get("tied", False)
    # Gemma scales the embedding by sqrt(n_embd): keep its tied table small, or each token would only predict itself.
    b.matrix("token_embd.weight", V, D, scale=3.0 * D**-0.5 if arch == "gemma3" else 1.0)
    if not tied:
        b.matrix("output.weight", V, D, scale=4.0 * D**-0.5)
    b.vector("output_norm.weight", D)
    if arch in ("llama", "mistral") and p.get("rope_freqs", True):
        # llama3-style frequency divisors: 1 for high frequencies, up to 8 for low ones
        _tensor(w, "rope_freqs.weight", np.linspace(1.0, 8.0, HD // 2), GGMLType.F32)
    if arch == "phi3" and p.get("rope_factors", True):
        _tensor(w, "rope_factors_short.weight", np.linspace(1.0, 3.0, HD // 2), GGMLType.F32)
        _tensor(w, "rope_factors_long.weight", np.linspace(1.0, 30.0, HD // 2), GGMLType.F32)
    for i in range(L):
        pre = f"blk.{i}."
        b.vector(pre + "attn_norm.weight", D)
        b.vector(pre + "ffn_norm.weight", D)
        if arch == "phi3":
            b.matrix(pre + "attn_qkv.weight", (H + 2 * HKV) * HD, D)
            b.matrix(pre + "ffn_up.weight", 2 * F, D)
        else:
            b.matrix(pre + "attn_q.weight", H * HD, D)
            b.matrix(pre + "attn_k.weight", HKV * HD, D)
            b.matrix(pre + "attn_v.weight", HKV * HD, D)
            b.matrix(pre + "ffn_gate.weight", F, D)
            b.matrix(pre + "ffn_up.weight", F, D)
        b.matrix(pre + "attn_output.weight", D, H * HD)
        b.matrix(pre + "ffn_down.weight", D, F)
        if arch == "qwen2":
            for n, rows in (("attn_q", H * HD), ("attn_k", HKV * HD), ("attn_v", HKV * HD)):
                b.vector(pre + n + ".bias", rows, mean=0.0, spread=0.5)
        if arch in ("qwen3", "gemma3"):
            b.vector(pre + "attn_q_norm.weight", HD)
            b.vector(pre + "attn_k_norm.weight", HD)
        if arch == "gemma3":
            b.vector(pre + "post_attention_norm.weight", D)
            b.vector(pre + "post_ffw_norm.weight", D)
    w.write()
    return p
