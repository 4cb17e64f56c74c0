"""Every tensor of the two real models decodes bit-identically to the gguf package's numpy dequantize.

SmolLM2-135M Q4_1 holds F32, Q4_1 and Q8_0 tensors; Gemma-3-270M Q4_K_M holds F32, Q5_0, Q8_0, Q4_K and Q6_K. Only
the tensor table is read here (a small parser below): gguf.GGUFReader also parses Gemma's 262k-token vocabulary,
which takes ~20 s. Big tensors are compared on a sample of rows unless LLAMACORE_FULL_MODEL_TEST=1 (or -m slow, see
test_models_every_row) so the default run stays short.
"""

from __future__ import annotations

import mmap
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from llamacore import quants

gguf = pytest.importorskip("gguf")

_SCALAR_FMT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


class _Table:
    """name -> (dims in GGUF order, type id, absolute byte offset) of every tensor, and the mmap'ed file."""

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # noqa: SIM115 (kept open with the mmap)
        self.mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.pos = 0
        assert bytes(self.mm[:4]) == b"GGUF"
        self.pos = 4
        _version, n_tensors, n_kv = self._take("I"), self._take("Q"), self._take("Q")
        align = 32
        for _ in range(n_kv):
            key, vtype = self._string(), self._take("I")
            if key == "general.alignment":
                align = self._take("I")
            else:
                self._skip(vtype)
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            dims = [self._take("Q") for _ in range(self._take("I"))]
            infos.append((name, dims, self._take("I"), self._take("Q")))
        data = (self.pos + align - 1) // align * align
        self.tensors = {name: (dims, t, data + off) for name, dims, t, off in infos}

    def _take(self, fmt: str):
        (v,) = struct.unpack_from("<" + fmt, self.mm, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def _string(self) -> str:
        n = self._take("Q")
        self.pos += n
        return bytes(self.mm[self.pos - n : self.pos]).decode("utf-8", "replace")

    def _skip(self, vtype: int) -> None:
        if vtype == 8:
            n = self._take("Q")  # not `self.pos += self._take(...)`: that adds to the pos read before the call
            self.pos += n
        elif vtype == 9:
            etype, n = self._take("I"), self._take("Q")
            if etype in _SCALAR_FMT:
                self.pos += n * struct.calcsize(_SCALAR_FMT[etype])
            else:
                for _ in range(n):
                    self._skip(etype)
        else:
            self.pos += struct.calcsize(_SCALAR_FMT[vtype])

    def raw(self, name: str) -> np.ndarray:
        dims, t, off = self.tensors[name]
        n = int(np.prod(dims))
        return np.frombuffer(self.mm, np.uint8, count=quants.row_bytes(t, n), offset=off)


def _check_model(path: Path, max_rows: int | None) -> set[str]:
    table = _Table(path)
    seen = set()
    for name, (dims, t, _) in table.tensors.items():
        qt = quants.QuantType(t)
        seen.add(qt.name)
        raw = table.raw(name)
        rows = int(np.prod(dims[1:]))
        row_bytes = raw.size // rows
        got = quants.dequantize(raw, qt, dims).reshape(rows, dims[0])
        pick = slice(None)
        if max_rows is not None and rows > max_rows:
            pick = np.unique(np.r_[0, rows - 1, np.random.default_rng(rows).integers(0, rows, max_rows - 2)])
        ref_raw = raw.reshape(rows, row_bytes)[pick]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            want = np.asarray(gguf.quants.dequantize(ref_raw, gguf.GGMLQuantizationType(t)), np.float32)
        assert np.array_equal(got[pick].view(np.uint32), want.view(np.uint32)), f"{path.name}: {name} ({qt.name})"
    return seen


_FULL = os.environ.get("LLAMACORE_FULL_MODEL_TEST") == "1"


def test_smollm2_every_tensor(smollm2_path: Path):
    assert _check_model(smollm2_path, None if _FULL else 2048) == {"F32", "Q4_1", "Q8_0"}


def test_gemma3_every_tensor(gemma3_path: Path):
    assert _check_model(gemma3_path, None if _FULL else 2048) == {"F32", "Q5_0", "Q8_0", "Q4_K", "Q6_K"}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm2_path", "gemma3_path"])
def test_models_every_row(model: str, request: pytest.FixtureRequest):
    _check_model(request.getfixturevalue(model), None)
