"""GGUF writer: metadata of every value type and tensors of every GGML type, GGUF v3 (or v2), alignment honoured.

    w = GGUFWriter("out.gguf")
    w.add("general.architecture", "llama")                    # type inferred: str -> STRING
    w.add("llama.context_length", 8192)                       # int >= 0 -> UINT32 (llama.cpp's usual type)
    w.add("llama.rope.freq_base", 1e4, GGUFValueType.FLOAT32) # or say the type
    w.add("tokenizer.ggml.scores", np.zeros(10, np.float32))  # numpy arrays keep their dtype
    w.add_tensor("output_norm.weight", np.ones(576, np.float32))          # F32 from the dtype, shape (576,)
    w.add_tensor("blk.0.attn_q.weight", raw_uint8, type=GGMLType.Q4_0, shape=(576, 576))  # raw blocks
    w.write()

Type inference when no type is given: bool -> BOOL; int -> UINT32 when 0 <= v < 2**32, else INT32 / INT64 /
UINT64, whichever holds it; float -> FLOAT32; str or bytes -> STRING; numpy array -> array of its dtype; list or
tuple -> array whose element type is inferred the same way from all its elements (ints: the smallest of UINT32,
INT32, INT64, UINT64 holding them all; any float makes it FLOAT32). `GGUFFile.metadata_types[key]` can be passed as
the type to keep a file's types exactly. Tensor shapes are in GGUF order (ne[0] first); a numpy array's shape is
reversed to get it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from .constants import (
    GGML_BLOCK_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    MAX_ALIGNMENT,
    MAX_DIMS,
    MAX_NAME_BYTES,
    MAX_NESTED_ARRAYS,
    SCALAR_FORMATS,
    GGMLType,
    GGUFValueType,
)

_INT_RANGES = {
    GGUFValueType.UINT8: (0, 1 << 8),
    GGUFValueType.INT8: (-(1 << 7), 1 << 7),
    GGUFValueType.UINT16: (0, 1 << 16),
    GGUFValueType.INT16: (-(1 << 15), 1 << 15),
    GGUFValueType.UINT32: (0, 1 << 32),
    GGUFValueType.INT32: (-(1 << 31), 1 << 31),
    GGUFValueType.UINT64: (0, 1 << 64),
    GGUFValueType.INT64: (-(1 << 63), 1 << 63),
}
_DTYPE_TO_VALUE_TYPE = {
    np.dtype(np.bool_): GGUFValueType.BOOL,
    np.dtype(np.uint8): GGUFValueType.UINT8,
    np.dtype(np.int8): GGUFValueType.INT8,
    np.dtype(np.uint16): GGUFValueType.UINT16,
    np.dtype(np.int16): GGUFValueType.INT16,
    np.dtype(np.uint32): GGUFValueType.UINT32,
    np.dtype(np.int32): GGUFValueType.INT32,
    np.dtype(np.uint64): GGUFValueType.UINT64,
    np.dtype(np.int64): GGUFValueType.INT64,
    np.dtype(np.float32): GGUFValueType.FLOAT32,
    np.dtype(np.float64): GGUFValueType.FLOAT64,
}
# Plain tensor types and their numpy dtypes (BF16 is converted by rounding float32, see _to_bf16).
_TENSOR_DTYPES = {
    GGMLType.F32: np.dtype("<f4"),
    GGMLType.F16: np.dtype("<f2"),
    GGMLType.F64: np.dtype("<f8"),
    GGMLType.I8: np.dtype("<i1"),
    GGMLType.I16: np.dtype("<i2"),
    GGMLType.I32: np.dtype("<i4"),
    GGMLType.I64: np.dtype("<i8"),
}
_DTYPE_TO_TENSOR_TYPE = {v: k for k, v in _TENSOR_DTYPES.items()}
_F32_MAX = float(np.finfo(np.float32).max)
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _int_type(lo: int, hi: int) -> GGUFValueType:
    for t in (GGUFValueType.UINT32, GGUFValueType.INT32, GGUFValueType.INT64, GGUFValueType.UINT64):
        a, b = _INT_RANGES[t]
        if a <= lo and hi < b:
            return t
    raise ValueError(f"integer {lo if lo < 0 else hi} does not fit in 64 bits")


def _infer_scalar(v: Any) -> GGUFValueType:
    if isinstance(v, (bool, np.bool_)):
        return GGUFValueType.BOOL
    if isinstance(v, (int, np.integer)):
        return _int_type(int(v), int(v))
    if isinstance(v, (float, np.floating)):
        return GGUFValueType.FLOAT32
    if isinstance(v, (str, bytes)):
        return GGUFValueType.STRING
    if isinstance(v, (list, tuple, np.ndarray)):
        return GGUFValueType.ARRAY
    raise TypeError(f"cannot store a {type(v).__name__} in GGUF metadata")


def _little(dt: np.dtype) -> np.dtype:
    return dt.newbyteorder("<") if dt.byteorder == ">" else dt


def _infer_element(items) -> GGUFValueType:
    if isinstance(items, np.ndarray):
        if _little(items.dtype) in _DTYPE_TO_VALUE_TYPE:
            return _DTYPE_TO_VALUE_TYPE[_little(items.dtype)]
        if items.dtype.kind in "US":
            return GGUFValueType.STRING
        raise TypeError(f"cannot store a numpy {items.dtype} array in GGUF metadata")
    if len(items) == 0:
        raise ValueError("cannot infer the element type of an empty array: give it")
    kinds = {_infer_scalar(x) for x in items}
    if kinds == {GGUFValueType.BOOL}:
        return GGUFValueType.BOOL
    if kinds <= {GGUFValueType.STRING}:
        return GGUFValueType.STRING
    if kinds == {GGUFValueType.ARRAY}:
        return GGUFValueType.ARRAY
    if GGUFValueType.BOOL in kinds or GGUFValueType.STRING in kinds or GGUFValueType.ARRAY in kinds:
        raise TypeError(f"array mixes element types {sorted(k.name for k in kinds)}")
    if GGUFValueType.FLOAT32 in kinds:
        return GGUFValueType.FLOAT32
    ints = [int(x) for x in items]
    return _int_type(min(ints), max(ints))


def _encode_string(s: str | bytes) -> bytes:
    b = s if isinstance(s, bytes) else s.encode("utf-8", "surrogateescape")  # surrogates: bytes the reader kept
    return _U64.pack(len(b)) + b


def _encode_scalar(v: Any, t: GGUFValueType) -> bytes:
    if t == GGUFValueType.STRING:
        if not isinstance(v, (str, bytes)):
            raise TypeError(f"STRING value must be str or bytes, not {type(v).__name__}")
        return _encode_string(v)
    if t in _INT_RANGES:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{t.name} value must be an int, not {type(v).__name__}")
        lo, hi = _INT_RANGES[t]
        if not lo <= int(v) < hi:
            raise ValueError(f"{v} does not fit in {t.name}")
        v = int(v)
    elif t == GGUFValueType.BOOL:
        v = 1 if v else 0
    elif t in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        v = float(v)
        if t == GGUFValueType.FLOAT32 and np.isfinite(v) and abs(v) > _F32_MAX:
            raise ValueError(f"{v} does not fit in FLOAT32")
        if t == GGUFValueType.FLOAT32:
            return np.float32(v).astype("<f4").tobytes()
    return struct.pack("<" + SCALAR_FORMATS[t][0], v)


def _encode_array_items(items, etype: GGUFValueType, depth: int, nested: list[int]) -> bytes:
    """Element type tag, count and items of an array (the part after the ARRAY tag). nested[0] counts the arrays
    inside arrays, which the reader bounds over the whole file."""
    if depth > 8:
        raise ValueError("arrays nested deeper than 8 levels")
    head = _U32.pack(etype) + _U64.pack(len(items))
    if etype == GGUFValueType.STRING:
        if isinstance(items, np.ndarray):
            items = items.tolist()
        return head + b"".join([_encode_string(s) for s in items])
    if etype == GGUFValueType.ARRAY:
        nested[0] += len(items)
        if nested[0] > MAX_NESTED_ARRAYS:
            raise ValueError(f"more than {MAX_NESTED_ARRAYS} arrays inside array values in the file")
        parts = [head]
        for inner in items:
            if not isinstance(inner, (list, tuple, np.ndarray)):
                raise TypeError(f"element of a nested array must be a list or array, not {type(inner).__name__}")
            parts.append(_encode_array_items(inner, _infer_element(inner), depth + 1, nested))
        return b"".join(parts)
    arr = np.asarray(items)
    if arr.ndim != 1:
        raise ValueError(f"array values must be 1-D, got shape {arr.shape}")
    dtype = np.dtype(SCALAR_FORMATS[etype][1])
    if etype == GGUFValueType.BOOL:
        arr = arr.astype(bool)
    elif etype in _INT_RANGES and arr.size:
        if arr.dtype.kind not in "iub":
            raise TypeError(f"{etype.name} array needs integers, got {arr.dtype}")
        lo, hi = _INT_RANGES[etype]
        if int(arr.min()) < lo or int(arr.max()) >= hi:
            raise ValueError(f"array values [{arr.min()}, {arr.max()}] do not fit in {etype.name}")
    return head + arr.astype(dtype).tobytes()


def _to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), round to nearest even; NaN stays a quiet NaN."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x.astype(np.float32))
    return np.where(nan, ((bits >> 16) | 0x40).astype(np.uint16), rounded)


class _Deferred:
    """A tensor whose bytes a callable returns when write() reaches it (checked against the size announced)."""

    def __init__(self, fn, nbytes: int):
        self.fn, self.nbytes = fn, nbytes

    def produce(self, name: str) -> np.ndarray:
        buf = np.ascontiguousarray(self.fn()).reshape(-1).view(np.uint8)
        if buf.nbytes != self.nbytes:
            raise ValueError(f"tensor '{name}': {buf.nbytes} bytes produced, {self.nbytes} announced")
        return buf


class GGUFWriter:
    """Collects metadata and tensors, then writes one GGUF file with write() (or on leaving a `with` block)."""

    def __init__(self, path: str | os.PathLike, *, alignment: int = GGUF_DEFAULT_ALIGNMENT, version: int = 3):
        if version not in (2, 3):
            raise ValueError(f"GGUF version {version} cannot be written (2 or 3)")
        self.path = Path(path)
        self.version = version
        self.alignment = GGUF_DEFAULT_ALIGNMENT
        self._kv: dict[str, bytes] = {}  # key -> encoded type tag + value
        self._tensors: dict[str, tuple[tuple[int, ...], GGMLType, np.ndarray]] = {}
        self._written = False
        self._nested_arrays = 0  # arrays inside array values, all keys together (the reader's bound)
        if alignment != GGUF_DEFAULT_ALIGNMENT:
            self.add("general.alignment", alignment, GGUFValueType.UINT32)

    # ---- metadata ----
    def add(self, key: str, value: Any, vtype: Any = None) -> None:
        """Add one key. vtype: None (infer), a GGUFValueType (for a list/array value: its element type), or
        (GGUFValueType.ARRAY, element type) as in GGUFFile.metadata_types."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"metadata key must be a non-empty str, got {key!r}")
        key.encode("utf-8")  # keys must be valid UTF-8: surrogates raise here
        if "\0" in key:
            raise ValueError(f"metadata key {key!r} holds a NUL byte (names are C strings in llama.cpp)")
        if key in self._kv:
            raise ValueError(f"duplicate metadata key '{key}'")
        etype = None
        if isinstance(vtype, tuple):
            vtype, etype = GGUFValueType(vtype[0]), GGUFValueType(vtype[1])
        elif vtype is not None:
            vtype = GGUFValueType(vtype)
        is_array = isinstance(value, (list, tuple, np.ndarray))
        if is_array and vtype not in (None, GGUFValueType.ARRAY):
            vtype, etype = GGUFValueType.ARRAY, vtype if etype is None else etype
        if vtype is None:
            vtype = _infer_scalar(value)
        if vtype == GGUFValueType.ARRAY:
            if not is_array:
                raise TypeError(f"'{key}': ARRAY value must be a list, tuple or numpy array")
            if etype is None:  # (not `or`: UINT8 is 0)
                etype = _infer_element(value)
            nested = [self._nested_arrays]
            data = _U32.pack(vtype) + _encode_array_items(value, etype, 1, nested)
            self._nested_arrays = nested[0]
        else:
            if is_array:
                raise TypeError(f"'{key}': a {vtype.name} value cannot be a list")
            data = _U32.pack(vtype) + _encode_scalar(value, vtype)
        if key == "general.alignment":
            if vtype != GGUFValueType.UINT32 or value <= 0 or value & (value - 1) or value > MAX_ALIGNMENT:
                raise ValueError(f"general.alignment must be a UINT32 power of two <= {MAX_ALIGNMENT}, got {value!r}")
            self.alignment = int(value)
        self._kv[key] = data

    # ---- tensors ----
    def add_tensor(self, name: str, data, *, type: GGMLType | int | None = None, shape=None) -> None:
        """Add a tensor. `data` is a numpy array of a plain type (F32, F16, F64, I8..I64; converted to `type` if
        that is given, BF16 included), or the raw bytes (uint8 array, bytes) of any type with `type` and `shape`.
        `shape` is in GGUF order (ne[0] first); by default the numpy shape reversed. `data` may also be a callable
        returning those bytes (with type= and shape=), called by write() when it reaches the tensor."""
        if not isinstance(name, str) or not name or len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(f"tensor name must be 1 to {MAX_NAME_BYTES} bytes of UTF-8, got {name!r}")
        if "\0" in name:
            raise ValueError(f"tensor name {name!r} holds a NUL byte (names are C strings in ggml)")
        if name in self._tensors:
            raise ValueError(f"duplicate tensor name '{name}'")
        ttype = None if type is None else GGMLType(type)
        if callable(data):  # produced while writing: one tensor in memory at a time (the converter streams so)
            if ttype is None or shape is None:
                raise ValueError(f"tensor '{name}': a callable needs type= and shape=")
            shape = tuple(int(d) for d in shape)
            self._check_shape(name, shape, ttype)
            self._tensors[name] = (shape, ttype, _Deferred(data, self._nbytes(shape, ttype)))
            return
        raw = isinstance(data, (bytes, bytearray, memoryview)) or (
            isinstance(data, np.ndarray) and data.dtype == np.uint8 and ttype not in (None, GGMLType.I8)
        )
        if raw:
            if ttype is None or shape is None:
                raise ValueError(f"tensor '{name}': raw bytes need type= and shape=")
            buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
        else:
            arr = np.asarray(data)
            if ttype is None:
                ttype = _DTYPE_TO_TENSOR_TYPE.get(_little(arr.dtype))
                if ttype is None:
                    raise TypeError(f"tensor '{name}': no GGML type for numpy {arr.dtype}; give type=")
            if shape is None:
                shape = tuple(reversed(arr.shape)) or (1,)
            if ttype == GGMLType.BF16:
                buf = _to_bf16(arr).reshape(-1).view(np.uint8)
            elif ttype in _TENSOR_DTYPES:
                buf = np.ascontiguousarray(arr, dtype=_TENSOR_DTYPES[ttype]).reshape(-1).view(np.uint8)
            else:
                raise TypeError(f"tensor '{name}': {ttype.name} data must be given as raw bytes (uint8), quantized")
        shape = tuple(int(d) for d in shape)
        self._check_shape(name, shape, ttype)
        need = self._nbytes(shape, ttype)
        if buf.nbytes != need:
            raise ValueError(f"tensor '{name}': {buf.nbytes} bytes given, {ttype.name} {shape} needs {need}")
        self._tensors[name] = (shape, ttype, np.ascontiguousarray(buf))

    @staticmethod
    def _check_shape(name: str, shape: tuple[int, ...], ttype: GGMLType) -> None:
        if not 1 <= len(shape) <= MAX_DIMS or any(d < 1 for d in shape):
            raise ValueError(f"tensor '{name}': shape {shape} must have 1 to {MAX_DIMS} positive dimensions")
        block = GGML_BLOCK_SIZES[ttype][0]
        if shape[0] % block:
            raise ValueError(f"tensor '{name}': ne[0] = {shape[0]} is not a multiple of the {ttype.name} block {block}")

    @staticmethod
    def _nbytes(shape: tuple[int, ...], ttype: GGMLType) -> int:
        block, size = GGML_BLOCK_SIZES[ttype]
        return int(np.prod(shape, dtype=object)) // block * size

    # ---- output ----
    def header_bytes(self) -> bytes:
        """Everything before the data section: header, metadata, tensor infos (no padding)."""
        parts = [GGUF_MAGIC, _U32.pack(self.version), _U64.pack(len(self._tensors)), _U64.pack(len(self._kv))]
        for key, data in self._kv.items():
            parts += [_encode_string(key), data]
        offset = 0
        for name, (shape, ttype, buf) in self._tensors.items():
            parts += [_encode_string(name), _U32.pack(len(shape)), *(_U64.pack(d) for d in shape)]
            parts += [_U32.pack(ttype), _U64.pack(offset)]
            offset = _align(offset + buf.nbytes, self.alignment)
        return b"".join(parts)

    def write(self) -> Path:
        """Write the file (header, padding, each tensor padded to the alignment) and return its path."""
        header = self.header_bytes()
        with open(self.path, "wb") as f:
            f.write(header)
            f.write(b"\0" * (_align(len(header), self.alignment) - len(header)))
            for name, (_, _, buf) in self._tensors.items():
                if isinstance(buf, _Deferred):
                    buf = buf.produce(name)
                f.write(memoryview(buf))
                f.write(b"\0" * (_align(buf.nbytes, self.alignment) - buf.nbytes))
        self._written = True
        return self.path

    def __enter__(self) -> GGUFWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None and not self._written:
            self.write()
