"""A model's vocabulary as the constraint engine (llguidance) sees it: every token's bytes, which tokens are special,
and which end generation. Built once per Tokenizer (about 0.2 s for SmolLM2's 49k tokens, 2.5 s for Gemma-3's 262k)
and cached, together with the grammars compiled against it."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import llguidance

from ..tokenizer import Tokenizer

# llama_token_attr bits (llama.cpp's LLAMA_TOKEN_ATTR_*)
_ATTR_UNKNOWN, _ATTR_UNUSED, _ATTR_CONTROL, _ATTR_USER_DEFINED = 1, 2, 8, 16

# llguidance's convention: a token whose bytes start with 0xFF is special (never produced by grammar text; a grammar
# names it as <|...|> or <[id]>). 0xFF never occurs in UTF-8, so no text token can start with it.
_SPECIAL_PREFIX = b"\xff"

_TEMPLATES_PER_VOCAB = 64  # compiled grammars kept per model (least recently used dropped first)


def token_pieces(tokenizer: Tokenizer) -> tuple[list[bytes], list[int]]:
    """Each token's text as the bytes it adds to the output, and the ids of special tokens.

    The pieces are llama_token_to_piece's: SentencePiece's U+2581 is a space, <0xNN> byte-fallback tokens are that one
    byte, GPT-2's byte alphabet is decoded. Control, unknown and unused tokens, and user-defined tokens that look like
    control tokens (<...>), are special: their bytes get the 0xFF prefix so that grammar text never matches them."""
    pieces: list[bytes] = []
    special: list[int] = []
    for token in range(tokenizer.n_vocab()):
        piece = tokenizer.token_to_piece(token, special=True)
        attr = tokenizer.token_attr(token)
        looks_special = attr & _ATTR_USER_DEFINED and piece.startswith(b"<") and piece.endswith(b">")
        if attr & (_ATTR_UNKNOWN | _ATTR_UNUSED | _ATTR_CONTROL) or looks_special or not piece:
            piece = _SPECIAL_PREFIX + (piece or f"<[{token}]>".encode())
            special.append(token)
        pieces.append(piece)
    return pieces, special


class _TokenizerAdapter:
    """What llguidance.TokenizerWrapper asks of a tokenizer: attributes, and text -> ids. llguidance tokenizes the
    text a grammar forces (e.g. a JSON key) and allows only that tokenization's first token there, so the ids must
    spell exactly the text: the model's tokenizer does when it can (SentencePiece models that add a space in front of
    the text do not), else the longest pieces are taken from the left."""

    def __init__(self, tokenizer: Tokenizer, pieces: list[bytes], special: list[int], eog: list[int]):
        self.tokens = pieces
        self.special_token_ids = special
        self.eos_token_id = eog[0]
        self.bos_token_id = tokenizer.token_bos() if tokenizer.token_bos() >= 0 else None
        self._tokenizer = tokenizer
        self._by_piece: dict[bytes, int] | None = None

    def __call__(self, text: bytes) -> list[int]:
        ids = self._tokenizer.tokenize(text, add_bos=False)
        if b"".join(self.tokens[i] for i in ids) == text:
            return ids
        return self._greedy(text)

    def _greedy(self, text: bytes) -> list[int]:
        """Longest-piece-first tokenization of `text`, up to the first byte no piece starts with."""
        if self._by_piece is None:
            by_piece: dict[bytes, int] = {}
            for token, piece in enumerate(self.tokens):
                if piece and not piece.startswith(_SPECIAL_PREFIX):
                    by_piece.setdefault(piece, token)
            self._by_piece = by_piece
        longest = max(map(len, self._by_piece), default=0)
        ids, i = [], 0
        while i < len(text):
            for n in range(min(longest, len(text) - i), 0, -1):
                token = self._by_piece.get(text[i : i + n])
                if token is not None:
                    ids.append(token)
                    i += n
                    break
            else:
                break
        return ids


class Vocabulary:
    """One model's vocabulary for the engine, with an LRU cache of grammars compiled against it."""

    def __init__(self, tokenizer: Tokenizer):
        self.n_vocab = tokenizer.n_vocab()
        pieces, special = token_pieces(tokenizer)
        eog = sorted(tokenizer.eog_tokens())
        if not eog:
            eos = tokenizer.token_eos()
            if eos < 0:
                raise ValueError("the model has no end-of-generation token: a grammar could never end generation")
            eog = [eos]
        self.eog = eog
        self.eog_set = frozenset(eog)
        self.pieces = pieces
        wrapper = llguidance.TokenizerWrapper(_TokenizerAdapter(tokenizer, pieces, special, eog))
        self.ll_tokenizer = llguidance.LLTokenizer(wrapper, n_vocab=self.n_vocab, eos_token=eog)
        self._templates: OrderedDict[str, llguidance.LLMatcher] = OrderedDict()
        self._lock = threading.Lock()

    def matcher(self, grammar: str) -> llguidance.LLMatcher:
        """A fresh matcher in the start state for `grammar` (llguidance's grammar text): the first one per grammar is
        compiled, later ones are copies of it. Raises ValueError when the grammar does not compile."""
        with self._lock:
            template = self._templates.get(grammar)
            if template is not None:
                self._templates.move_to_end(grammar)
                return template.deep_copy()
        template = llguidance.LLMatcher(self.ll_tokenizer, grammar, log_level=0)
        if template.is_error():
            raise ValueError(f"invalid grammar: {template.get_error()}")
        with self._lock:
            self._templates[grammar] = template
            while len(self._templates) > _TEMPLATES_PER_VOCAB:
                self._templates.popitem(last=False)
        return template.deep_copy()


_vocabularies: weakref.WeakKeyDictionary[Tokenizer, Vocabulary] = weakref.WeakKeyDictionary()
_vocabularies_lock = threading.Lock()


def vocabulary(tokenizer: Tokenizer) -> Vocabulary:
    """The engine's Vocabulary of `tokenizer`, built on first use and kept as long as the tokenizer lives."""
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer must be a llamacore.tokenizer.Tokenizer, not {type(tokenizer).__name__}")
    with _vocabularies_lock:
        vocab = _vocabularies.get(tokenizer)
        if vocab is None:
            vocab = _vocabularies[tokenizer] = Vocabulary(tokenizer)
        return vocab
