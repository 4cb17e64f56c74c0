"""Malformed input to `llamacore convert`: a clear ConvertError (exit status 2 from the command), never a crash, a
huge allocation, a read past the file, or a half-written output file."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from llamacore.commands import convert as convert_cmd
from llamacore.convert import ConvertError, convert
from llamacore.convert.safetensors import SafetensorsFile

pytest.importorskip("tokenizers")

from test_convert import write_folder, write_safetensors  # noqa: E402


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "hf"
    write_folder(d, "qwen3", seed=1, dtype="F32")
    return d


def raw_file(path, header: dict | bytes, data: bytes = b"", length: int | None = None):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h) if length is None else length) + h + data)
    return path


@pytest.mark.parametrize(
    "header, data, length, why",
    [
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, 1 << 62, "runs past the end"),
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8, None, "outside"),
        ({"a": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 8]}}, b"\0" * 8, None, "needs"),
        ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8, None, "non-negative"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8, None, "outside"),
        ({"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, None, "unknown dtype"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"\0" * 12,
            None,
            "overlap",
        ),
        (b"{not json", b"", None, "not JSON"),
        (b"[1, 2]", b"", None, "not a JSON object"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8.0]}}, b"\0" * 8, None, "data_offsets"),
    ],
)
def test_lying_safetensors_header(tmp_path, header, data, length, why):
    path = raw_file(tmp_path / "x.safetensors", header, data, length)
    with pytest.raises(ConvertError, match=why):
        SafetensorsFile(path)


def test_truncated_safetensors(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"\x10\0\0")
    with pytest.raises(ConvertError, match="too short"):
        SafetensorsFile(tmp_path / "x.safetensors")


def test_valid_safetensors_read_back(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_safetensors(tmp_path / "ok.safetensors", {"a": ("F32", a), "b": ("F16", a.astype(np.float16))})
    with SafetensorsFile(tmp_path / "ok.safetensors") as f:
        assert f.names() == ["a", "b"]
        assert np.array_equal(f.float32("a"), a) and np.array_equal(f.float32("b"), a)


def test_lying_header_inside_a_model_folder(folder, tmp_path):
    st = folder / "model.safetensors"
    data = bytearray(st.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [1 << 30, 1 << 30]
    h = json.dumps(header).encode()
    st.write_bytes(struct.pack("<Q", len(h)) + h + bytes(data[8 + n :]))
    out = tmp_path / "out.gguf"
    with pytest.raises(ConvertError, match=name):
        convert(folder, out, progress=False)
    assert not out.exists()


def test_missing_shard(tmp_path):
    d = tmp_path / "hf"
    write_folder(d, "llama", seed=2, dtype="BF16", shards=2)
    (d / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ConvertError, match="model-00002-of-00002.safetensors.*missing"):
        convert(d, tmp_path / "o.gguf", progress=False)


def test_no_weights(folder, tmp_path):
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ConvertError, match="pytorch_model.bin"):
        convert(folder, tmp_path / "o.gguf", progress=False)


@pytest.mark.parametrize("field", ["hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads"])
def test_config_without_a_needed_field(folder, tmp_path, field):
    cfg = json.loads((folder / "config.json").read_text())
    del cfg[field]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConvertError, match=field):
        convert(folder, tmp_path / "o.gguf", progress=False)


def test_unknown_architecture_lists_the_supported(folder, tmp_path):
    cfg = json.loads((folder / "config.json").read_text())
    cfg["architectures"] = ["MambaForCausalLM"]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConvertError, match="MambaForCausalLM is not supported; supported: .*LlamaForCausalLM"):
        convert(folder, tmp_path / "o.gguf", progress=False)


def test_tensor_beyond_the_configured_layers(folder, tmp_path):
    cfg = json.loads((folder / "config.json").read_text())
    cfg["num_hidden_layers"] = 1
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConvertError, match="layer 1"):
        convert(folder, tmp_path / "o.gguf", progress=False)


def test_unknown_pre_tokenizer_and_override(folder, tmp_path):
    tok = json.loads((folder / "tokenizer.json").read_text())
    tok["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\p{L}+|\p{N}+|\s+"
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(ConvertError, match="pre-tokenizer is not one llamacore knows.*--pre"):
        convert(folder, tmp_path / "o.gguf", vocab_only=True, progress=False)
    (out,) = convert(folder, tmp_path / "o.gguf", vocab_only=True, pre="qwen2", progress=False)
    assert out.exists()


def test_nan_weights_to_q8_0(tmp_path):
    d = tmp_path / "hf"
    write_folder(d, "qwen2", seed=3, dtype="F32")
    st = d / "model.safetensors"
    data = bytearray(st.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    e = json.loads(data[8 : 8 + n])["model.layers.1.mlp.up_proj.weight"]
    data[8 + n + e["data_offsets"][0] : 8 + n + e["data_offsets"][0] + 4] = struct.pack("<f", float("nan"))
    st.write_bytes(bytes(data))
    with pytest.raises(ConvertError, match="model.layers.1.mlp.up_proj.weight.*Q8_0"):
        convert(d, tmp_path / "o.gguf", outtype="q8_0", progress=False)
    assert not (tmp_path / "o.gguf").exists()
    (out,) = convert(d, tmp_path / "o.gguf", outtype="f16", progress=False)  # f16 stores the NaN as IEEE does


def test_failed_write_leaves_nothing(folder, tmp_path, monkeypatch):
    import llamacore.convert as conv

    calls = []

    def boom(a, t):
        calls.append(t)
        if len(calls) == 5:
            raise ConvertError("disk on fire")
        return real(a, t)

    real = conv._encode
    monkeypatch.setattr(conv, "_encode", boom)
    with pytest.raises(ConvertError, match="disk on fire"):
        convert(folder, tmp_path / "o.gguf", progress=False)
    assert list(tmp_path.iterdir()) == [folder]


def test_command_exit_status(folder, tmp_path, capsys):
    out = tmp_path / "o.gguf"
    assert convert_cmd.main([str(folder), "-o", str(out), "--outtype", "q8_0", "-q"]) == 0
    assert out.exists()
    assert convert_cmd.main([str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.gguf")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (folder / "config.json").write_text("{")
    assert convert_cmd.main([str(folder), "-o", str(tmp_path / "y.gguf")]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and "Traceback" not in err
    assert convert_cmd.main([str(folder), "--split-max-size", "12X"]) == 2
    assert not (tmp_path / "x.gguf").exists() and not (tmp_path / "y.gguf").exists()


def test_hf_repo_goes_through_snapshot_download(folder, tmp_path, monkeypatch):
    import sys
    import types

    asked = {}

    def snapshot_download(repo_id, allow_patterns):
        asked.update(repo=repo_id, patterns=allow_patterns)
        return str(folder)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    (out,) = convert("hf:Org/tiny-qwen3", tmp_path / "o.gguf", vocab_only=True, progress=False)
    assert out.exists() and asked["repo"] == "Org/tiny-qwen3" and "*.safetensors" in asked["patterns"]
    with pytest.raises(ConvertError, match="hf:ORG/REPO"):
        convert("hf:just-a-name", tmp_path / "p.gguf", progress=False)
