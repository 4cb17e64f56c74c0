"""The committed Unicode tables (csrc/tokenizer/unicode_tables.cpp) are what the generator makes from Python's
unicodedata 15.1 (Python 3.13), the version llama.cpp's tables come from."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "csrc" / "tokenizer" / "gen_unicode_tables.py"
TABLES = ROOT / "csrc" / "tokenizer" / "unicode_tables.cpp"


@pytest.mark.skipif(unicodedata.unidata_version != "15.1.0", reason="needs Python's Unicode 15.1 (Python 3.13)")
def test_tables_are_generated():
    if not GENERATOR.exists():
        pytest.skip("source tree not available")
    made = subprocess.run([sys.executable, str(GENERATOR)], capture_output=True, text=True, check=True).stdout
    assert made == TABLES.read_text(encoding="utf-8")


def test_generator_refuses_other_unicode_versions():
    if not GENERATOR.exists():
        pytest.skip("source tree not available")
    r = subprocess.run([sys.executable, str(GENERATOR)], capture_output=True, text=True)
    if unicodedata.unidata_version == "15.1.0":
        assert r.returncode == 0
    else:
        assert r.returncode == 1 and "15.1.0" in r.stderr
