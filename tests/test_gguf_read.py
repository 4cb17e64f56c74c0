"""llamacore.gguf.GGUFFile on the two real models, checked against what the `gguf` package (llama.cpp's Python
reader) reads from them (tests/data/gguf/golden_*.json, made by make_golden.py), plus split models and v2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from llamacore import GGUFError
from llamacore.gguf import GGMLType, GGUFFile, GGUFValueType, GGUFWriter, reader

GOLDEN = Path(__file__).parent / "data" / "gguf"


def _strings_digest(items: list[str]) -> str:
    h = hashlib.sha256()
    for s in items:
        b = s.encode("utf-8", "surrogateescape")
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


@pytest.fixture(params=["smollm2", "gemma3"])
def real_model(request, smollm2_path, gemma3_path) -> Path:
    return smollm2_path if request.param == "smollm2" else gemma3_path


def test_real_model_matches_gguf_package(real_model):
    golden = json.loads((GOLDEN / f"golden_{real_model.stem}.json").read_text())
    with GGUFFile(real_model) as f:
        assert f.version == golden["version"]
        assert f.alignment == golden["alignment"]
        assert f.data_offset == golden["data_offset"]
        assert f.file_size == golden["size"]
        assert list(f.metadata) == list(golden["metadata"])  # same keys, same order
        for key, want in golden["metadata"].items():
            value, vtype = f.metadata[key], f.metadata_types[key]
            types = [t.name for t in (vtype if isinstance(vtype, tuple) else (vtype,))]
            assert types == want["types"], key
            if "value" in want:
                assert value == want["value"], key
            elif want["types"][1] == "STRING":
                assert isinstance(value, list) and all(isinstance(s, str) for s in value)
                assert len(value) == want["count"] and value[:5] == want["first"]
                assert _strings_digest(value) == want["sha256"], key
            else:
                assert isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == want["count"]
                assert (
                    hashlib.sha256(value.astype(value.dtype.newbyteorder("<")).tobytes()).hexdigest() == want["sha256"]
                ), key
        got = [
            {"name": t.name, "type": t.type.name, "shape": list(t.shape), "offset": t.offset, "nbytes": t.nbytes}
            for t in f.tensors.values()
        ]
        assert got == golden["tensors"]


def test_vocabulary_types(gemma3_path):
    with GGUFFile(gemma3_path) as f:
        tokens = f.metadata["tokenizer.ggml.tokens"]
        assert type(tokens) is list and len(tokens) == 262144
        assert tokens[2] == "<bos>" and all(isinstance(t, str) for t in tokens[:1000])
        assert f.metadata["tokenizer.ggml.scores"].dtype == np.float32
        assert f.metadata["tokenizer.ggml.token_type"].dtype == np.int32
        assert f.metadata["tokenizer.ggml.bos_token_id"] == 2
        assert f.metadata["tokenizer.ggml.add_bos_token"] is True
        assert isinstance(f.metadata["gemma3.rope.freq_base"], float)


def test_native_and_python_string_parsers_agree(smollm2_path, monkeypatch):
    with GGUFFile(smollm2_path) as f:
        native = (f.metadata["tokenizer.ggml.tokens"], f.metadata["tokenizer.ggml.merges"])
    assert reader._read_strings_native is not None, "_core.gguf_read_strings missing: rebuild with .ci/dev-build"
    monkeypatch.setattr(reader, "_read_strings_native", None)
    with GGUFFile(smollm2_path) as f:
        assert (f.metadata["tokenizer.ggml.tokens"], f.metadata["tokenizer.ggml.merges"]) == native


def test_tensor_data_is_a_zero_copy_view_of_the_file(smollm2_path):
    with GGUFFile(smollm2_path) as f, open(smollm2_path, "rb") as raw:
        for name in ("token_embd.weight", "blk.0.attn_norm.weight", "output_norm.weight"):
            t = f.tensors[name]
            d = t.data
            assert d.dtype == np.uint8 and d.shape == (t.nbytes,) and not d.flags.writeable
            raw.seek(t.offset)
            assert raw.read(t.nbytes) == d.tobytes()
        norm = f.tensors["output_norm.weight"].as_array()
        assert norm.dtype == np.float32 and norm.shape == (576,) and np.isfinite(norm).all()
        emb = f.tensors["token_embd.weight"]
        assert emb.type == GGMLType.Q8_0 and emb.shape == (576, 49152)
        assert emb.as_array().shape == (49152, 576 // 32 * 34)  # rows of Q8_0 blocks
        assert emb.type.block_size == 32 and emb.type.type_size == 34


def test_close_and_context_manager(smollm2_path):
    f = GGUFFile(smollm2_path)
    t = f.tensors["output_norm.weight"]
    view = t.data
    f.close()  # a live view keeps the mapping, it does not crash
    assert view[:4].tobytes() == open(smollm2_path, "rb").read()[t.offset : t.offset + 4]
    with pytest.raises(ValueError, match="closed"):
        _ = t.data
    with GGUFFile(smollm2_path) as g:
        assert g.tensors
    f.close()  # twice is fine


def _tiny(path: Path, version: int = 3, extra: dict | None = None, tensors: dict | None = None) -> Path:
    w = GGUFWriter(path, version=version)
    w.add("general.architecture", "test")
    for k, v in (extra or {}).items():
        w.add(k, v[0], v[1]) if isinstance(v, tuple) else w.add(k, v)
    for name, arr in (tensors or {"w": np.arange(8, dtype=np.float32)}).items():
        w.add_tensor(name, arr)
    return w.write()


def test_version_2(tmp_path):
    with GGUFFile(_tiny(tmp_path / "v2.gguf", version=2)) as f:
        assert f.version == 2 and f.tensors["w"].as_array().tolist() == list(range(8))


def _write_split(tmp_path: Path, count: int = 3, prefix: str = "m") -> list[Path]:
    paths = []
    for i in range(count):
        p = tmp_path / f"{prefix}-{i + 1:05d}-of-{count:05d}.gguf"
        w = GGUFWriter(p)
        if i == 0:
            w.add("general.architecture", "test")
        w.add("split.no", i, GGUFValueType.UINT16)
        w.add("split.count", count, GGUFValueType.UINT16)
        w.add("split.tensors.count", 2 * count, GGUFValueType.INT32)
        for j in range(2):
            w.add_tensor(f"t{i}.{j}", np.full(5 + j, i * 10 + j, dtype=np.float32))
        paths.append(w.write())
    return paths


def test_split_model_opens_from_first_part(tmp_path):
    paths = _write_split(tmp_path)
    with GGUFFile(paths[0]) as f:
        assert f.paths == paths
        assert list(f.tensors) == ["t0.0", "t0.1", "t1.0", "t1.1", "t2.0", "t2.1"]
        assert f.tensors["t2.1"].part == 2 and f.tensors["t2.1"].as_array().tolist() == [21.0] * 6
        assert f.metadata["general.architecture"] == "test"
        assert f.file_size == sum(p.stat().st_size for p in paths)


def test_split_model_errors(tmp_path):
    paths = _write_split(tmp_path)
    with pytest.raises(GGUFError, match="part 2 of 3.*open the first part"):
        GGUFFile(paths[1])
    paths[2].rename(tmp_path / "elsewhere.gguf")
    with pytest.raises(GGUFError, match="part 3 of 3 is missing"):
        GGUFFile(paths[0])
    # a part that says it is another part
    (tmp_path / "elsewhere.gguf").rename(paths[2])
    paths[1].write_bytes(paths[2].read_bytes())
    with pytest.raises(GGUFError, match="expected part 1 of 3"):
        GGUFFile(paths[0])


def test_split_model_duplicate_tensor_across_parts(tmp_path):
    paths = _write_split(tmp_path, count=2)
    w = GGUFWriter(paths[1])
    w.add("split.no", 1, GGUFValueType.UINT16)
    w.add("split.count", 2, GGUFValueType.UINT16)
    w.add_tensor("t0.0", np.zeros(4, np.float32))
    w.add_tensor("x", np.zeros(4, np.float32))
    w.write()
    with pytest.raises(GGUFError, match="duplicate tensor name 't0.0'"):
        GGUFFile(paths[0])


@pytest.mark.slow
def test_live_against_gguf_package(smollm2_path):
    """The golden file's source, live: every field and tensor as the `gguf` package reads them (about 5 s)."""
    gguf = pytest.importorskip("gguf")
    r = gguf.GGUFReader(smollm2_path)
    with GGUFFile(smollm2_path) as f:
        for name, field in r.fields.items():
            if name.startswith("GGUF."):
                continue
            ours = f.metadata[name]
            theirs = field.contents()
            if isinstance(ours, np.ndarray):
                np.testing.assert_array_equal(ours, np.asarray(theirs, dtype=ours.dtype))
            else:
                assert ours == theirs, name
        for t in r.tensors:
            mine = f.tensors[t.name]
            assert (mine.type, list(mine.shape), mine.offset) == (int(t.tensor_type), list(t.shape), t.data_offset)
            assert mine.data.tobytes() == np.asarray(t.data).tobytes()


