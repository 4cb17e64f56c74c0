"""Our reference quantizers against llama.cpp's own output, byte for byte.

tests/data/quants/golden.npz holds fixed inputs (normal, uniform, heavy-tailed, outliers, sparse, zeros, signed
zeros, constants, exact ties, offsets, values of 1e4 / 1e-5 / 1e-30 / 1e30) and the bytes llama.cpp wrote for them:
ggml_quantize_chunk (no importance matrix) for the weight formats and quantize_row_q8_1_ref / quantize_row_q8_K_ref
for the activation formats, from the libggml-base.so (ggml 0.25.3) that llama-cpp-python 0.3.36 builds. Made by
tests/data/quants/make_golden.py (not run in CI).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llamacore import quants

GOLDEN = Path(__file__).parent / "data" / "quants" / "golden.npz"
FORMATS = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q8_K"]
FORMATS += ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as z:
        return {k: z[k] for k in z.files}


def _cases(golden: dict[str, np.ndarray]) -> list[str]:
    return sorted(k[2:] for k in golden if k.startswith("x/"))


@pytest.mark.parametrize("name", FORMATS)
def test_bytes_match_llama_cpp(golden: dict[str, np.ndarray], name: str):
    cases = _cases(golden)
    assert len(cases) >= 15
    for case in cases:
        x = golden[f"x/{case}"]
        got = quants.quantize(x, name).reshape(-1)
        want = golden[f"{name}/{case}"]
        if not np.array_equal(got, want):
            ts = quants.type_size(name)
            bad = np.flatnonzero((got.reshape(-1, ts) != want.reshape(-1, ts)).any(axis=1))
            n_blocks = got.size // ts
            pytest.fail(f"{name} on {case}: {bad.size} of {n_blocks} blocks differ from llama.cpp (first {bad[0]})")


@pytest.mark.parametrize("name", FORMATS)
def test_error_within_5_percent_of_llama_cpp(golden: dict[str, np.ndarray], name: str):
    """The issue's criterion, measured directly: relative RMSE of our round trip vs llama.cpp's bytes decoded."""
    for case in ("normal", "uniform", "student_t2", "outliers", "weights", "offsets"):
        x = golden[f"x/{case}"]
        shape = list(x.shape[::-1])
        ours = quants.dequantize(quants.quantize(x, name), name, shape)
        theirs = quants.dequantize(golden[f"{name}/{case}"], name, shape)
        e_ours = np.sqrt(np.mean((ours - x) ** 2) / np.mean(x**2))
        e_theirs = np.sqrt(np.mean((theirs - x) ** 2) / np.mean(x**2))
        assert e_ours <= 1.05 * e_theirs, f"{name} {case}: {e_ours:.5f} vs llama.cpp {e_theirs:.5f}"
