"""`llamacore info MODEL`: what a GGUF model is (architecture, size, quantization, context, tokenizer)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import numpy as np

# llama.cpp's llama_ftype names for general.file_type (what the file was quantized "to").
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS",
    20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="path, hf:ORG/REPO/FILE.gguf or catalog name")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def describe(path) -> dict[str, Any]:
    """The facts `llamacore info` prints, as a dict."""
    from ..gguf import GGUFFile

    with GGUFFile(path) as f:
        md = f.metadata
        arch = md.get("general.architecture")

        def hp(key: str):
            return md.get(f"{arch}.{key}")

        types = Counter(t.type.name for t in f.tensors.values())
        tokens = md.get("tokenizer.ggml.tokens")
        template = md.get("tokenizer.chat_template")
        file_type = md.get("general.file_type")
        # A valid file may give any of these keys an unexpected type (an array, a string): show it as it is.
        return {
            "path": str(f.path),
            "parts": len(f.paths),
            "gguf_version": f.version,
            "name": _plain(md.get("general.name")),
            "architecture": _plain(arch),
            "parameters": sum(t.n_elements for t in f.tensors.values()),
            "file_size": f.file_size,
            "file_type": FILE_TYPES.get(file_type, file_type) if type(file_type) is int else _plain(file_type),
            "tensor_count": len(f.tensors),
            "tensor_types": dict(types.most_common()),
            "context_length": _plain(hp("context_length")),
            "embedding_length": _plain(hp("embedding_length")),
            "block_count": _plain(hp("block_count")),
            "head_count": _plain(hp("attention.head_count")),
            "head_count_kv": _plain(hp("attention.head_count_kv")),
            "tokenizer_model": _plain(md.get("tokenizer.ggml.model")),
            "tokenizer_pre": _plain(md.get("tokenizer.ggml.pre")),
            "vocab_size": len(tokens) if isinstance(tokens, (list, np.ndarray)) else None,
            "chat_template": template is not None,
            "chat_template_chars": len(template) if isinstance(template, str) else 0,
        }


def _plain(v):
    """Metadata as JSON values: numpy arrays (per-layer head counts, or odd files) and nested arrays as lists."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _human(n: float, units: tuple[str, ...]) -> str:
    for u in units[:-1]:
        if abs(n) < 1000:
            return f"{n:.4g} {u}".rstrip()
        n /= 1000
    return f"{n:.4g} {units[-1]}"


def format_info(d: dict[str, Any]) -> str:
    rows = [
        ("model", d["path"] + (f" (+{d['parts'] - 1} more parts)" if d["parts"] > 1 else "")),
        ("name", d["name"]),
        ("architecture", d["architecture"]),
        ("parameters", f"{_human(d['parameters'], ('', 'K', 'M', 'B', 'T'))} ({d['parameters']:,})"),
        ("file size", f"{_human(d['file_size'], ('B', 'KB', 'MB', 'GB', 'TB'))} ({d['file_size']:,} bytes)"),
        ("file type", d["file_type"]),
        ("tensors", f"{d['tensor_count']}: " + ", ".join(f"{k} x {v}" for k, v in d["tensor_types"].items())),
        ("context length", d["context_length"]),
        ("layers", d["block_count"]),
        ("embedding", d["embedding_length"]),
        ("heads", f"{d['head_count']} (kv {d['head_count_kv']})" if d["head_count"] is not None else None),
        (
            "tokenizer",
            "none"
            if d["tokenizer_model"] is None
            else f"{d['tokenizer_model']}, pre-tokenizer {d['tokenizer_pre']}, {d['vocab_size']} tokens",
        ),
        ("chat template", f"present ({d['chat_template_chars']} chars)" if d["chat_template"] else "absent"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {_one_line(str(v))}" for k, v in rows if v is not None]
    return "\n".join(_printable(line) for line in lines)


def _one_line(text: str) -> str:
    """A value from the file (or a path) with a line break or a control character stays on its row, escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or 0xD800 <= ord(c) < 0xE000 else repr(c)[1:-1] for c in text)


def _printable(text: str) -> str:
    """Strings from the file keep invalid UTF-8 bytes as surrogate escapes: print them as U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def main(args: argparse.Namespace) -> int:
    from ..hub import resolve

    info = describe(resolve(args.model))
    if args.json:
        print(_printable(json.dumps(info, indent=2, ensure_ascii=False)))
    else:
        print(format_info(info))
    return 0