@pytest.mark.parametrize(
    "no, count, pattern",
    [
        (0, "3", r"split.count at byte offset \d+: '3' is not an integer"),
        (7, 3, r"split.no at byte offset \d+: part 7 of 3 is impossible"),
        (0, 3, r"split.count at byte offset \d+: a split model of 3 parts must be named"),
    ],
)
def test_split_metadata_errors(tmp_path, no, count, pattern):
    w = GGUFWriter(tmp_path / "not-split-name.gguf")
    w.add("split.no", no, GGUFValueType.UINT16)
    w.add("split.count", count, None if isinstance(count, str) else GGUFValueType.UINT16)
    with pytest.raises(GGUFError, match=pattern):
        GGUFFile(w.write())


@pytest.mark.parametrize(
    "value, vtype, pattern",
    [
        (np.array([6, 6], np.int32), None, r"split.tensors.count at byte offset [1-9]\d*: .* is not an integer"),
        ("6", None, r"split.tensors.count at byte offset [1-9]\d*: '6' is not an integer"),
        (7, GGUFValueType.INT32, r"split.tensors.count at byte offset [1-9]\d*: says 7 tensors, the 3 parts hold 6"),
    ],
)
def test_split_tensors_count_is_checked(tmp_path, value, vtype, pattern):
    paths = _write_split(tmp_path)
    w = GGUFWriter(paths[0])  # the first part again, with another split.tensors.count
    w.add("general.architecture", "test")
    w.add("split.no", 0, GGUFValueType.UINT16)
    w.add("split.count", 3, GGUFValueType.UINT16)
    w.add("split.tensors.count", value, vtype)
    for j in range(2):
        w.add_tensor(f"t0.{j}", np.full(5 + j, j, dtype=np.float32))
    w.write()
    with pytest.raises(GGUFError, match=pattern):
        GGUFFile(paths[0])


