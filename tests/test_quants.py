"""llamacore.quants: dequantize bit-exact with the gguf package's numpy code on random blocks, quantize bit-exact with
gguf.quants.quantize where it has one, the activation quantizers against their rules written in numpy, error budgets
of every format on random data, edge cases and input validation. (Real models: test_quants_models.py; llama.cpp's
own quantizer outputs: test_quants_golden.py.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from llamacore import quants

gguf = pytest.importorskip("gguf")
G = gguf.GGMLQuantizationType

BLOCK_FORMATS = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]
WEIGHT_FORMATS = ["F16", "BF16", *BLOCK_FORMATS]
GGUF_QUANTIZE = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]  # formats gguf.quants can quantize

# Byte offsets of the fp16 fields (scales, mins) in each block; random bytes there give NaN/inf about 1 time in 32.
FP16_FIELDS = {
    "Q4_0": [0],
    "Q4_1": [0, 2],
    "Q5_0": [0],
    "Q5_1": [0, 2],
    "Q8_0": [0],
    "Q2_K": [80, 82],
    "Q3_K": [108],
    "Q4_K": [0, 2],
    "Q5_K": [0, 2],
    "Q6_K": [208],
    "IQ4_NL": [0],
    "IQ4_XS": [0],
}


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same float32 bits, NaN payloads included."""
    a, b = np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def _gguf_dequantize(raw: np.ndarray, name: str) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(gguf.quants.dequantize(raw.reshape(1, -1), G[name]), np.float32).reshape(-1)


def _random_blocks(name: str, nblocks: int, rng: np.random.Generator, sanitize: bool) -> tuple[np.ndarray, int]:
    bs, ts = quants.block_size(name), quants.type_size(name)
    raw = rng.integers(0, 256, size=(nblocks, ts), dtype=np.uint8)
    if sanitize:  # finite scales of varied magnitude and sign
        if name in ("F16", "BF16"):
            vals = rng.standard_normal(nblocks).astype(np.float32)
            raw = quants.quantize(vals, name).reshape(nblocks, ts)
        for off in FP16_FIELDS.get(name, []):
            scales = (rng.standard_normal(nblocks) * 10.0 ** rng.integers(-6, 3, nblocks)).astype(np.float16)
            raw[:, off : off + 2] = scales.view(np.uint8).reshape(nblocks, 2)
    return raw.reshape(-1), nblocks * bs


@pytest.mark.parametrize("sanitize", [True, False], ids=["finite-scales", "raw-bytes"])
@pytest.mark.parametrize("name", WEIGHT_FORMATS)
def test_dequantize_random_blocks_match_gguf(name: str, sanitize: bool):
    rng = np.random.default_rng(abs(hash((name, sanitize))) % 2**32)
    raw, n = _random_blocks(name, 3000 if quants.block_size(name) > 1 else 50_000, rng, sanitize)
    got = quants.dequantize(raw, name, [n])
    want = _gguf_dequantize(raw, name)
    if sanitize:
        assert np.isfinite(got).all()
    assert _bits_equal(got, want)


def _test_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rows of varied character: normal, uniform, heavy-tailed, sparse, zeros, constants, big/small scales, ties."""
    rows = [
        rng.standard_normal(n),
        rng.uniform(-1, 1, n),
        rng.standard_t(2, n),
        np.where(rng.random(n) < 0.1, rng.standard_normal(n), 0.0),  # sparse, whole blocks of +0.0
        np.zeros(n),
        np.full(n, 0.37),
        np.full(n, -2.5),
        rng.standard_normal(n) * 1e4,
        rng.standard_normal(n) * 1e-5,
        rng.integers(-8, 8, n) * 0.25,  # many exact ties for the rounding rules
        np.abs(rng.standard_normal(n)) + 3.0,  # all positive with an offset (mins matter)
        -np.abs(rng.standard_normal(n)) - 3.0,
    ]
    return np.stack(rows).astype(np.float32)


@pytest.mark.parametrize("name", GGUF_QUANTIZE)
def test_quantize_matches_gguf(name: str):
    rng = np.random.default_rng(11)
    x = np.concatenate([_test_rows(rng, 1024), rng.standard_normal((40, 1024)).astype(np.float32)])
    got = quants.quantize(x, name)
    with np.errstate(all="ignore"):
        want = np.asarray(gguf.quants.quantize(x, G[name])).view(np.uint8).reshape(got.shape)
    assert got.shape == (x.shape[0], quants.row_bytes(name, 1024))
    assert np.array_equal(got, want)


def test_signed_zero_blocks_follow_llama_cpp():
    """gguf's numpy quantizers take the sign of a zero from numpy's argmax/min, llama.cpp's loops keep the first
    strictly larger value; on blocks of zeros the fp16 scale's sign bit can differ. We follow llama.cpp."""
    x = np.zeros((1, 32), np.float32)
    x[0, ::2] = -0.0
    d = lambda name: quants.quantize(x, name)[0, :2].view(np.uint16)[0]  # noqa: E731
    assert d("Q4_0") == 0x8000  # max stays +0.0 (never replaced), d = +0.0 / -8 = -0.0
    assert d("Q5_0") == 0x8000
    assert d("Q8_0") == 0x0000  # amax / 127
    m = lambda name: quants.quantize(x, name)[0, 2:4].view(np.uint16)[0]  # noqa: E731
    assert m("Q4_1") == 0x8000 and m("Q5_1") == 0x8000  # min = the first element, -0.0


