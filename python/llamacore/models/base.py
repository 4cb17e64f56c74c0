"""What the architecture files share: hyperparameters from GGUF metadata, weights as graph tensors, and the
builders of the usual blocks (attention with rope, gated feed-forward, the lm_head).

An architecture file (llama.py, gemma3.py, ...) defines `Params` (a subclass of ModelParams reading its own keys)
and `build(g, hp, w)`, which records the forward pass of one batch with the builders below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import GGUFError
from ..graph import ROPE_NEOX, ROPE_NORMAL, Glu, Graph, RopeConfig, Tensor

__all__ = [
    "ModelParams",
    "Weights",
    "attention",
    "ffn",
    "lm_head",
    "rope_config",
    "ROPE_NEOX",
    "ROPE_NORMAL",
]


class Meta:
    """Typed access to `{arch}.{key}` metadata with clear errors."""

    def __init__(self, metadata: dict, arch: str):
        self.m, self.arch = metadata, arch

    def get(self, key: str, default=None):
        return self.m.get(f"{self.arch}.{key}", default)

    def int(self, key: str, default: int | None = None) -> int:
        v = self.get(key, default)
        if v is None:
            raise GGUFError(f"model metadata lacks {self.arch}.{key}")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise GGUFError(
                f"{self.arch}.{key} must be a number, not {type(v).__name__}: per-layer values are not "
                "supported for this architecture"
            )
        return int(v)

    def float(self, key: str, default: float | None = None) -> float:
        v = self.get(key, default)
        if v is None:
            raise GGUFError(f"model metadata lacks {self.arch}.{key}")
        return float(v)


@dataclass
class ModelParams:
    """Hyperparameters every architecture has, read with the GGUF standard keys."""

    arch: str
    n_vocab: int
    n_ctx_train: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    head_dim_v: int
    n_ff: int
    eps: float
    rope: RopeConfig
    extra: dict = field(default_factory=dict)

    @classmethod
    def read(cls, metadata: dict, tensors: dict, *, rope_mode: int, **overrides) -> dict:
        """The common fields as a dict (architectures add theirs and construct their Params)."""
        arch = metadata["general.architecture"]
        m = Meta(metadata, arch)
        n_embd = m.int("embedding_length")
        n_head = m.int("attention.head_count")
        head_dim = m.int("attention.key_length", n_embd // n_head)
        lm = tensors.get("output.weight") or tensors.get("token_embd.weight")
        if lm is None:
            raise GGUFError("model has neither output.weight nor token_embd.weight")
        n_ctx_train = m.int("context_length", 2048)
        fields = dict(
            arch=arch,
            n_vocab=int(lm.shape[1]),
            n_ctx_train=n_ctx_train,
            n_embd=n_embd,
            n_layer=m.int("block_count"),
            n_head=n_head,
            n_head_kv=m.int("attention.head_count_kv", n_head),
            head_dim=head_dim,
            head_dim_v=m.int("attention.value_length", head_dim),
            n_ff=m.int("feed_forward_length", 0),
            eps=m.float("attention.layer_norm_rms_epsilon", 1e-5),
            rope=rope_config(
                m, mode=rope_mode, n_dims=m.int("rope.dimension_count", head_dim), n_ctx_train=n_ctx_train
            ),
        )
        fields.update(overrides)
        if fields["n_head"] % fields["n_head_kv"]:
            raise GGUFError(f"head_count {n_head} is not a multiple of head_count_kv {fields['n_head_kv']}")
        return fields


def rope_config(m: Meta, *, mode: int, n_dims: int, n_ctx_train: int, freq_base: float | None = None) -> RopeConfig:
    """ggml rope parameters from rope.freq_base and rope.scaling.* (linear, yarn); llama3's scaling comes as the
    rope_freqs.weight tensor instead (see Weights.rope_factors)."""
    base = m.float("rope.freq_base", 10000.0) if freq_base is None else freq_base
    kind = str(m.get("rope.scaling.type", "none") or "none")
    factor = m.float("rope.scaling.factor", 0.0) or 1.0
    n_ctx_orig = m.int("rope.scaling.original_context_length", n_ctx_train)
    freq_scale = 1.0 / factor if kind in ("linear", "yarn") else 1.0
    ext_factor = 1.0 if kind == "yarn" else 0.0
    return RopeConfig(
        n_dims=n_dims,
        mode=mode,
        freq_base=base,
        freq_scale=freq_scale,
        ext_factor=ext_factor,
        attn_factor=m.float("rope.scaling.attn_factor", 1.0),
        n_ctx_orig=n_ctx_orig,
    )


class Weights:
    """A GGUF file's tensors as graph weights, registered zero-copy on first use.

    w("blk.0.attn_q.weight") -> Tensor [rows, cols] (numpy order: GGUF's ne[1], ne[0]); w.get(name) -> None when
    the file lacks it; w.layer(i)("attn_q.weight") is w(f"blk.{i}.attn_q.weight")."""

    def __init__(self, g: Graph, tensors: dict):
        self.g, self.tensors = g, tensors

    def has(self, name: str) -> bool:
        return name in self.tensors

    def get(self, name: str) -> Tensor | None:
        t = self.tensors.get(name)
        if t is None:
            return None
        shape = tuple(int(s) for s in reversed(t.shape))
        return self.g.weight(t.data, int(t.type), shape, name)

    def __call__(self, name: str) -> Tensor:
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
    hp: ModelParams,
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


def lm_head(g: Graph, hp: ModelParams, w: Weights, x: Tensor, softcap: float = 0.0) -> Tensor:
    """Logits of the rows asked for: output_norm, then output.weight (or the tied token_embd.weight)."""
    x = g.select_rows(x)  # [outputs, n_embd]
    x = g.rms_norm(x, w("output_norm.weight"), hp.eps)
    out = w.get("output.weight") or w("token_embd.weight")
    logits = g.matmul(out, x, name="logits")  # [outputs, n_vocab]
    if softcap > 0:
        logits = g.softcap(logits, softcap, name="logits")
    g.set_output(logits)
    return logits
