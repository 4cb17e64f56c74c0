"""Exact fp16 / bf16 conversions (csrc/quant/fp16.h), reached through llamacore.quants' F16 and BF16 paths.

half -> float is checked on all 65536 halves; float -> half on every rounding case (each sign/exponent/10-bit
mantissa prefix with the low 13 bits at and around the halfway point) plus random bit patterns, against numpy;
bf16 against the gguf package's numpy code (which mirrors ggml's ggml_compute_fp32_to_bf16).
"""

from __future__ import annotations

import numpy as np
import pytest

from llamacore import quants

gguf = pytest.importorskip("gguf")


def _f16_bits(x: np.ndarray) -> np.ndarray:
    return quants.quantize(x.astype(np.float32).reshape(-1), "F16").view(np.uint16)


def _same_or_both_nan(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-identical where a is not NaN, NaN where a is NaN."""
    nan = np.isnan(a)
    if not np.array_equal(nan, np.isnan(b)):
        return False
    return np.array_equal(a.view(np.uint32)[~nan], b.view(np.uint32)[~nan])


def test_all_halves_to_float_match_numpy():
    halves = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    got = quants.dequantize(halves.view(np.uint8), "F16", [65536])
    want = halves.view(np.float16).astype(np.float32)
    assert _same_or_both_nan(want, got)
    # Not only "a NaN": the payload and sign survive (the quiet bit stays as stored).
    nan = np.isnan(want)
    assert np.array_equal(got.view(np.uint32)[nan], want.view(np.uint32)[nan])


def _rounding_cases() -> np.ndarray:
    prefixes = np.arange(1 << 19, dtype=np.uint32) << np.uint32(13)  # sign | exponent | top 10 mantissa bits
    lows = np.array([0, 1, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x0800, 0x17FF], dtype=np.uint32)
    return (prefixes[:, None] | lows[None, :]).reshape(-1)


def test_float_to_half_rounding_cases_match_numpy():
    bits = _rounding_cases()
    x = bits.view(np.float32)
    finite = np.isfinite(x)
    got = _f16_bits(x)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16).view(np.uint16)
    assert np.array_equal(got[finite], want[finite])
    # NaN stays NaN (sign kept), inf stays inf.
    assert np.all((got[np.isnan(x)] & 0x7FFF) > 0x7C00)
    assert np.array_equal(got[np.isinf(x)], want[np.isinf(x)])


def test_float_to_half_subnormal_results_match_numpy():
    # Results below 2^-14 round with more than 13 dropped bits: sweep every float in [2^-26, 2^-13] on a fine grid.
    lo, hi = np.float32(2.0**-26).view(np.uint32), np.float32(2.0**-13).view(np.uint32)
    bits = np.arange(lo, hi, 101, dtype=np.uint32)  # ~1M floats, every rounding position
    bits = np.concatenate([bits, bits | np.uint32(0x80000000)])
    x = bits.view(np.float32)
    assert np.array_equal(_f16_bits(x), x.astype(np.float16).view(np.uint16))


def test_float_to_half_random_and_edges_match_numpy():
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 1 << 32, size=1_000_000, dtype=np.uint64).astype(np.uint32)
    edges = np.array(
        [0.0, -0.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e-8, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 3e38],
        dtype=np.float32,
    )
    x = np.concatenate([bits.view(np.float32), edges, rng.standard_normal(100_000).astype(np.float32)])
    finite = np.isfinite(x)
    got = _f16_bits(x)
    with np.errstate(over="ignore"):
        assert np.array_equal(got[finite], x[finite].astype(np.float16).view(np.uint16))


def test_bf16_roundtrip_matches_gguf():
    rng = np.random.default_rng(3)
    bits = np.concatenate(
        [
            rng.integers(0, 1 << 32, size=1_000_000, dtype=np.uint64).astype(np.uint32),
            _rounding_cases()[::3],
            np.array([0x7F800000, 0xFF800000, 0x7F800001, 0x7FC00000, 0xFFFFFFFF, 0x7F7FFFFF, 0x00000001], np.uint32),
        ]
    )
    x = bits.view(np.float32)
    got = quants.quantize(x, "BF16")
    want = gguf.quants.quantize(x, gguf.GGMLQuantizationType.BF16).view(np.uint8)
    assert np.array_equal(got, want)
    # bf16 -> float: all 65536 patterns against gguf.
    halves = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.uint8)
    back = quants.dequantize(halves, "BF16", [65536])
    ref = gguf.quants.dequantize(halves, gguf.GGMLQuantizationType.BF16)
    assert np.array_equal(back.view(np.uint32), np.asarray(ref, np.float32).view(np.uint32))