def _signed_absmax(b: np.ndarray) -> np.ndarray:
    return np.take_along_axis(b, np.abs(b).argmax(axis=-1)[:, None], axis=-1)[:, 0]


def test_q8_0_and_q8_1_activation_rules():
    rng = np.random.default_rng(2)
    x = _test_rows(rng, 256).reshape(-1, 32)
    d = np.abs(x).max(axis=1) / np.float32(127)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    v = x * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))).astype(np.int8)  # roundf: ties away from zero
    q8_0 = quants.quantize(x, "Q8_0").reshape(-1, 34)
    assert np.array_equal(q8_0[:, :2].view(np.float16)[:, 0], d.astype(np.float16))
    assert np.array_equal(q8_0[:, 2:].view(np.int8), q)
    q8_1 = quants.quantize(x, "Q8_1").reshape(-1, 36)
    assert np.array_equal(q8_1[:, :2].view(np.float16)[:, 0], d.astype(np.float16))
    with np.errstate(over="ignore"):  # rows of 1e4: s overflows fp16 to inf, as in llama.cpp
        s = (q.astype(np.int32).sum(axis=1).astype(np.float32) * d).astype(np.float16)  # sum * the fp32 d
    assert np.array_equal(q8_1[:, 2:4].view(np.uint16)[:, 0], s.view(np.uint16))
    assert np.array_equal(q8_1[:, 4:].view(np.int8), q)


def test_q8_K_activation_rules():
    rng = np.random.default_rng(4)
    x = _test_rows(rng, 512).reshape(-1, 256)
    got = quants.quantize(x, "Q8_K").reshape(-1, 292)
    mx = _signed_absmax(x)
    zero = mx == 0
    with np.errstate(divide="ignore"):
        iscale = np.where(zero, np.float32(0), np.float32(-127) / mx).astype(np.float32)
    q = np.minimum(127, np.rint(x * iscale[:, None])).astype(np.int8)  # nearest_int: ties to even
    with np.errstate(divide="ignore"):
        d = np.where(zero, np.float32(0), np.float32(1) / iscale).astype(np.float32)
    assert np.array_equal(got[:, :4].view(np.float32)[:, 0].view(np.uint32), d.view(np.uint32))
    assert np.array_equal(got[:, 4:260].view(np.int8), q)
    bsums = q.reshape(-1, 16, 16).astype(np.int16).sum(axis=2, dtype=np.int16)
    assert np.array_equal(got[:, 260:].view(np.int16), bsums)
    # The largest-magnitude value maps to -127 exactly, so d < 0 when it is positive.
    assert np.all(np.sign(d[~zero]) == -np.sign(mx[~zero]))


# Relative RMSE budgets of quantize -> dequantize on N(0,1) rows (llama.cpp's quantizers give the figures in the
# comments on this data; the budgets leave ~15% of room).
BUDGET = {
    "F16": 3e-4,  # 2.1e-4
    "BF16": 2e-3,  # 1.7e-3
    "Q8_0": 6.5e-3,  # 5.3e-3
    "Q8_1": 6.5e-3,
    "Q8_K": 8e-3,  # 6.9e-3
    "Q6_K": 0.021,  # 0.0177
    "Q5_K": 0.042,  # 0.0360
    "Q5_1": 0.044,  # 0.0377
    "Q5_0": 0.049,  # 0.0425
    "Q4_K": 0.082,  # 0.0712
    "IQ4_NL": 0.088,  # 0.0759
    "IQ4_XS": 0.088,  # 0.0765
    "Q4_1": 0.090,  # 0.0780
    "Q4_0": 0.099,  # 0.0857
    "Q3_K": 0.173,  # 0.1504
    "Q2_K": 0.34,  # 0.2956
}


@pytest.mark.parametrize("name", list(BUDGET))
def test_roundtrip_error_budget(name: str):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((64, 1024)).astype(np.float32)
    y = quants.dequantize(quants.quantize(x, name), name, [1024, 64])
    rel = float(np.sqrt(np.mean((y - x) ** 2) / np.mean(x**2)))
    assert rel <= BUDGET[name], f"{name}: relative RMSE {rel:.4f} over budget {BUDGET[name]}"
    # Finer formats must beat coarser ones on the same data: a sanity check on the budgets' order.
    assert rel >= BUDGET[name] / 2