def test_single_part_split_keys_are_checked(tmp_path):
    w = GGUFWriter(tmp_path / "one.gguf")
    w.add("split.count", 1, GGUFValueType.UINT16)
    w.add("split.tensors.count", 5, GGUFValueType.INT32)
    w.add_tensor("t", np.zeros(4, np.float32))
    with pytest.raises(GGUFError, match=r"split.tensors.count at byte offset [1-9]\d*: says 5 tensors, the file holds"):
        GGUFFile(w.write())
    w = GGUFWriter(tmp_path / "zero.gguf")
    w.add("split.count", 0, GGUFValueType.UINT16)
    with pytest.raises(GGUFError, match=r"split.count at byte offset [1-9]\d*: a split model of 0 parts"):
        GGUFFile(w.write())


def test_split_part_that_is_not_gguf_or_a_folder(tmp_path):
    paths = _write_split(tmp_path)
    paths[2].write_bytes(b"PK\3\4 not a gguf file")
    with pytest.raises(GGUFError, match=r"m-00003-of-00003.gguf: magic at byte offset 0"):
        GGUFFile(paths[0])
    paths[2].unlink()
    paths[2].mkdir()
    with pytest.raises(GGUFError, match=r"m-00003-of-00003.gguf: magic at byte offset 0: not a regular file"):
        GGUFFile(paths[0])


def test_split_parts_disagreeing(tmp_path):
    paths = _write_split(tmp_path)
    w = GGUFWriter(paths[2])  # the last part says the model has 4 parts
    w.add("split.no", 2, GGUFValueType.UINT16)
    w.add("split.count", 4, GGUFValueType.UINT16)
    w.add_tensor("t2.0", np.zeros(4, np.float32))
    w.write()
    with pytest.raises(GGUFError, match=r"split.count at byte offset [1-9]\d*: expected part 2 of 3 .*2 of 4"):
        GGUFFile(paths[0])
    w = GGUFWriter(paths[2])  # no split keys at all
    w.add_tensor("t2.0", np.zeros(4, np.float32))
    w.write()
    with pytest.raises(GGUFError, match=r"00003.gguf: split.count at byte offset 0: expected part 2 of 3 .*is missing"):
        GGUFFile(paths[0])
