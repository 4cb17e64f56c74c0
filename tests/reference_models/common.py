"""Float64 primitives of the reference models: norms, rotary embeddings, causal attention, activations.

Shapes: x [n_tokens, n_embd]; per-head tensors [n_tokens, n_heads, head_dim].
"""

from __future__ import annotations

import math

import numpy as np


def hparam(meta: dict, key: str, default=None):
    """`{general.architecture}.{key}` from GGUF metadata."""
    v = meta.get(f"{meta['general.architecture']}.{key}", default)
    if v is None:
        raise KeyError(f"missing metadata key {meta['general.architecture']}.{key}")
    return v


def rms_norm(x: np.ndarray, w: np.ndarray | None, eps: float) -> np.ndarray:
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * w if w is not None else y


def layer_norm(x: np.ndarray, w, b, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    return y * w + (b if b is not None else 0.0)


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def rope(
    x: np.ndarray,
    pos: np.ndarray,
    *,
    n_dims: int,
    base: float,
    neox: bool,
    freq_scale: float = 1.0,
    freq_factors: np.ndarray | None = None,
    ext_factor: float = 0.0,
    attn_factor: float = 1.0,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
    n_ctx_orig: int = 0,
) -> np.ndarray:
    """Rotary embedding of the first n_dims of each head, ggml's definition.

    normal: rotates adjacent pairs (x[2i], x[2i+1]) (llama GGUFs store q/k rows permuted for this);
    neox: rotates halves (x[i], x[i + n_dims/2]).  theta_i = pos * base^(-2i/n_dims) / freq_factors[i], then
    linear interpolation by freq_scale, mixed with the unscaled angle by YaRN's ramp when ext_factor != 0.
    """
    half = n_dims // 2
    i = np.arange(half, dtype=np.float64)
    inv = base ** (-2.0 * i / n_dims)
    if freq_factors is not None:
        inv = inv / freq_factors[:half]
    theta_extrap = pos.astype(np.float64)[:, None] * inv[None, :]  # [n, half]
    theta = theta_extrap * freq_scale
    mscale = attn_factor
    if ext_factor != 0.0:

        def corr_dim(n_rot):
            return n_dims * math.log(n_ctx_orig / (n_rot * 2 * math.pi)) / (2 * math.log(base))

        lo = max(0.0, math.floor(corr_dim(beta_fast)))
        hi = min(n_dims - 1.0, math.ceil(corr_dim(beta_slow)))
        ramp = 1.0 - np.clip((i - lo) / max(0.001, hi - lo), 0.0, 1.0)
        mix = ramp * ext_factor
        theta = theta * (1 - mix) + theta_extrap * mix
        mscale *= 1.0 + 0.1 * math.log(1.0 / freq_scale)
    cos = (np.cos(theta) * mscale)[:, None, :]  # [n, 1, half]
    sin = (np.sin(theta) * mscale)[:, None, :]
    y = x.copy()
    if neox:
        a, b = x[..., :half], x[..., half:n_dims]
        y[..., :half] = a * cos - b * sin
        y[..., half:n_dims] = a * sin + b * cos
    else:
        a, b = x[..., 0:n_dims:2], x[..., 1:n_dims:2]
        y[..., 0:n_dims:2] = a * cos - b * sin
        y[..., 1:n_dims:2] = a * sin + b * cos
    return y


def attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, *, scale: float, window: int = 0, softcap: float = 0.0
) -> np.ndarray:
    """Causal attention of one sequence at positions 0..n-1 with grouped KV heads.

    q [n, n_head, d], k [n, n_head_kv, d], v [n, n_head_kv, dv] -> [n, n_head * dv]. window > 0: token t sees
    positions p with t - p < window (llama.cpp's standard sliding window).
    """
    n, n_head, _ = q.shape
    group = n_head // k.shape[1]
    t = np.arange(n)
    hidden = t[None, :] > t[:, None]
    if window > 0:
        hidden |= (t[:, None] - t[None, :]) >= window
    out = np.empty((n, n_head, v.shape[2]))
    for h in range(n_head):
        s = (q[:, h, :] @ k[:, h // group, :].T) * scale  # [n, n]
        if softcap > 0:
            s = softcap * np.tanh(s / softcap)
        s[hidden] = -np.inf
        s = np.exp(s - s.max(-1, keepdims=True))
        out[:, h, :] = (s / s.sum(-1, keepdims=True)) @ v[:, h // group, :]
    return out.reshape(n, -1)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


class ReferenceModel:
    """What every reference architecture provides on top of its own hidden()."""

    w = None  # WeightSource
    softcap_final = 0.0

    def __init__(self, w):
        """The hyperparameters every architecture reads the same way; subclasses add their own after this."""
        self.w = w
        m = w.metadata
        self.n_layer = hparam(m, "block_count")
        self.n_embd = hparam(m, "embedding_length")
        self.n_head = hparam(m, "attention.head_count")
        self.n_head_kv = hparam(m, "attention.head_count_kv", self.n_head)
        self.head_dim = hparam(m, "attention.key_length", self.n_embd // self.n_head)
        self.eps = hparam(m, "attention.layer_norm_rms_epsilon")

    def lm_head_name(self) -> str:
        return "output.weight" if self.w.has("output.weight") else "token_embd.weight"

    def logits(self, h: np.ndarray) -> np.ndarray:
        z = self.w.matmul_t(self.lm_head_name(), h)
        if self.softcap_final > 0:
            z = self.softcap_final * np.tanh(z / self.softcap_final)
        return z

    def log_probs(self, h: np.ndarray, chunk: int = 256) -> np.ndarray:
        """log-softmax of the logits of rows h, [n, n_vocab] float32 storage (each step computed in float64).

        Dequantizes the lm_head once (a block of rows at a time) however many rows h has."""
        name = self.lm_head_name()
        n_vocab = self.w.shape(name)[0]
        out = np.empty((h.shape[0], n_vocab), dtype=np.float32)
        for a, wc in self.w.row_blocks(name):
            z = h @ wc.T
            if self.softcap_final > 0:
                z = self.softcap_final * np.tanh(z / self.softcap_final)
            out[:, a : a + wc.shape[0]] = z
        for a in range(0, h.shape[0], chunk):
            out[a : a + chunk] = log_softmax(out[a : a + chunk].astype(np.float64))
        return out
