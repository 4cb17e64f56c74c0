"""What the architecture files share: weights as graph tensors, the declarations of the usual tensors, and the
builders of the usual blocks (attention with rope, gated feed-forward, the lm_head).

An architecture file (llama.py, gemma3.py, ...) declares ARCH = Architecture(...) (see spec.py) with a
`build(g, hp, w, n_ctx)` that records the forward pass of one batch with the builders below.
"""

from __future__ import annotations

import math

from ..errors import GGUFError
from ..graph import ROPE_NEOX, ROPE_NORMAL, Glu, Graph, RopeConfig, Tensor
from .spec import Architecture, Params, TensorSpec

__all__ = [
    "ATTENTION",
    "EMBEDDING",
    "FFN",
    "OUTPUT",
    "QKV_BIAS",
    "QK_NORM",
    "ROPE_NEOX",
    "ROPE_NORMAL",
    "Weights",
    "attention",
    "ffn",
    "lm_head",
]

# ---- declarations of the usual tensors (numpy order: [rows, cols]) ----
EMBEDDING = TensorSpec("token_embd.weight", "n_vocab, n_embd", kind="embedding")
OUTPUT = (
    TensorSpec("output_norm.weight", "n_embd", kind="norm"),
    TensorSpec("output.weight", "n_vocab, n_embd", kind="output", tied="token_embd.weight"),
)
ATTENTION = (  # per layer: norm, separate q/k/v projections, output projection
    TensorSpec("attn_norm.weight", "n_embd", kind="norm"),
    TensorSpec("attn_q.weight", "n_head * head_dim, n_embd"),
    TensorSpec("attn_k.weight", "n_head_kv * head_dim, n_embd"),
    TensorSpec("attn_v.weight", "n_head_kv * head_dim_v, n_embd"),
    TensorSpec("attn_output.weight", "n_embd, n_head * head_dim_v"),
)
QKV_BIAS = (
    TensorSpec("attn_q.bias", "n_head * head_dim", kind="bias"),
    TensorSpec("attn_k.bias", "n_head_kv * head_dim", kind="bias"),
    TensorSpec("attn_v.bias", "n_head_kv * head_dim_v", kind="bias"),
)
QK_NORM = (  # rms norm of each q and k head before rope
    TensorSpec("attn_q_norm.weight", "head_dim", kind="norm"),
    TensorSpec("attn_k_norm.weight", "head_dim", kind="norm"),
)
FFN = (  # per layer: norm, gated feed-forward
    TensorSpec("ffn_norm.weight", "n_embd", kind="norm"),
    TensorSpec("ffn_gate.weight", "n_ff, n_embd"),
    TensorSpec("ffn_up.weight", "n_ff, n_embd"),
    TensorSpec("ffn_down.weight", "n_embd, n_ff"),
)


class Weights:
    """A GGUF file's tensors as graph weights, registered zero-copy on first use; only declared tensors.

    w("blk.0.attn_q.weight") -> Tensor [rows, cols] (numpy order: GGUF's ne[1], ne[0]); a tied tensor the file
    lacks gives the one it is tied to. w.get(name) -> None when the file lacks an optional tensor or the
    architecture does not declare it (shared builders ask for what some architectures have). w.layer(i)("x") is
    w(f"blk.{i}.x"). `used` holds the names handed out."""

    def __init__(self, g: Graph, tensors: dict, arch: Architecture):
        self.g, self.tensors, self.arch = g, tensors, arch
        self.used: set[str] = set()

    def get(self, name: str) -> Tensor | None:
        spec = self.arch.spec(name)
        if spec is None:
            return None
        t = self.tensors.get(name)
        if t is None and spec.tied:
            name, t = spec.tied, self.tensors.get(spec.tied)
        if t is None:
            return None
        self.used.add(name)
        shape = tuple(int(s) for s in reversed(t.shape))
        return self.g.weight(t.data, int(t.type), shape, name)

    def __call__(self, name: str) -> Tensor:
        if self.arch.spec(name) is None:  # a bug in the architecture file, not in the model file
            raise LookupError(f"{self.arch.name}'s build uses tensor {name}, which its declaration lacks")
        t = self.get(name)
        if t is None:
            raise GGUFError(f"model file lacks tensor {name}")
        return t

    def layer(self, i: int) -> _Layer:
        return _Layer(self, i)


class _Layer:
    def __init__(self, w: Weights, i: int):
        self.w, self.prefix = w, f"blk.{i}."

    def __call__(self, name: str) -> Tensor:
        return self.w(self.prefix + name)

    def get(self, name: str) -> Tensor | None:
        return self.w.get(self.prefix + name)


def attention(
    g: Graph,
    hp: Params,
    b: _Layer,
    h: Tensor,
    *,
    rope: RopeConfig,
    freq_factors: Tensor | None = None,
    qk_norm: bool = False,
    scale: float | None = None,
    sliding_window: int = 0,
    softcap: float = 0.0,
    qkv: tuple[Tensor, Tensor, Tensor] | None = None,
) -> Tensor:
    """Self-attention of one layer on the normed input h [tokens, n_embd], before the output projection.

    q/k/v come from attn_q/attn_k/attn_v (+ .bias when the file has them) unless given (fused projections);
    qk_norm: rms norm of each q and k head (attn_q_norm/attn_k_norm) before rope. Returns
    [tokens, n_head * head_dim_v]."""
    hd = hp.head_dim
    if qkv is None:
        q = g.matmul(b("attn_q.weight"), h, b.get("attn_q.bias"))  # [tokens, n_head * hd]
        k = g.matmul(b("attn_k.weight"), h, b.get("attn_k.bias"))  # [tokens, n_head_kv * hd]
        v = g.matmul(b("attn_v.weight"), h, b.get("attn_v.bias"))  # [tokens, n_head_kv * hd_v]
    else:
        q, k, v = qkv
    if qk_norm:
        q = g.rms_norm(q, b("attn_q_norm.weight"), hp.eps, group=hd)
        k = g.rms_norm(k, b("attn_k_norm.weight"), hp.eps, group=hd)
    q = g.rope(q, hp.n_head, hd, rope, freq_factors)
    k = g.rope(k, hp.n_head_kv, hd, rope, freq_factors)
    return g.attention(
        q,
        k,
        v,
        n_head=hp.n_head,
        n_head_kv=hp.n_head_kv,
        head_dim=hd,
        head_dim_v=hp.head_dim_v,
        scale=1.0 / math.sqrt(hd) if scale is None else scale,
        sliding_window=sliding_window,
        softcap=softcap,
    )


def ffn(g: Graph, b: _Layer, h: Tensor, kind: Glu = Glu.swiglu) -> Tensor:
    """down(act(gate(h)) * up(h)) [tokens, n_embd]."""
    gate = g.matmul(b("ffn_gate.weight"), h)  # [tokens, n_ff]
    up = g.matmul(b("ffn_up.weight"), h)  # [tokens, n_ff]
    return g.matmul(b("ffn_down.weight"), g.glu(kind, gate, up))


def lm_head(g: Graph, hp: Params, w: Weights, x: Tensor, softcap: float = 0.0) -> Tensor:
    """Logits of the rows asked for: output_norm, then output.weight (or the tied token_embd.weight)."""
    x = g.select_rows(x)  # [outputs, n_embd]
    x = g.rms_norm(x, w("output_norm.weight"), hp.eps)
    logits = g.matmul(w("output.weight"), x, name="logits")  # [outputs, n_vocab]
    if softcap > 0:
        logits = g.softcap(logits, softcap, name="logits")
    g.set_output(logits)
    return logits
