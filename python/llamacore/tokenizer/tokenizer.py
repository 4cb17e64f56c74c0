"""The Tokenizer class: llama.cpp's tokenizer (C++, llamacore._core.Tokenizer) built from GGUF metadata, with
llama-cpp-python's method names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .. import _core

# GGUF keys read here -> the names the C++ builder takes
_ID_KEYS = [
    "bos_token_id",
    "eos_token_id",
    "eot_token_id",
    "eom_token_id",
    "unknown_token_id",
    "seperator_token_id",  # sic: llama.cpp's key
    "padding_token_id",
    "mask_token_id",
    "fim_pre_token_id",
    "fim_suf_token_id",
    "fim_mid_token_id",
    "fim_pad_token_id",
    "fim_rep_token_id",
    "fim_sep_token_id",
    "prefix_token_id",
    "suffix_token_id",
    "middle_token_id",
]
_FLAG_KEYS = ["add_bos_token", "add_eos_token", "add_sep_token", "add_space_prefix", "remove_extra_whitespaces"]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _as_bytes(text: bytes | str) -> bytes:
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    if isinstance(text, (bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"text must be bytes or str, not {type(text).__name__}")


def _ids(tokens: Iterable[int], n_vocab: int) -> np.ndarray:
    arr = np.asarray(tokens if not isinstance(tokens, np.ndarray) else tokens)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int32)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("tokens must be a sequence of integer token ids")
    bad = (arr < 0) | (arr >= n_vocab)
    if bad.any():
        raise ValueError(f"token id {int(arr[bad][0])} is out of range [0, {n_vocab})")
    return arr.astype(np.int32, copy=False)


class Tokenizer:
    """llama.cpp's tokenizer for a GGUF model: SentencePiece-style BPE (tokenizer.ggml.model "llama"), byte-level
    BPE with llama.cpp's pre-tokenizers ("gpt2", "gemma4"), WordPiece ("bert"), Unigram ("t5") or RWKV's ("rwkv").

    Token ids are exactly llama.cpp's (llama_tokenize); the work runs in C++ without the GIL.
    """

    def __init__(self, core: _core.Tokenizer):
        self._core = core
        self._n_vocab = core.n_vocab()
        self._bos = core.special_id("bos")
        self._flags = core.flags()
        self._eog = frozenset(core.eog_tokens())

    # ---- construction ----
    @classmethod
    def from_gguf(cls, source: str | os.PathLike | Any) -> Tokenizer:
        """From a GGUF file: a path, or an opened llamacore.gguf.GGUFFile (anything with a `.metadata` mapping)."""
        if hasattr(source, "metadata"):
            return cls.from_metadata(source.metadata)
        from ..gguf import GGUFFile  # the project's reader

        gguf = GGUFFile(source)
        try:
            return cls.from_metadata(gguf.metadata)
        finally:
            close = getattr(gguf, "close", None)
            if close is not None:
                close()

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Tokenizer:
        """From GGUF metadata: a mapping of keys such as "tokenizer.ggml.model" and "tokenizer.ggml.tokens" (a
        sequence of str or bytes) to values; numeric arrays may be lists or numpy arrays.

        Raises ValueError for an unsupported tokenizer.ggml.model or tokenizer.ggml.pre (naming the supported ones)
        and for inconsistent metadata."""
        g = metadata.get
        model = _text(g("tokenizer.ggml.model"))
        if model is None:
            raise ValueError("tokenizer.ggml.model is missing: this GGUF file carries no tokenizer")
        spec: dict[str, Any] = {
            "model": model,
            "pre": _text(g("tokenizer.ggml.pre")),
            "tokens": g("tokenizer.ggml.tokens"),
            "merges": g("tokenizer.ggml.merges"),
            "general.name": _text(g("general.name")),
            "general.architecture": _text(g("general.architecture")),
        }
        if spec["tokens"] is None:
            raise ValueError("tokenizer.ggml.tokens is missing")
        for key in ("scores", "token_type"):
            value = g(f"tokenizer.ggml.{key}")
            if value is not None:
                spec[key] = np.ascontiguousarray(value, dtype=np.float32 if key == "scores" else np.int32)
        charsmap = g("tokenizer.ggml.precompiled_charsmap")
        if charsmap is not None:
            if isinstance(charsmap, (bytes, bytearray, memoryview)):
                charsmap = np.frombuffer(bytes(charsmap), dtype=np.uint8)
            spec["precompiled_charsmap"] = np.ascontiguousarray(np.asarray(charsmap).astype(np.uint8, copy=False))
        for key in _ID_KEYS:
            value = g(f"tokenizer.ggml.{key}")
            if value is not None:
                spec[key] = int(value)
        for key in _FLAG_KEYS:
            value = g(f"tokenizer.ggml.{key}")
            if value is not None:
                spec[key] = bool(value)
        for key in ("lowercase", "strip_accents"):
            value = g(f"tokenizer.ggml.normalizer.{key}")
            if value is not None:
                spec[f"normalizer.{key}"] = bool(value)
        for key in ("tokens", "merges"):
            value = spec[key]
            if value is not None and not isinstance(value, (list, tuple)):
                spec[key] = list(value)
        return cls(_core.Tokenizer(spec))

    # ---- text -> ids ----
    def tokenize(self, text: bytes | str, add_bos: bool = True, special: bool = False) -> list[int]:
        """Token ids of `text` (bytes, or str taken as UTF-8), as llama_tokenize(text, add_special=add_bos,
        parse_special=special): add_bos=True adds what the model's metadata asks for (BOS, and EOS or SEP where the
        model adds them); special=True turns the text of control tokens such as "<|im_start|>" into their ids.
        Bytes that are not UTF-8 are taken as llama.cpp takes them (U+FFFD per bad byte for BPE models)."""
        return self._core.tokenize(_as_bytes(text), bool(add_bos), bool(special))

    def tokenize_array(self, text: bytes | str, add_bos: bool = True, special: bool = False) -> np.ndarray:
        """tokenize() as an int32 numpy array (no Python list for long texts)."""
        return self._core.tokenize_array(_as_bytes(text), bool(add_bos), bool(special))

    def encode(self, text: str, add_bos: bool = True, special: bool = False) -> list[int]:
        return self.tokenize(text, add_bos=add_bos, special=special)

    # ---- ids -> text ----
    def token_to_piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token (llama_token_to_piece): control and unknown tokens give b"" unless special=True;
        SentencePiece's U+2581 becomes a space and <0xNN> tokens their byte."""
        token = int(token)
        if not 0 <= token < self._n_vocab:
            raise ValueError(f"token id {token} is out of range [0, {self._n_vocab})")
        return self._core.token_to_piece(token, bool(special))

    def detokenize(self, tokens: Iterable[int], special: bool = False) -> bytes:
        """The text of `tokens` as llama-cpp-python's Llama.detokenize gives it: the pieces joined, and one leading
        space dropped when the first token is BOS (the space SentencePiece adds in front of the text)."""
        return self._core.detokenize(
            _ids(list(tokens) if not isinstance(tokens, np.ndarray) else tokens, self._n_vocab), bool(special)
        )

    def detokenize_native(
        self, tokens: Iterable[int], remove_special: bool = False, unparse_special: bool = False
    ) -> bytes:
        """llama.cpp's own llama_detokenize (as used by its examples and server): also strips the leading space of
        models that add one, and for most BPE models tidies spaces before punctuation (clean_up_tokenization)."""
        arr = _ids(list(tokens) if not isinstance(tokens, np.ndarray) else tokens, self._n_vocab)
        return self._core.detokenize_native(arr, bool(remove_special), bool(unparse_special))

    def decode(self, tokens: Iterable[int], special: bool = False) -> str:
        return self.detokenize(tokens, special=special).decode("utf-8", "replace")

    def streaming_detokenizer(self, special: bool = False):
        """A StreamingDetokenizer for this tokenizer: feed tokens one at a time, get whole characters back."""
        from .streaming import StreamingDetokenizer

        return StreamingDetokenizer(self, special=special)

    # ---- vocabulary ----
    def n_vocab(self) -> int:
        return self._n_vocab

    def token_bos(self) -> int:
        """Beginning-of-sequence id (-1 when the model has none)."""
        return self._bos

    def token_eos(self) -> int:
        return self._core.special_id("eos")

    def token_eot(self) -> int:
        return self._core.special_id("eot")

    def token_eom(self) -> int:
        return self._core.special_id("eom")

    def token_nl(self) -> int:
        return self._core.special_id("nl")

    def token_sep(self) -> int:
        return self._core.special_id("sep")

    def token_pad(self) -> int:
        return self._core.special_id("pad")

    def token_unk(self) -> int:
        return self._core.special_id("unk")

    def token_mask(self) -> int:
        return self._core.special_id("mask")

    def token_fim(self) -> dict[str, int]:
        """Fill-in-the-middle ids: pre, suf, mid, pad, rep, sep (-1 where absent)."""
        return {k: self._core.special_id(f"fim_{k}") for k in ("pre", "suf", "mid", "pad", "rep", "sep")}

    def is_eog(self, token: int) -> bool:
        """Whether `token` ends generation: EOS, EOT, EOM and the tokens llama.cpp recognises by their text
        (<|im_end|>, <end_of_turn>, <|endoftext|>, ...)."""
        return int(token) in self._eog

    def eog_tokens(self) -> frozenset[int]:
        return self._eog

    def token_text(self, token: int) -> bytes:
        """The token's text in the vocabulary (with U+2581 or GPT-2's byte alphabet, as stored)."""
        return self._core.token_text(int(token))

    def token_score(self, token: int) -> float:
        return self._core.token_score(int(token))

    def token_attr(self, token: int) -> int:
        """llama.cpp's llama_token_attr bits (1 unknown, 2 unused, 4 normal, 8 control, 16 user-defined, 32 byte)."""
        return self._core.token_attr(int(token))

    @property
    def model(self) -> str:
        """tokenizer.ggml.model: llama, gpt2, gemma4, bert, t5 or rwkv."""
        return self._flags["model"]

    @property
    def pre(self) -> str:
        """tokenizer.ggml.pre as given ("" when absent)."""
        return self._flags["pre"]

    @property
    def add_bos(self) -> bool:
        """Whether tokenize(add_bos=True) puts BOS in front (the model's metadata decides)."""
        return self._flags["add_bos"]

    @property
    def add_eos(self) -> bool:
        return self._flags["add_eos"]

    @staticmethod
    def supported_models() -> list[str]:
        return list(_core.Tokenizer.supported_models())

    @staticmethod
    def supported_pre_tokenizers() -> list[str]:
        return list(_core.Tokenizer.supported_pre_tokenizers())

    def __repr__(self) -> str:
        pre = f", pre={self.pre!r}" if self.model in ("gpt2", "gemma4") else ""
        return f"Tokenizer(model={self.model!r}{pre}, n_vocab={self._n_vocab})"
