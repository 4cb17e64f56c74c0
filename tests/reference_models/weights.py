"""GGUF weights for the float64 reference models: metadata plus tensors dequantized on demand.

Dequantization uses the `gguf` package's numpy reference (gguf.quants.dequantize), independent of llamacore's own
quant code. Reading uses llamacore.gguf when it is available (fast, zero-copy), else gguf.GGUFReader.
"""

from __future__ import annotations

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize


class WeightSource:
    """metadata: dict; raw[name] = (uint8 bytes [n_rows, row_bytes], GGML type id, numpy shape (rows, cols))."""

    def __init__(self, metadata: dict, raw: dict, keepalive=None):
        self.metadata = metadata
        self.raw = raw
        self._keepalive = keepalive
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, path) -> WeightSource:
        try:
            from llamacore.gguf import GGUFFile
        except ImportError:
            return cls._open_with_gguf_package(path)
        f = GGUFFile(path)
        raw = {}
        for name, t in f.tensors.items():
            raw[name] = _rows(np.asarray(t.data), int(t.type), tuple(int(s) for s in t.shape))
        return cls(dict(f.metadata), raw, keepalive=f)

    @classmethod
    def _open_with_gguf_package(cls, path) -> WeightSource:
        from gguf import GGUFReader

        r = GGUFReader(path)
        meta = {}
        for k, field in r.fields.items():
            if k.startswith("GGUF."):
                continue
            try:
                meta[k] = field.contents()
            except Exception:  # unusual field types: not needed by the models
                continue
        raw = {}
        for t in r.tensors:
            raw[t.name] = _rows(
                np.asarray(t.data).reshape(-1).view(np.uint8), int(t.tensor_type), tuple(int(s) for s in t.shape)
            )
        return cls(meta, raw, keepalive=r)

    def has(self, name: str) -> bool:
        return name in self.raw

    def shape(self, name: str) -> tuple[int, ...]:
        return self.raw[name][2]

    def get(self, name: str) -> np.ndarray:
        """The whole tensor as float64, numpy shape (GGUF's ne reversed: [rows, cols] for matrices)."""
        if name not in self._cache:
            data, qtype, shape = self.raw[name]
            self._cache[name] = _dequant(data, qtype).reshape(shape)
        return self._cache[name]

    def rows(self, name: str, idx) -> np.ndarray:
        """Rows idx of a matrix as float64 [len(idx), cols] (embedding lookups without dequantizing the table)."""
        data, qtype, shape = self.raw[name]
        return _dequant(data[np.asarray(idx)], qtype).reshape(len(idx), shape[-1])

    def row_blocks(self, name: str, chunk: int = 8192):
        """(first row, float64 [rows, cols]) blocks of a large matrix (the lm_head), dequantized one at a time."""
        data, qtype, shape = self.raw[name]
        for a in range(0, shape[0], chunk):
            yield a, _dequant(data[a : a + chunk], qtype).reshape(-1, shape[-1])

    def matmul_t(self, name: str, x: np.ndarray) -> np.ndarray:
        """x @ W.T for a large matrix W, without holding all of W in float64."""
        out = np.empty((x.shape[0], self.shape(name)[0]), dtype=np.float64)
        for a, w in self.row_blocks(name):
            out[:, a : a + w.shape[0]] = x @ w.T
        return out


def _rows(data: np.ndarray, qtype: int, ne: tuple[int, ...]):
    shape = tuple(reversed(ne))
    block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(qtype)]
    n_rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    row_bytes = shape[-1] // block * type_size
    return data[: n_rows * row_bytes].reshape(n_rows, row_bytes), qtype, shape


def _dequant(data: np.ndarray, qtype: int) -> np.ndarray:
    qt = GGMLQuantizationType(qtype)
    if qt == GGMLQuantizationType.F32:
        return data.view(np.float32).astype(np.float64)
    if qt == GGMLQuantizationType.F16:
        return data.view(np.float16).astype(np.float64)
    return dequantize(data, qt).astype(np.float64)
