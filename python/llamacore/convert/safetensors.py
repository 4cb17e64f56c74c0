"""Safetensors files, memory-mapped and checked before anything is read.

Format: an 8-byte little-endian header length N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin,
end]}, "__metadata__": {...}}, then the data section; offsets are relative to it. Every entry is checked against the
file (dtype known, shape of non-negative ints, begin <= end inside the data section, end - begin equal to the
shape's size, no two tensors overlapping), so a header that lies can never make us read past the file or allocate
what its numbers say: tensors are numpy views of the mapping, and only the caller's float32 conversion allocates.

    with SafetensorsFile("model.safetensors") as f:
        f.names()                       # in file order
        f.info("lm_head.weight")        # TensorInfo(dtype='BF16', shape=(49152, 576), ...)
        f.float32("lm_head.weight")     # float32 ndarray (a copy; BF16/F16 widened)

ModelWeights(folder) opens model.safetensors or the shards listed in model.safetensors.index.json.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConvertError

# dtype name -> numpy dtype of the stored elements (BF16 is read as its uint16 bits)
DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")
MAX_HEADER_BYTES = 100 << 20  # the safetensors library's own limit
MAX_DIMS = 8


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int  # byte offsets in the data section
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


class SafetensorsFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._file = open(self.path, "rb")
        except OSError as e:
            raise ConvertError(f"cannot open {self.path}: {e.strerror or e}") from None
        self._map = None
        try:
            self._tensors, self.metadata, data_start = self._read_header()
            size = os.fstat(self._file.fileno()).st_size
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
            self._data_start = data_start
        except BaseException:
            self.close()
            raise

    def _bad(self, why: str) -> ConvertError:
        return ConvertError(f"{self.path}: not a valid safetensors file: {why}")

    def _read_header(self) -> tuple[dict[str, TensorInfo], dict, int]:
        size = os.fstat(self._file.fileno()).st_size
        head = self._file.read(8)
        if len(head) < 8:
            raise self._bad(f"{size} bytes, too short for the 8-byte header length")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise self._bad(f"header length {n} runs past the end of the file ({size} bytes)")
        if n > MAX_HEADER_BYTES:
            raise self._bad(f"header length {n} is over the {MAX_HEADER_BYTES}-byte limit")
        raw = self._file.read(n)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise self._bad(f"header is not JSON ({e})") from None
        if not isinstance(header, dict):
            raise self._bad("header is not a JSON object")
        data_start, data_size = 8 + n, size - 8 - n
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict):
            raise self._bad("__metadata__ is not an object")
        tensors: dict[str, TensorInfo] = {}
        for name, e in header.items():
            tensors[name] = self._check_entry(name, e, data_size)
        spans = sorted((t.begin, t.end, t.name) for t in tensors.values() if t.end > t.begin)
        for (_, end_a, a), (begin_b, _, b) in zip(spans, spans[1:], strict=False):
            if begin_b < end_a:
                raise self._bad(f"tensors '{a}' and '{b}' overlap")
        return tensors, meta, data_start

    def _check_entry(self, name: str, e, data_size: int) -> TensorInfo:
        if not isinstance(e, dict):
            raise self._bad(f"entry '{name}' is not an object")
        dtype, shape, offsets = e.get("dtype"), e.get("shape"), e.get("data_offsets")
        if dtype not in DTYPES:
            raise self._bad(f"tensor '{name}' has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or len(shape) > MAX_DIMS:
            raise self._bad(f"tensor '{name}' has shape {shape!r}")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise self._bad(f"tensor '{name}' has shape {shape!r} (dimensions must be non-negative integers)")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise self._bad(f"tensor '{name}' has data_offsets {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise self._bad(f"tensor '{name}' has data_offsets [{begin}, {end}] outside the {data_size}-byte data")
        n = 1
        for d in shape:  # Python ints: no overflow whatever the header says
            n *= d
        if n * DTYPES[dtype].itemsize != end - begin:
            raise self._bad(
                f"tensor '{name}': {dtype} {shape} needs {n * DTYPES[dtype].itemsize} bytes, "
                f"its offsets span {end - begin}"
            )
        return TensorInfo(name, dtype, tuple(shape), begin, end)

    # ---- access ----
    def names(self) -> list[str]:
        return [t.name for t in sorted(self._tensors.values(), key=lambda t: t.begin)]

    def __contains__(self, name: str) -> bool:
        return name in self._tensors

    def info(self, name: str) -> TensorInfo:
        return self._tensors[name]

    def raw(self, name: str) -> np.ndarray:
        """The stored elements as a read-only numpy view of the mapping (BF16 as uint16 bits)."""
        t = self._tensors[name]
        dt = DTYPES[t.dtype]
        if t.nbytes == 0 or self._map is None:
            return np.zeros(t.shape, dtype=dt)
        return np.frombuffer(
            self._map, dtype=dt, count=t.nbytes // dt.itemsize, offset=self._data_start + t.begin
        ).reshape(t.shape)

    def float32(self, name: str) -> np.ndarray:
        """The tensor widened (or narrowed, for F64) to a new float32 array."""
        t = self._tensors[name]
        if t.dtype not in FLOAT_DTYPES:
            raise ConvertError(f"{self.path}: tensor '{name}' is {t.dtype}, not a floating-point type")
        a = self.raw(name)
        if t.dtype == "BF16":
            return (a.astype(np.uint32) << 16).view(np.float32)
        return a.astype(np.float32)

    def close(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view is still alive: the mapping goes with it
                pass
            self._map = None
        self._file.close()

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ModelWeights:
    """All the tensors of a Hugging Face folder: model.safetensors, or the shards its index names."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        index = self.folder / "model.safetensors.index.json"
        self._files: dict[str, SafetensorsFile] = {}
        self._where: dict[str, str] = {}  # tensor name -> shard file name
        try:
            if index.is_file():
                self._open_index(index)
            elif (self.folder / "model.safetensors").is_file():
                f = self._open("model.safetensors")
                self._where = {n: "model.safetensors" for n in f.names()}
            else:
                # llama.cpp reads model*.safetensors (not e.g. Mistral's consolidated.safetensors beside them)
                found = sorted(p.name for p in self.folder.glob("model*.safetensors"))
                if not found:
                    bins = sorted(p.name for p in self.folder.glob("*.bin"))
                    hint = (
                        f" (found {', '.join(bins)}: PyTorch pickles are not read; save as safetensors)" if bins else ""
                    )
                    raise ConvertError(f"{self.folder}: no model.safetensors or model.safetensors.index.json{hint}")
                for name in found:
                    f = self._open(name)
                    for t in f.names():
                        if t in self._where:
                            raise ConvertError(f"tensor '{t}' is in both {self._where[t]} and {name}")
                        self._where[t] = name
        except BaseException:
            self.close()
            raise

    def _open_index(self, index: Path) -> None:
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConvertError(f"{index}: cannot read it ({e})") from None
        wmap = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(wmap, dict) or not wmap:
            raise ConvertError(f"{index}: no weight_map")
        for t, shard in wmap.items():
            if not isinstance(shard, str) or "/" in shard or "\\" in shard or shard in ("", ".", ".."):
                raise ConvertError(f"{index}: tensor '{t}' names the shard {shard!r}")
            if not (self.folder / shard).is_file():
                raise ConvertError(f"{index}: shard {shard} (holding '{t}') is missing from {self.folder}")
        for t, shard in wmap.items():
            f = self._files.get(shard) or self._open(shard)
            if t not in f:
                raise ConvertError(f"{index}: tensor '{t}' is not in {shard}")
        self._where = dict(wmap)

    def _open(self, name: str) -> SafetensorsFile:
        f = SafetensorsFile(self.folder / name)
        self._files[name] = f
        return f

    def names(self) -> list[str]:
        """Tensor names in llama.cpp's converter order: shard files by name, then names sorted within each."""
        return sorted(self._where, key=lambda t: (self._where[t], t))

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def info(self, name: str) -> TensorInfo:
        return self._files[self._where[name]].info(name)

    def float32(self, name: str) -> np.ndarray:
        return self._files[self._where[name]].float32(name)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> ModelWeights:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
