"""Make tests/data/quants/golden.npz: llama.cpp's own quantizer output on fixed inputs (not run in CI).

Run with the peer's python (llama.cpp through llama-cpp-python 0.3.36, see /work/shared/tools/peer.sh):
    $(bash /work/shared/tools/peer.sh) tests/data/quants/make_golden.py [path/to/libggml-base.so]
(any python with numpy and gguf works when the library path is given). It loads libggml-base from the llama_cpp
package with ctypes and calls
  - ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, imatrix=NULL) for the weight formats (the path
    llama-quantize takes without an importance matrix), and
  - the exported quantize_row_q8_1_ref / quantize_row_q8_K_ref for the activation formats (not quantize_chunk types).
It also decodes every output with ggml's to_float and checks that against the gguf package's numpy dequantize
(printed, not stored: the file stays small). Keys: "x/<case>" float32 (rows, n); "<FORMAT>/<case>" uint8 bytes.
"""

from __future__ import annotations

import ctypes
import hashlib
import pathlib
import sys

import numpy as np

OUT = pathlib.Path(__file__).with_name("golden.npz")

GGML_TYPES = {
    "Q4_0": 2,
    "Q4_1": 3,
    "Q5_0": 6,
    "Q5_1": 7,
    "Q8_0": 8,
    "Q8_1": 9,
    "Q2_K": 10,
    "Q3_K": 11,
    "Q4_K": 12,
    "Q5_K": 13,
    "Q6_K": 14,
    "Q8_K": 15,
    "IQ4_NL": 20,
    "IQ4_XS": 23,
}
FROM_FLOAT_REF_ONLY = {"Q8_1", "Q8_K"}


class TypeTraits(ctypes.Structure):  # struct ggml_type_traits (ggml.h)
    _fields_ = [
        ("type_name", ctypes.c_char_p),
        ("blck_size", ctypes.c_int64),
        ("blck_size_interleave", ctypes.c_int64),
        ("type_size", ctypes.c_size_t),
        ("is_quantized", ctypes.c_bool),
        ("to_float", ctypes.c_void_p),
        ("from_float_ref", ctypes.c_void_p),
    ]


ROW_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)  # to_float(src, dst, n)


def cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240601)

    def normal(n: int) -> np.ndarray:
        return rng.standard_normal(n)

    outliers = normal(1024)
    outliers[rng.integers(0, 1024, 12)] *= 100
    signed_zeros = np.zeros(256)
    signed_zeros[rng.random(256) < 0.5] = -0.0
    c = {
        "normal": normal(4096).reshape(1, 4096),
        "uniform": rng.uniform(-1, 1, 1024).reshape(2, 512),
        "student_t2": rng.standard_t(2, 1024).reshape(1, 1024),
        "outliers": outliers.reshape(1, 1024),
        "sparse": np.where(rng.random(512) < 0.1, normal(512), 0.0).reshape(1, 512),
        "zeros": np.zeros((1, 256)),
        "signed_zeros": signed_zeros.reshape(1, 256),
        "constants": np.stack([np.full(256, v) for v in (1.0, -3.25, 1e-3, 700.0)]),
        "ties": (rng.integers(-8, 9, 512) * 0.25).reshape(1, 512),
        "offsets": np.stack([np.abs(normal(256)) + 3.0, -np.abs(normal(256)) - 3.0]),
        "big": (normal(256) * 1e4).reshape(1, 256),
        "small": (normal(256) * 1e-5).reshape(1, 256),
        "tiny": (normal(256) * 1e-30).reshape(1, 256),
        "huge": (normal(256) * 1e30).reshape(1, 256),
        "weights": (normal(1024) * 0.02).reshape(1, 1024),
    }
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in c.items()}


def main() -> None:
    import gguf

    if len(sys.argv) > 1:
        lib = pathlib.Path(sys.argv[1])
    else:
        import llama_cpp

        lib = next((pathlib.Path(llama_cpp.__file__).parent / "lib").glob("libggml-base.so*"))
    base = ctypes.CDLL(str(lib))
    base.ggml_quantize_chunk.restype = ctypes.c_size_t
    base.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    base.ggml_quantize_chunk.argtypes += [ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    base.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
    base.ggml_get_type_traits.argtypes = [ctypes.c_int]

    out: dict[str, np.ndarray] = {}
    for case, x in cases().items():
        out[f"x/{case}"] = x
        rows, n = x.shape
        for name, tid in GGML_TYPES.items():
            tr = base.ggml_get_type_traits(tid).contents
            assert n % tr.blck_size == 0
            dst = np.zeros(rows * n // tr.blck_size * tr.type_size, np.uint8)
            if name in FROM_FLOAT_REF_ONLY:  # exported reference functions (Q8_K has no from_float_ref in traits)
                fn = getattr(base, f"quantize_row_{name[:2].lower()}{name[2:]}_ref")
                fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64], None
                fn(x.ctypes.data, dst.ctypes.data, x.size)
            else:
                size = base.ggml_quantize_chunk(tid, x.ctypes.data, dst.ctypes.data, 0, rows, n, None)
                assert size == dst.size, (name, size, dst.size)
            if tr.to_float and name not in FROM_FLOAT_REF_ONLY:
                deq = np.zeros(x.size, np.float32)
                ROW_FN(tr.to_float)(dst.ctypes.data, deq.ctypes.data, x.size)
                with np.errstate(all="ignore"):
                    want = np.asarray(gguf.quants.dequantize(dst.reshape(1, -1), tid), np.float32).reshape(-1)
                same = np.array_equal(deq.view(np.uint32), want.view(np.uint32))
                print(f"{name:7s} {case:13s} ggml to_float == gguf numpy: {same}", file=sys.stderr)
            out[f"{name}/{case}"] = dst
    digest = hashlib.sha256(lib.read_bytes()).hexdigest()
    out["meta/source"] = np.array(f"{lib.resolve().name} sha256 {digest}")
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) from {lib.resolve()}", file=sys.stderr)


if __name__ == "__main__":
    main()
