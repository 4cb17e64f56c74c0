"""A minimal GGUF metadata reader for the tokenizer tests, used until llamacore.gguf.GGUFFile is available.

It reads the key/value section only (no tensors): strings as str, string arrays as lists, numeric arrays as numpy.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {
    0: np.uint8,
    1: np.int8,
    2: np.uint16,
    3: np.int16,
    4: np.uint32,
    5: np.int32,
    6: np.float32,
    7: np.bool_,
    10: np.uint64,
    11: np.int64,
    12: np.float64,
}


def read_metadata(path: str | Path) -> dict:
    data = Path(path).read_bytes() if Path(path).stat().st_size < (1 << 20) else _head(path)
    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    if version not in (2, 3):
        raise ValueError(f"{path}: GGUF version {version}")
    pos = 24
    out: dict = {}

    def read_str(p: int) -> tuple[str, int]:
        (n,) = struct.unpack_from("<Q", data, p)
        return data[p + 8 : p + 8 + n].decode("utf-8", "surrogateescape"), p + 8 + n

    def read_value(t: int, p: int):
        if t in _SCALARS:
            (v,) = struct.unpack_from(_SCALARS[t], data, p)
            return v, p + struct.calcsize(_SCALARS[t])
        if t == 8:
            return read_str(p)
        if t == 9:
            at, n = struct.unpack_from("<IQ", data, p)
            p += 12
            if at in _NUMPY:
                arr = np.frombuffer(data, dtype=_NUMPY[at], count=n, offset=p)
                return arr, p + arr.nbytes
            items = []
            for _ in range(n):
                v, p = read_value(at, p)
                items.append(v)
            return items, p
        raise ValueError(f"{path}: bad metadata type {t}")

    for _ in range(n_kv):
        key, pos = read_str(pos)
        (t,) = struct.unpack_from("<I", data, pos)
        out[key], pos = read_value(t, pos + 4)
    return out


def _head(path) -> bytes:
    # the metadata sits at the front; read until it parses (tensor data can be hundreds of MB)
    size = 16 << 20
    with open(path, "rb") as f:
        while True:
            f.seek(0)
            buf = f.read(size)
            try:
                _probe(buf)
                return buf
            except (struct.error, IndexError):
                if len(buf) < size:
                    raise
                size *= 2


def _probe(buf: bytes) -> None:
    _v, _nt, n_kv = struct.unpack_from("<IQQ", buf, 4)
    pos = 24

    def skip(t: int, p: int) -> int:
        if t in _SCALARS:
            return p + struct.calcsize(_SCALARS[t])
        if t == 8:
            (n,) = struct.unpack_from("<Q", buf, p)
            if p + 8 + n > len(buf):
                raise IndexError
            return p + 8 + n
        at, n = struct.unpack_from("<IQ", buf, p)
        p += 12
        if at in _NUMPY:
            p += n * np.dtype(_NUMPY[at]).itemsize
            if p > len(buf):
                raise IndexError
            return p
        for _ in range(n):
            p = skip(at, p)
        return p

    for _ in range(n_kv):
        (n,) = struct.unpack_from("<Q", buf, pos)
        pos += 8 + n
        (t,) = struct.unpack_from("<I", buf, pos)
        pos = skip(t, pos + 4)
