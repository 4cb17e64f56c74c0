"""Small synthetic vocabularies of every kind (tests/data/tokenizer/*.json, made by make_synthetic.py there) with
the token ids llama.cpp gives: byte-level BPE under each of the 61 tokenizer.ggml.pre names llama.cpp knows,
SentencePiece BPE in Llama-2 and Gemma styles, Gemma-4's BPE, WordPiece, Unigram (T5, with and without a
precompiled character map) and RWKV. The texts cover the reference corpus's
kinds, contractions, digit runs, CR/LF, Unicode white space and marks, CJK, emoji, special tokens, random strings
and bytes that are not UTF-8."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from llamacore.tokenizer import StreamingDetokenizer, Tokenizer

DATA = Path(__file__).resolve().parent / "data" / "tokenizer"
MODES = (
    ("ids_add_bos", {"add_bos": True}),
    ("ids_no_bos", {"add_bos": False}),
    ("ids_special", {"add_bos": False, "special": True}),
)


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


BPE = load("bpe")


def check(tok: Tokenizer, texts: list[bytes], expected: list[list[list[int]]]) -> None:
    for text, ids in zip(texts, expected, strict=True):
        for (mode, kwargs), want in zip(MODES, ids, strict=True):
            assert tok.tokenize(text, **kwargs) == want, (mode, text)


@pytest.mark.parametrize("pre", sorted(BPE["pre"]))
def test_bpe_pre_tokenizers(pre):
    tok = Tokenizer.from_metadata({**BPE["metadata"], "tokenizer.ggml.pre": pre})
    texts = [base64.b64decode(t) for t in BPE["texts_b64"]]
    expected = [[BPE["ids"][i] for i in case] for case in BPE["pre"][pre]]
    check(tok, texts, expected)


@pytest.mark.parametrize("name", ["spm", "spm_gemma", "gemma4", "wpm", "ugm", "ugm_charsmap", "rwkv"])
def test_other_models(name):
    suite = load(name)
    tok = Tokenizer.from_metadata(suite["metadata"])
    texts = [base64.b64decode(c["text_b64"]) for c in suite["cases"]]
    check(tok, texts, [[c[m] for m, _ in MODES] for c in suite["cases"]])


@pytest.mark.parametrize("name", ["spm", "spm_gemma", "gemma4", "wpm", "ugm_charsmap", "rwkv"])
def test_streaming_matches_one_shot(name):
    suite = load(name)
    tok = Tokenizer.from_metadata(suite["metadata"])
    for case in suite["cases"]:
        for ids in (case["ids_add_bos"], case["ids_special"]):
            stream = StreamingDetokenizer(tok, special=True)
            text = "".join(stream.add(t) for t in ids) + stream.flush()
            assert text == tok.detokenize(ids, special=True).decode("utf-8", "replace")


def test_spm_round_trip_and_space_prefix():
    llama2 = Tokenizer.from_metadata(load("spm")["metadata"])
    gemma = Tokenizer.from_metadata(load("spm_gemma")["metadata"])
    for text in ("Hello, world!", " two  spaces ", "你好 🦙 \x00\xff"):
        for tok in (llama2, gemma):
            ids = tok.tokenize(text, add_bos=True)
            assert ids[0] == tok.token_bos()
            # after BOS one leading space is dropped: the one SentencePiece added (Llama-2), or the text's own
            assert tok.detokenize(ids) == (text.encode() if tok is llama2 else text.encode().removeprefix(b" "))
    # Llama-2 style: a space goes in front of the text and after each special token; Gemma: never
    assert llama2.tokenize("<start_of_turn>x", add_bos=False, special=True)[1:] == llama2.tokenize("x", add_bos=False)
    assert llama2.detokenize_native(llama2.tokenize("hi", add_bos=False)) == b"hi"
    assert llama2.detokenize(llama2.tokenize("hi", add_bos=False)) == b" hi"  # llama-cpp-python keeps it


def test_wordpiece_adds_cls_and_sep():
    tok = Tokenizer.from_metadata(load("wpm")["metadata"])
    ids = tok.tokenize("Hello world!", add_bos=True)
    assert ids[0] == tok.token_bos() == 2 and ids[-1] == tok.token_sep() == 3
    assert tok.tokenize("Hello world!", add_bos=False) == ids[1:-1]
    assert tok.detokenize(ids[1:-1]) == b" hello world !"  # pieces keep the word-start space


def test_bpe_metadata_flags():
    llama3 = Tokenizer.from_metadata({**BPE["metadata"], "tokenizer.ggml.pre": "llama-bpe"})
    assert llama3.add_bos and llama3.tokenize("x")[0] == llama3.token_bos()  # the name turns BOS on
    glm = Tokenizer.from_metadata(
        {k: v for k, v in BPE["metadata"].items() if k != "tokenizer.ggml.bos_token_id"}
        | {"tokenizer.ggml.pre": "glm4"}
    )
    assert glm.token_bos() == -1  # chatglm has no BOS
    off = Tokenizer.from_metadata(
        {**BPE["metadata"], "tokenizer.ggml.pre": "llama-bpe", "tokenizer.ggml.add_bos_token": False}
    )
    assert not off.add_bos and off.tokenize("x")[0] != off.token_bos()


def test_unigram_normalisation():
    tok = Tokenizer.from_metadata(load("ugm_charsmap")["metadata"])
    plain = Tokenizer.from_metadata(load("ugm")["metadata"])
    # the character map folds "ﬁ" into "fi" and merges runs of spaces (remove_extra_whitespaces)
    assert tok.tokenize("ﬁne", add_bos=False) == tok.tokenize("fine", add_bos=False)
    assert tok.tokenize("a    b", add_bos=False) == tok.tokenize("a b", add_bos=False)
    assert plain.tokenize("ﬁne", add_bos=False) != plain.tokenize("fine", add_bos=False)
    ids = tok.tokenize("hello", add_bos=True)
    assert ids[-1] == tok.token_eos() == 1 and tok.token_bos() == -1  # T5 adds EOS, has no BOS


def test_native_detokenize_cleans_spaces_like_llama_cpp():
    # llama_detokenize's clean-up for BPE models (clean_spaces); expected strings from llama.cpp
    tok = Tokenizer.from_metadata({**BPE["metadata"], "tokenizer.ggml.pre": "gpt-2"})
    cases = {
        "Hello , world ! Is it ? Yes . ok": "Hello, world! Is it? Yes. ok",
        "a ' b": "a'b",
        "it 's me , I 'm , we 're , you 've , they 'll , I 'd , don 't": (
            "it's me, I'm, we're, you've, they 'll, I 'd, don 't"
        ),
        "x ' y ' z": "x'y'z",
        " ' ": "'",
        "end .": "end.",
    }
    for text, want in cases.items():
        ids = tok.tokenize(text, add_bos=False)
        assert tok.detokenize_native(ids).decode() == want
        assert tok.detokenize(ids).decode() == text  # llama-cpp-python's detokenize leaves the text alone
    smollm = Tokenizer.from_metadata({**BPE["metadata"], "tokenizer.ggml.pre": "smollm"})  # no clean-up there
    assert smollm.detokenize_native(smollm.tokenize("end .", add_bos=False)) == b"end ."
