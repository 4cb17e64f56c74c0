"""GGUFWriter: every value type and tensor type round-trips through GGUFFile, files open identically in the `gguf`
package (and its files in ours), and rewriting the real models reproduces them byte for byte."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from llamacore.gguf import GGML_BLOCK_SIZES, GGMLType, GGUFFile, GGUFValueType, GGUFWriter, tensor_nbytes

V = GGUFValueType
SCALARS = {
    "s.u8": (200, V.UINT8),
    "s.i8": (-100, V.INT8),
    "s.u16": (60000, V.UINT16),
    "s.i16": (-30000, V.INT16),
    "s.u32": (4_000_000_000, V.UINT32),
    "s.i32": (-2_000_000_000, V.INT32),
    "s.f32": (0.1, V.FLOAT32),
    "s.bool": (True, V.BOOL),
    "s.str": ("héllo wörld ✓ 🦙", V.STRING),
    "s.u64": (2**64 - 1, V.UINT64),
    "s.i64": (-(2**63), V.INT64),
    "s.f64": (0.1, V.FLOAT64),
}
ARRAYS = {
    "a.u8": (np.array([0, 255], np.uint8), V.UINT8),
    "a.i8": (np.array([-128, 127], np.int8), V.INT8),
    "a.u16": (np.array([1, 65535], np.uint16), V.UINT16),
    "a.i16": (np.array([-5, 5], np.int16), V.INT16),
    "a.u32": (np.array([1, 2, 3], np.uint32), V.UINT32),
    "a.i32": (np.array([-1, 0, 1], np.int32), V.INT32),
    "a.f32": (np.array([0.5, -1.25], np.float32), V.FLOAT32),
    "a.bool": (np.array([True, False, True]), V.BOOL),
    "a.str": (["", "a", "ü", "<|im_start|>", "Ġthe"], V.STRING),
    "a.u64": (np.array([2**64 - 1], np.uint64), V.UINT64),
    "a.i64": (np.array([-(2**63)], np.int64), V.INT64),
    "a.f64": (np.array([1e300], np.float64), V.FLOAT64),
    "a.empty": (np.zeros(0, np.int32), V.INT32),
}


def _tensors() -> dict[str, tuple]:
    rng = np.random.default_rng(0)
    out = {
        "f32": (rng.standard_normal((3, 64)).astype(np.float32), None),
        "f16": (rng.standard_normal((2, 32)).astype(np.float16), None),
        "f64": (rng.standard_normal(7), None),
        "i8": (np.arange(-3, 3, dtype=np.int8), None),
        "i16": (np.arange(6, dtype=np.int16), None),
        "i32": (np.arange(6, dtype=np.int32).reshape(1, 2, 3), None),
        "i64": (np.arange(6, dtype=np.int64).reshape(1, 1, 2, 3), None),
    }
    for t in (GGMLType.Q4_0, GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.IQ4_XS, GGMLType.MXFP4):
        block, size = GGML_BLOCK_SIZES[t]
        shape = (block * 2, 3)
        out[t.name.lower()] = (rng.integers(0, 256, tensor_nbytes(t, shape), dtype=np.uint8), (t, shape))
    return out


def _write_everything(path, alignment: int = 32, version: int = 3):
    w = GGUFWriter(path, alignment=alignment, version=version)
    for k, (v, t) in {**SCALARS, **ARRAYS}.items():
        w.add(k, v, t)
    w.add("a.nested", [[1, 2], [3]], (V.ARRAY, V.ARRAY))
    w.add("a.nested_str", [["x", "y"], ["z"]])
    for name, (data, spec) in _tensors().items():
        if spec is None:
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, type=spec[0], shape=spec[1])
    return w.write()


@pytest.mark.parametrize("alignment", [1, 32, 64, 4096])
def test_roundtrip_every_type(tmp_path, alignment):
    path = _write_everything(tmp_path / "all.gguf", alignment)
    with GGUFFile(path) as f:
        assert f.alignment == alignment and f.data_offset % alignment == 0
        for k, (v, t) in SCALARS.items():
            assert f.metadata_types[k] == t
            want = float(np.float32(v)) if t == V.FLOAT32 else v
            assert f.metadata[k] == want and type(f.metadata[k]) is type(v), k
        for k, (v, t) in ARRAYS.items():
            assert f.metadata_types[k] == (V.ARRAY, t)
            if t == V.STRING:
                assert f.metadata[k] == v
            else:
                assert f.metadata[k].dtype == v.dtype and f.metadata[k].tolist() == v.tolist(), k
        nested = f.metadata["a.nested"]
        assert [x.tolist() for x in nested] == [[1, 2], [3]]
        assert f.metadata["a.nested_str"] == [["x", "y"], ["z"]]
        for name, (data, spec) in _tensors().items():
            t = f.tensors[name]
            assert t.offset % alignment == 0
            if spec is None:
                assert t.shape == tuple(reversed(data.shape)) and t.as_array().dtype == data.dtype
                np.testing.assert_array_equal(t.as_array(), data)
            else:
                assert (t.type, t.shape) == spec and t.data.tobytes() == data.tobytes()


def test_gguf_package_reads_our_files_identically(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = _write_everything(tmp_path / "all.gguf", alignment=64)
    r = gguf.GGUFReader(path)
    with GGUFFile(path) as f:
        assert r.alignment == f.alignment and r.data_offset == f.data_offset
        fields = {k: v for k, v in r.fields.items() if not k.startswith("GGUF.")}
        assert list(fields) == list(f.metadata)
        for k, field in fields.items():
            vt = f.metadata_types[k]
            vt = vt if isinstance(vt, tuple) else (vt,)
            assert [int(t) for t in field.types][:2] == [int(t) for t in vt][: 1 if k == "a.empty" else 2]
            if k.startswith("a.nested"):
                continue  # the gguf package flattens nested arrays in contents()
            ours, theirs = f.metadata[k], field.contents()
            if isinstance(ours, np.ndarray):
                np.testing.assert_array_equal(ours, np.asarray(theirs, dtype=ours.dtype))
            elif isinstance(ours, float):
                assert ours == pytest.approx(theirs, rel=1e-15)
            else:
                assert ours == theirs, k
        assert [t.name for t in r.tensors] == list(f.tensors)
        for t in r.tensors:
            mine = f.tensors[t.name]
            assert int(t.tensor_type) == mine.type and list(t.shape) == list(mine.shape)
            assert t.data_offset == mine.offset and t.n_bytes == mine.nbytes
            assert np.asarray(t.data).tobytes() == mine.data.tobytes()


def test_we_read_gguf_package_files_identically(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "theirs.gguf"
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_uint32("llama.context_length", 2048)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_string("tokenizer.chat_template", "{{ messages }}")
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "hé"])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.5, -2.0])
    w.add_tensor("output_norm.weight", np.arange(64, dtype=np.float32))
    w.add_tensor("tok.weight", np.zeros((4, 32), np.float16))
    q = np.arange(2 * 18, dtype=np.uint8).reshape(2, 18)
    w.add_tensor("q.weight", q, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with GGUFFile(path) as f:
        assert f.metadata["general.architecture"] == "llama"
        assert f.metadata["llama.context_length"] == 2048 and f.metadata_types["llama.context_length"] == V.UINT32
        assert f.metadata["tokenizer.ggml.tokens"] == ["<s>", "</s>", "hé"]
        assert f.metadata["tokenizer.ggml.scores"].tolist() == [0.0, -1.5, -2.0]
        assert f.metadata["tokenizer.ggml.add_bos_token"] is True
        np.testing.assert_array_equal(f.tensors["output_norm.weight"].as_array(), np.arange(64, dtype=np.float32))
        assert f.tensors["tok.weight"].shape == (32, 4) and f.tensors["tok.weight"].type == GGMLType.F16
        assert f.tensors["q.weight"].type == GGMLType.Q4_0 and f.tensors["q.weight"].shape == (32, 2)
        assert f.tensors["q.weight"].data.tobytes() == q.tobytes()


def test_bf16_matches_gguf_package_rounding():
    gguf = pytest.importorskip("gguf")
    from llamacore.gguf.writer import _to_bf16

    x = np.random.default_rng(1).standard_normal(4096).astype(np.float32) * 1000
    x[:4] = [np.inf, -np.inf, 0.0, -0.0]
    ours = _to_bf16(x)
    theirs = gguf.quants.quantize(x, gguf.GGMLQuantizationType.BF16)
    assert ours.tobytes() == np.asarray(theirs).tobytes()


def test_invalid_utf8_string_values_survive(tmp_path):
    raw = b"ok \xff\xfe bytes"
    w = GGUFWriter(tmp_path / "u.gguf")
    w.add("s", raw)
    w.add("a", [b"\x80", "fine"], V.STRING)
    with GGUFFile(w.write()) as f:
        assert f.metadata["s"].encode("utf-8", "surrogateescape") == raw
        assert f.metadata["a"][0].encode("utf-8", "surrogateescape") == b"\x80"
        w2 = GGUFWriter(tmp_path / "u2.gguf")
        for k, v in f.metadata.items():
            w2.add(k, v, f.metadata_types[k])
        w2.write()
    assert (tmp_path / "u2.gguf").read_bytes() == (tmp_path / "u.gguf").read_bytes()


def _copy(f: GGUFFile, path) -> GGUFWriter:
    w = GGUFWriter(path, alignment=f.alignment, version=f.version)
    for k, v in f.metadata.items():
        if k != "general.alignment":
            w.add(k, v, f.metadata_types[k])
    for t in f.tensors.values():
        w.add_tensor(t.name, t.data, type=t.type, shape=t.shape)
    return w


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def test_rewriting_real_models_is_byte_identical(tmp_path, smollm2_path, gemma3_path):
    """Both real models (written by llama.cpp's tools) come out of GGUFFile -> GGUFWriter byte for byte, so our
    files follow llama.cpp's layout exactly: the headers for both, the whole file for SmolLM2."""
    for src in (smollm2_path, gemma3_path):
        with GGUFFile(src) as f:
            header = _copy(f, tmp_path / "unused.gguf").header_bytes()
            with open(src, "rb") as fh:
                assert fh.read(len(header)) == header
            assert f.data_offset == -(-len(header) // f.alignment) * f.alignment
    with GGUFFile(smollm2_path) as f:
        out = _copy(f, tmp_path / "copy.gguf").write()
    assert _sha256(out) == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_context_manager_writes(tmp_path):
    with GGUFWriter(tmp_path / "cm.gguf") as w:
        w.add("k", "v")
    assert GGUFFile(tmp_path / "cm.gguf").metadata == {"k": "v"}
    with pytest.raises(RuntimeError):
        with GGUFWriter(tmp_path / "no.gguf") as w:
            raise RuntimeError
    assert not (tmp_path / "no.gguf").exists()


def test_type_inference():
    from llamacore.gguf.writer import _infer_element, _infer_scalar

    assert _infer_scalar(True) == V.BOOL and _infer_scalar(3) == V.UINT32 and _infer_scalar(-3) == V.INT32
    assert _infer_scalar(2**40) == V.INT64 and _infer_scalar(2**64 - 1) == V.UINT64 and _infer_scalar(1.5) == V.FLOAT32
    assert _infer_element([1, 2**33]) == V.INT64 and _infer_element([1, -1]) == V.INT32
    assert _infer_element([1, 2.5]) == V.FLOAT32 and _infer_element(["a", b"b"]) == V.STRING
    assert _infer_element(np.zeros(2, ">f8")) == V.FLOAT64


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda w: (w.add("k", 1), w.add("k", 2)), "duplicate metadata key"),
        (lambda w: w.add("", 1), "non-empty"),
        (lambda w: w.add("k", -1, V.UINT32), "does not fit"),
        (lambda w: w.add("k", 1e39, V.FLOAT32), "does not fit"),
        (lambda w: w.add("k", [1, "a"]), "mixes"),
        (lambda w: w.add("k", []), "empty array"),
        (lambda w: w.add("k", object()), "cannot store"),
        (lambda w: w.add("k", [-1], V.UINT8), "do not fit"),
        (lambda w: w.add("general.alignment", 24, V.UINT32), "power of two"),
        (lambda w: w.add("general.alignment", 32, V.UINT64), "UINT32"),
        (lambda w: (w.add_tensor("t", np.zeros(2, np.float32)), w.add_tensor("t", np.zeros(2, np.float32))), "dup"),
        (lambda w: w.add_tensor("", np.zeros(2, np.float32)), "tensor name"),
        (lambda w: w.add_tensor("x" * 64, np.zeros(2, np.float32)), "tensor name"),
        (lambda w: w.add_tensor("t", np.zeros((1, 1, 1, 1, 2), np.float32)), "1 to 4"),
        (lambda w: w.add_tensor("t", np.zeros(0, np.float32)), "positive"),
        (lambda w: w.add_tensor("t", np.zeros(18, np.uint8), type=GGMLType.Q4_0), "need type= and shape="),
        (lambda w: w.add_tensor("t", np.zeros(17, np.uint8), type=GGMLType.Q4_0, shape=(32,)), "needs 18"),
        (lambda w: w.add_tensor("t", np.zeros(18, np.uint8), type=GGMLType.Q4_0, shape=(16, 2)), "multiple"),
        (lambda w: w.add_tensor("t", np.zeros(32, np.float32), type=GGMLType.Q4_0), "raw bytes"),
        (lambda w: w.add_tensor("t", np.zeros(2, np.complex64)), "no GGML type"),
        (lambda w: w.add("a\0b", 1), "NUL"),  # the reader refuses NUL bytes in names: so does the writer
        (lambda w: w.add_tensor("t\0", np.zeros(2, np.float32)), "NUL"),
        (lambda w: w.add("k", [np.ones(1, np.int8)] * 65537), "65536"),  # the reader's bound, over the file
        (lambda w: (w.add("a", [np.ones(1, np.int8)] * 40000), w.add("b", [np.ones(1, np.int8)] * 40000)), "65536"),
    ],
)
def test_writer_rejects_bad_input(tmp_path, call, error):
    w = GGUFWriter(tmp_path / "bad.gguf")
    with pytest.raises((ValueError, TypeError), match=error):
        call(w)
