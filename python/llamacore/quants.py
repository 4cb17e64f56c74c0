"""GGUF tensor formats: raw tensor bytes <-> float32, bit-exact with llama.cpp.

`dequantize(data, qtype, shape)` decodes the bytes of a GGUF tensor; `quantize(array, qtype)` encodes float32 rows
with llama.cpp's reference quantizers (no importance matrix). Supported formats: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, and the activation formats Q8_1 and Q8_K.

Shapes follow GGUF: `shape` lists ne[0] (the row length, the fastest-varying axis) first, so the numpy result has
shape reversed(shape). A row (ne[0]) must be a whole number of blocks (32 or 256 elements).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _core
from .gguf.constants import GGMLType

__all__ = ["QuantType", "SUPPORTED", "block_size", "dequantize", "quantize", "row_bytes", "type_size"]


# GGML tensor type ids (as stored in GGUF files): the one table in llamacore.gguf. Only the SUPPORTED ones can be
# (de)quantized here.
QuantType = GGMLType

SUPPORTED: frozenset[QuantType] = frozenset(t for t in QuantType if _core.quants_supported(int(t)))

# Largest array we agree to allocate from a caller's shape (elements); guards against a corrupt shape.
_MAX_ELEMENTS = 1 << 40


def _qtype(qtype: str | int) -> QuantType:
    """A QuantType from a name ("Q4_K", case-insensitive), an int id or any IntEnum (e.g. gguf's)."""
    if isinstance(qtype, str):
        try:
            t = QuantType[qtype.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown quantization type name {qtype!r}") from None
    else:
        try:
            t = QuantType(int(qtype))
        except (TypeError, ValueError):
            raise ValueError(f"unknown GGML type id {qtype!r}") from None
    if t not in SUPPORTED:
        names = ", ".join(s.name for s in sorted(SUPPORTED))
        raise ValueError(f"GGML type {t.name} is not supported by llamacore.quants (supported: {names})")
    return t


def block_size(qtype: str | int) -> int:
    """Elements per block (1 for F32/F16/BF16, 32 for Q4_0..Q8_0/IQ4_NL, 256 for the K-quants and IQ4_XS)."""
    return _core.quants_type_traits(int(_qtype(qtype)))[1]


def type_size(qtype: str | int) -> int:
    """Bytes per block."""
    return _core.quants_type_traits(int(_qtype(qtype)))[2]


def row_bytes(qtype: str | int, n: int) -> int:
    """Bytes of n elements (n a multiple of the block size)."""
    _, bs, ts = _core.quants_type_traits(int(_qtype(qtype)))
    if n % bs:
        raise ValueError(f"{n} elements is not a multiple of the {_qtype(qtype).name} block size {bs}")
    return n // bs * ts


def dequantize(data: bytes | bytearray | memoryview | np.ndarray, qtype: str | int, shape: Sequence[int]) -> np.ndarray:
    """Decode a GGUF tensor's raw bytes to float32.

    data: the tensor's bytes (bytes, memoryview or a numpy array, viewed as uint8);
    qtype: a type name ("Q4_K") or GGML type id / IntEnum;
    shape: GGUF order, ne[0] first. Returns an array of shape reversed(shape).
    Raises ValueError for an unknown/unsupported type, a row length that is not a whole number of blocks, or a byte
    count that does not match the shape.
    """
    t = _qtype(qtype)
    shape = tuple(int(s) for s in shape)
    if not shape:
        raise ValueError("shape must have at least one dimension")
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    _, bs, ts = _core.quants_type_traits(int(t))
    if shape[0] % bs:
        raise ValueError(f"row length ne[0]={shape[0]} is not a multiple of the {t.name} block size {bs}")
    n = int(np.prod(shape, dtype=np.float64))
    if n > _MAX_ELEMENTS:
        raise ValueError(f"shape {shape} has {n} elements, more than llamacore.quants accepts")
    if isinstance(data, np.ndarray):
        if not data.flags.c_contiguous:
            data = np.ascontiguousarray(data)
        buf = data.reshape(-1).view(np.uint8)
    else:
        buf = np.frombuffer(data, dtype=np.uint8)
    want = n // bs * ts
    if buf.size != want:
        raise ValueError(f"{t.name} tensor of shape {shape} needs {want} bytes, got {buf.size}")
    return _core.quants_dequantize(buf, int(t), n).reshape(shape[::-1])


def quantize(array: np.ndarray, qtype: str | int) -> np.ndarray:
    """Encode float32 rows (the last numpy axis, = GGUF ne[0]) with llama.cpp's reference quantizer.

    Returns uint8 of shape array.shape[:-1] + (row bytes,), the bytes a GGUF file stores. The last dimension must be
    a multiple of the block size. Non-finite input (NaN, inf) raises ValueError for the block formats (llama.cpp's
    quantizers have no defined result for it; llama-quantize rejects such rows too); F32/F16/BF16 convert it as
    IEEE does.
    """
    t = _qtype(qtype)
    x = np.asarray(array, dtype=np.float32)
    if x.ndim == 0:
        raise ValueError("quantize needs at least a 1-D array")
    x = np.ascontiguousarray(x)
    _, bs, ts = _core.quants_type_traits(int(t))
    if x.shape[-1] % bs:
        raise ValueError(f"last dimension {x.shape[-1]} is not a multiple of the {t.name} block size {bs}")
    if bs > 1 and x.size and not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x.reshape(-1)))[0])
        raise ValueError(f"cannot quantize non-finite values to {t.name} (first at flat index {bad})")
    out = _core.quants_quantize(x, int(t))
    return out.reshape(x.shape[:-1] + (x.shape[-1] // bs * ts,))