@pytest.mark.parametrize("name", [*WEIGHT_FORMATS, "Q8_1", "Q8_K"])
def test_zero_and_constant_rows(name: str):
    n = 512
    zero = np.zeros((2, n), np.float32)
    zero[1] = -0.0
    y = quants.dequantize(quants.quantize(zero, name), name, [n, 2])
    assert np.all(y == 0)
    const = np.stack([np.full(n, c, np.float32) for c in (1.0, -3.25, 1e-3, 700.0)])
    y = quants.dequantize(quants.quantize(const, name), name, [n, 4])
    rel = np.abs(y - const) / np.abs(const)
    # Exact up to the fp16 scale; for 1e-3 the K-quant super-scale (~1e-3/63) is an fp16 subnormal and costs ~3%.
    assert rel[[0, 1, 3]].max() < 1e-3, rel.max()
    assert rel.max() < 0.04, rel.max()


@pytest.mark.parametrize("name", BLOCK_FORMATS)
def test_tiny_and_large_values(name: str):
    rng = np.random.default_rng(8)
    base = rng.standard_normal((2, 256)).astype(np.float32)
    for scale, tol in ((1e-3, 0.4), (1e3, 0.4)):
        x = base * np.float32(scale)
        y = quants.dequantize(quants.quantize(x, name), name, [256, 2])
        assert np.isfinite(y).all()
        assert np.sqrt(np.mean((y - x) ** 2) / np.mean(x**2)) < tol
    # Values far below fp16's range: the fp16 scale underflows to 0 (as in llama.cpp) and the row decodes to zeros.
    y = quants.dequantize(quants.quantize(base * np.float32(1e-30), name), name, [256, 2])
    assert np.all(y == 0)
    # Values whose scale exceeds fp16's range: llama.cpp stores an infinite scale; we do the same, no crash.
    quants.quantize(base * np.float32(1e30), name)


@pytest.mark.parametrize("name", BLOCK_FORMATS)
def test_non_finite_input_is_rejected(name: str):
    x = np.ones((2, 256), np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        x[1, 77] = bad
        with pytest.raises(ValueError, match="non-finite.*index 333"):
            quants.quantize(x, name)


def test_non_finite_input_converts_for_float_formats():
    x = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    for name in ("F16", "BF16"):
        y = quants.dequantize(quants.quantize(x, name), name, [4])
        assert np.isnan(y[0]) and y[1] == np.inf and y[2] == -np.inf and y[3] == 1.0


def test_shapes_and_type_spellings():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 64)).astype(np.float32)
    q = quants.quantize(x, "q4_0")
    assert q.shape == (3, 5, 2 * 18) and q.dtype == np.uint8
    for qtype in ("Q4_0", 2, G.Q4_0, quants.QuantType.Q4_0):
        y = quants.dequantize(q, qtype, [64, 5, 3])
        assert y.shape == (3, 5, 64) and y.dtype == np.float32
    assert _bits_equal(quants.dequantize(q.tobytes(), "Q4_0", (64, 15)), y.reshape(15, 64))
    assert _bits_equal(quants.dequantize(memoryview(q.tobytes()), "Q4_0", [64, 15]), y.reshape(15, 64))
    # A non-contiguous or differently typed array is read as its bytes in C order.
    assert _bits_equal(quants.dequantize(q.view(np.uint16), "Q4_0", [64 * 15]), y.reshape(-1))
    # Empty tensors are fine.
    assert quants.dequantize(b"", "Q4_K", [256, 0]).shape == (0, 256)
    assert quants.quantize(np.zeros((0, 256), np.float32), "Q6_K").shape == (0, 210)
    assert quants.row_bytes("Q4_K", 4096) == 16 * 144


def test_bad_input_raises_value_error():
    q = np.zeros(18 * 4, np.uint8)
    with pytest.raises(ValueError, match="unknown quantization type name 'Q9_9'"):
        quants.dequantize(q, "Q9_9", [128])
    with pytest.raises(ValueError, match="unknown GGML type id 4"):
        quants.dequantize(q, 4, [128])
    with pytest.raises(ValueError, match="IQ2_XXS is not supported"):
        quants.dequantize(q, "IQ2_XXS", [256])
    with pytest.raises(ValueError, match="ne\\[0\\]=100 is not a multiple of the Q4_0 block size 32"):
        quants.dequantize(q, "Q4_0", [100])
    with pytest.raises(ValueError, match="needs 72 bytes, got 71"):
        quants.dequantize(q[:71], "Q4_0", [128])
    with pytest.raises(ValueError, match="needs 36 bytes, got 72"):
        quants.dequantize(q, "Q4_0", [32, 2])
    with pytest.raises(ValueError, match="negative dimension"):
        quants.dequantize(q, "Q4_0", [32, -2])
    with pytest.raises(ValueError, match="more than"):
        quants.dequantize(q, "Q4_0", [2**31, 2**31])
    with pytest.raises(ValueError, match="last dimension 100 is not a multiple of the Q4_K block size 256"):
        quants.quantize(np.zeros((2, 100), np.float32), "Q4_K")
    with pytest.raises(ValueError, match="at least a 1-D"):
        quants.quantize(np.float32(1.0), "F16")
    # The binding re-checks byte counts on its own.
    from llamacore import _core

    with pytest.raises(ValueError, match="needs 72 bytes"):
        _core.quants_dequantize(q[:71], 2, 128)
    with pytest.raises(ValueError, match="not supported"):
        _core.quants_quantize(np.zeros(256, np.float32), 16)
