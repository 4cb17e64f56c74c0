"""Eager wrappers of the CPU kernels (csrc/include/llamacore/ops.h), for tests and benchmarks.

Each call runs one kernel on a module-level thread pool with the GIL released. Models do not use these: their
forward pass is one call into the graph runtime. Weight arrays are raw GGUF bytes, one row per matrix row
(numpy uint8 [nrows, row_bytes]); types are given by name ("Q4_K") or ggml type id.
"""

from __future__ import annotations

import numpy as np

from . import _core

# The format table is C++'s (csrc/quant/dtype.cpp), read through _core: the formats the kernels read are the
# weight formats of the matmul kernels plus the activation formats they quantize to (Q8_1 / Q8_K).
_TRAITS = _core.dtype_traits()
WEIGHT_TYPES = [name for name, t in _TRAITS.items() if t["matmul"]]
KERNEL_TYPES = [name for name, t in _TRAITS.items() if t["get_rows"]]
TYPE_IDS = {name: _TRAITS[name]["id"] for name in KERNEL_TYPES}
TYPE_NAMES = {v: k for k, v in TYPE_IDS.items()}
BLOCK = {name: (_TRAITS[name]["block_size"], _TRAITS[name]["type_size"]) for name in KERNEL_TYPES}  # per block

# Enums shared with C++ (csrc/bindings/bind_enums.cpp), by name in value order.
UNARY = list(_core.Unary.__members__)
GLU = list(_core.Glu.__members__)
ROPE_NORMAL, ROPE_NEOX = int(_core.RopeMode.NORMAL), int(_core.RopeMode.NEOX)


def type_id(t: str | int) -> int:
    if isinstance(t, str):
        try:
            return TYPE_IDS[t.upper()]
        except KeyError:
            raise ValueError(f"unknown tensor type {t!r}") from None
    return int(t)


def type_name(t: str | int) -> str:
    return TYPE_NAMES[type_id(t)]


def row_bytes(t: str | int, n: int) -> int:
    qk, size = BLOCK[type_name(t)]
    if n % qk:
        raise ValueError(f"{type_name(t)} rows need a multiple of {qk} elements, got {n}")
    return n // qk * size


def set_threads(n: int) -> None:
    """Thread count of the eager pool (0: physical cores)."""
    _core.ops_set_threads(n)


def act_type(wtype: str | int) -> str:
    """The activation format the matmul of this weight type consumes (Q8_0, Q8_1, Q8_K, F16, BF16, F32)."""
    return TYPE_NAMES[_core.ops_act_type(type_id(wtype))]


def quantize_act(wtype: str | int, x: np.ndarray) -> np.ndarray:
    """x [n, k] f32 -> [n, act_row_bytes] uint8: the activation rows as the matmul sees them."""
    return _core.ops_quantize_act(type_id(wtype), np.ascontiguousarray(x, np.float32))


def matmul(w: np.ndarray, wtype: str | int, x: np.ndarray, n_threads: int = 0) -> np.ndarray:
    """w [nrows, row_bytes] uint8 (raw rows of wtype), x [n, k] f32 -> x @ W^T, [n, nrows] f32."""
    x = np.ascontiguousarray(x, np.float32)
    return _core.ops_matmul(np.ascontiguousarray(w, np.uint8), type_id(wtype), x.shape[1], x, n_threads)


def get_rows(table: np.ndarray, t: str | int, n_cols: int, ids) -> np.ndarray:
    """Rows ids of a [n_rows, row_bytes] table of type t, dequantized: [len(ids), n_cols] f32."""
    return _core.ops_get_rows(np.ascontiguousarray(table, np.uint8), type_id(t), n_cols, np.asarray(ids, np.int32))


def rms_norm(x: np.ndarray, eps: float, weight: np.ndarray | None = None) -> np.ndarray:
    return _core.ops_rms_norm(x, eps, weight)


def layer_norm(x: np.ndarray, eps: float, weight=None, bias=None) -> np.ndarray:
    return _core.ops_layer_norm(x, eps, weight, bias)


def rope(
    x: np.ndarray,
    pos,
    n_dims: int,
    mode: int = ROPE_NORMAL,
    freq_base: float = 10000.0,
    freq_scale: float = 1.0,
    ext_factor: float = 0.0,
    attn_factor: float = 1.0,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
    n_ctx_orig: int = 0,
    freq_factors: np.ndarray | None = None,
) -> np.ndarray:
    """x [n_tokens, n_heads, head_dim] rotated by position (ggml_rope_ext's parameters)."""
    return _core.ops_rope(
        x,
        np.asarray(pos, np.int32),
        n_dims,
        mode,
        freq_base,
        freq_scale,
        ext_factor,
        attn_factor,
        beta_fast,
        beta_slow,
        n_ctx_orig,
        freq_factors,
    )


def softmax(x: np.ndarray, scale: float = 1.0, mask: np.ndarray | None = None, causal_offset: int = -1) -> np.ndarray:
    return _core.ops_softmax(x, scale, mask, causal_offset)


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    k_type: str = "F16",
    v_type: str = "F16",
    n_head_kv: int,
    head_dim_v: int | None = None,
    q_pos=None,
    kv_pos=None,
    scale: float = 1.0,
    softcap: float = 0.0,
    sliding_window: int = 0,
    mask: np.ndarray | None = None,
    n_threads: int = 0,
) -> np.ndarray:
    """q [T, H, D] f32; k, v: cache cells [n_kv, ...] as raw arrays (f32, f16 or Q8_0 bytes) -> [T, H, Dv]."""
    q = np.ascontiguousarray(q, np.float32)
    return _core.ops_attention(
        q,
        np.ascontiguousarray(k),
        type_id(k_type),
        np.ascontiguousarray(v),
        type_id(v_type),
        None if q_pos is None else np.asarray(q_pos, np.int32),
        None if kv_pos is None else np.asarray(kv_pos, np.int32),
        scale,
        softcap,
        sliding_window,
        mask,
        n_head_kv,
        q.shape[2] if head_dim_v is None else head_dim_v,
        n_threads,
    )


def unary(op: str, x: np.ndarray) -> np.ndarray:
    return _core.ops_unary(UNARY.index(op), x)


def glu(op: str, gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    return _core.ops_glu(GLU.index(op), gate, up)


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _core.ops_binary("add", a, b)


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _core.ops_binary("mul", a, b)


def scale(x: np.ndarray, s: float, bias: float = 0.0) -> np.ndarray:
    return _core.ops_scale(x, s, bias)


def copy_rows(x: np.ndarray, t: str | int, rows=None, n_dst_rows: int = 0) -> np.ndarray:
    """x [R, C] f32 converted to type t (F32, F16, BF16, Q8_0) as raw rows; with rows, written to those rows of a
    zeroed [n_dst_rows, row_bytes] array (KV-cache write)."""
    return _core.ops_copy_rows(x, type_id(t), None if rows is None else np.asarray(rows, np.int32), n_dst_rows)
