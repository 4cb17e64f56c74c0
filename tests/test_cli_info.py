"""`llamacore info` and `llamacore pull` on the real models, a tiny written model, and bad input."""

from __future__ import annotations

import json
import re

import numpy as np

from llamacore import cli
from llamacore.gguf import GGUFWriter


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_info_smollm2(capsys, smollm2_path):
    rc, out, _ = run(capsys, "info", "smollm2-135m-instruct")
    assert rc == 0
    lines = dict(line.split(None, 1) if "  " not in line else line.split("  ", 1) for line in out.splitlines())
    assert lines["architecture"].strip() == "llama"
    assert "(134,515,008)" in lines["parameters"]
    assert "(98,362,432 bytes)" in lines["file size"]
    assert lines["tensors"].strip() == "272: Q4_1 x 210, F32 x 61, Q8_0 x 1"
    assert lines["context length"].strip() == "8192"
    assert lines["tokenizer"].strip() == "gpt2, pre-tokenizer smollm, 49152 tokens"
    assert lines["chat template"].strip().startswith("present")
    assert lines["file type"].strip() == "Q4_1"


def test_info_gemma3_json(capsys, gemma3_path):
    rc, out, _ = run(capsys, "info", str(gemma3_path), "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["architecture"] == "gemma3" and d["parameters"] == 268_098_176
    assert d["file_size"] == 253_113_024 and d["file_type"] == "Q4_K_M"
    assert d["tensor_types"] == {"F32": 109, "Q5_0": 81, "Q4_K": 27, "Q8_0": 10, "Q6_K": 9}
    assert d["context_length"] == 32768 and d["vocab_size"] == 262144
    assert (d["tokenizer_model"], d["tokenizer_pre"]) == ("llama", "default")
    assert d["chat_template"] is False


def test_info_minimal_file(capsys, tmp_path):
    w = GGUFWriter(tmp_path / "tiny.gguf")
    w.add("general.architecture", "mystery")
    w.add("general.name", b"bad \xff byte")  # invalid UTF-8 in a value is printed, not a crash
    w.add("mystery.attention.head_count", np.array([4, 8], np.int32))  # per-layer heads
    w.add_tensor("w", np.zeros((2, 32), np.float16))
    w.write()
    rc, out, _ = run(capsys, "info", str(tmp_path / "tiny.gguf"))
    assert rc == 0 and "bad \ufffd byte" in out and "64 (64)" in out and "[4, 8] (kv None)" in out
    assert re.search(r"tokenizer +none", out) and re.search(r"chat template +absent", out)
    rc, out, _ = run(capsys, "info", str(tmp_path / "tiny.gguf"), "--json")
    assert json.loads(out)["head_count"] == [4, 8]


def test_info_errors(capsys, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + (7).to_bytes(4, "little") + bytes(16))
    rc, _, err = run(capsys, "info", str(bad))
    assert rc == 1 and "version at byte offset 4" in err
    rc, _, err = run(capsys, "info", "no-such-model")
    assert rc == 1 and "smollm2-135m-instruct" in err


def test_pull(capsys, smollm2_path, gemma3_path):
    rc, out, _ = run(capsys, "pull", "--list")
    assert rc == 0 and "smollm2-135m-instruct" in out and "gemma3-270m" in out and "downloaded" in out
    rc, out, _ = run(capsys, "pull", "-q", "smollm2-135m-instruct")  # already in the cache: just its path
    assert rc == 0 and out.strip() == str(smollm2_path)


def test_info_on_odd_metadata_types(capsys, tmp_path):
    """Valid files whose well-known keys have unexpected types: printed as they are, never a traceback."""
    w = GGUFWriter(tmp_path / "odd.gguf")
    w.add("general.architecture", np.array([1, 2], np.int32))
    w.add("general.name", [[1, 2], ["x"]])
    w.add("general.file_type", np.array([15], np.int32))  # unhashable: not a key of the ftype table
    w.add("tokenizer.ggml.tokens", 5)  # no len()
    w.add("tokenizer.ggml.model", np.array([1.5], np.float32))
    w.add("tokenizer.chat_template", 7)
    w.add("[1 2].context_length", np.array([4096], np.uint64))
    w.add_tensor("w", np.zeros(32, np.float32))
    w.write()
    for extra in ((), ("--json",)):
        rc, out, err = run(capsys, "info", str(tmp_path / "odd.gguf"), *extra)
        assert rc == 0 and err == "", err
    d = json.loads(out)
    assert d["architecture"] == [1, 2] and d["file_type"] == [15] and d["context_length"] == [4096]
    assert d["vocab_size"] is None and d["chat_template"] is True and d["name"] == [[1, 2], ["x"]]


def test_info_rows_stay_one_line(capsys, tmp_path):
    w = GGUFWriter(tmp_path / "nl.gguf")
    w.add("general.architecture", "evil\narchitecture  fake\r\x1b[2J")
    w.add("general.name", b"bad \xff\n")
    w.add_tensor("w", np.zeros(32, np.float32))
    w.write()
    rc, out, _ = run(capsys, "info", str(tmp_path / "nl.gguf"))
    assert rc == 0 and r"evil\narchitecture  fake\r\x1b[2J" in out and "bad \ufffd\\n" in out
    assert len(out.splitlines()) == 8, out


def test_info_errors_are_one_line(capsys, tmp_path):
    for name, blob in [("empty.gguf", b""), ("line\nbreak.gguf", b"GGML"), ("trunc.gguf", b"GGUF\3\0\0\0\1")]:
        (tmp_path / name).write_bytes(blob)
        rc, out, err = run(capsys, "info", str(tmp_path / name))
        assert rc == 1 and out == "" and err.count("\n") == 1 and "byte offset" in err, err
    (tmp_path / "dir.gguf").mkdir()
    rc, _, err = run(capsys, "info", str(tmp_path / "dir.gguf"))
    assert rc == 1 and err.count("\n") == 1 and "folder" in err
