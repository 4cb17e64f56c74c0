"""Grammar- and JSON-schema-constrained generation: llama-cpp-python's LlamaGrammar and the per-sequence token
constraint the generation loop applies.

    from llamacore.sampling.grammar import LlamaGrammar, json_schema_constraint
    grammar = LlamaGrammar.from_string('root ::= "yes" | "no"')        # llama.cpp's GBNF
    c = grammar.constraint(tokenizer)           # one sequence's state; tokenizer: llamacore.tokenizer.Tokenizer
    mask = c.allowed()                          # bool [n_vocab]: what may come next (end tokens when complete)
    c.accept(token)                             # after sampling from the masked logits

The engine is llguidance (see README, "Grammars and JSON"): masks are computed in native code from a token trie, a
few tens of microseconds per token. Compiled grammars are cached per (grammar, tokenizer).
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..tokenizer import Tokenizer
from .gbnf import gbnf_to_llguidance
from .grammar_vocab import Vocabulary, vocabulary
from .json_schema import json_schema_grammar, normalize_schema

__all__ = [
    "GrammarConstraint",
    "LlamaGrammar",
    "TokenConstraint",
    "grammar_from_response_format",
    "json_schema_constraint",
    "response_format_constraint",
]


@runtime_checkable
class TokenConstraint(Protocol):
    """One sequence's constraint state (CONTRACTS.md): what the generation loop asks of a constraint."""

    def allowed(self) -> np.ndarray | None:
        """bool [n_vocab]: tokens allowed next, end-of-generation tokens included when is_accepting() (None: no
        restriction now)."""

    def accept(self, token: int) -> None:
        """Advance by one sampled token; ValueError if it was not allowed."""

    def is_accepting(self) -> bool:
        """The text so far is complete: end-of-generation tokens are allowed."""

    def is_finished(self) -> bool:
        """Nothing but an end-of-generation token can follow."""


class GrammarConstraint:
    """TokenConstraint of a compiled grammar for one sequence (made by LlamaGrammar.constraint)."""

    def __init__(self, vocab: Vocabulary, grammar: str, description: str):
        self._vocab = vocab
        self._matcher = vocab.matcher(grammar)
        self._description = description
        self._words = np.empty((vocab.n_vocab + 31) // 32, dtype=np.int32)  # llguidance's bitmask, 1 bit per token
        self._mask: np.ndarray | None = None
        self.allowed()  # a grammar no token of this model can start is an error now, not a dead end later

    def allowed(self) -> np.ndarray:
        """bool [n_vocab], read-only; computed once per state (native code, the GIL released)."""
        if self._mask is None:
            m = self._matcher
            m.unsafe_compute_mask_ptr(self._words.ctypes.data, self._words.nbytes)
            if m.is_error():  # llguidance stops with an error when no token can extend the text
                reason = m.get_error().splitlines()[0] if m.get_error() else "error"
                raise ValueError(
                    f"grammar {self._description}: no token of this model can continue the text here ({reason})"
                )
            bits = self._words.view(np.uint8)  # little-endian words: bit j of byte i is token 8*i + j
            mask = np.unpackbits(bits, bitorder="little", count=self._vocab.n_vocab).view(np.bool_)
            if not mask.any():
                raise ValueError(
                    f"grammar {self._description}: no token of this model can continue the text here "
                    "(the grammar asks for characters the vocabulary cannot express)"
                )
            mask.flags.writeable = False
            self._mask = mask
        return self._mask

    def accept(self, token: int) -> None:
        token = int(token)
        if not 0 <= token < self._vocab.n_vocab:
            raise ValueError(f"token id {token} is out of range [0, {self._vocab.n_vocab})")
        if token in self._vocab.eog_set:  # llguidance's try_consume_tokens stops before an end token
            ok = self._matcher.is_accepting() and self._matcher.consume_token(token)
        else:
            ok = self._matcher.try_consume_tokens([token]) == 1  # leaves the state unchanged when refused
        if not ok:
            piece = self._vocab.pieces[token]
            raise ValueError(f"token {token} ({piece!r}) is not allowed here by grammar {self._description}")
        self._mask = None

    def is_accepting(self) -> bool:
        return self._matcher.is_accepting()

    def is_finished(self) -> bool:
        return self._matcher.is_stopped()

    def __repr__(self) -> str:
        return f"GrammarConstraint({self._description}, accepting={self.is_accepting()})"


class LlamaGrammar:
    """A grammar to constrain generation, as llama-cpp-python's: from llama.cpp's GBNF text, a GBNF file, or a JSON
    schema. Pass it as `grammar=` to Llama's completion methods, or build a per-sequence state with constraint().

    Construction checks the grammar: ValueError for a syntax error (with line and column), an undefined rule, a rule
    that can never end, an unsupported JSON-schema keyword (named)."""

    def __init__(self, llguidance_grammar: str, source: str, kind: str):
        self._grammar = llguidance_grammar  # the engine's grammar text
        self.source = source  # what the user gave: GBNF text or the schema's JSON
        self.kind = kind  # "gbnf" or "json_schema"

    @classmethod
    def from_string(cls, grammar: str, verbose: bool = True) -> LlamaGrammar:
        """From GBNF text (llama.cpp's grammar syntax; the start rule is `root`). `verbose` is accepted for
        llama-cpp-python compatibility."""
        return cls(gbnf_to_llguidance(grammar), grammar, "gbnf")

    @classmethod
    def from_file(cls, file: str | os.PathLike, verbose: bool = True) -> LlamaGrammar:
        """From a GBNF file (UTF-8)."""
        try:
            with open(file, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ValueError(f"cannot read grammar file {os.fspath(file)!r}: {e}") from e
        if not text.strip():
            raise ValueError(f"grammar file {os.fspath(file)!r} is empty")
        return cls.from_string(text, verbose=verbose)

    @classmethod
    def from_json_schema(cls, json_schema: str | dict | None, verbose: bool = True) -> LlamaGrammar:
        """From a JSON schema (its JSON text as llama-cpp-python takes it, or a dict; None: any JSON object)."""
        schema = normalize_schema(json_schema)
        return cls(json_schema_grammar(schema), json.dumps(schema), "json_schema")

    def constraint(self, tokenizer: Tokenizer) -> GrammarConstraint:
        """A fresh TokenConstraint for one generation with `tokenizer`'s model (cheap after the first per tokenizer)."""
        return GrammarConstraint(vocabulary(tokenizer), self._grammar, self._describe())

    def _describe(self) -> str:
        text = " ".join(self.source.split())
        return f"{self.kind} {text[:60]!r}{'...' if len(text) > 60 else ''}"

    def __repr__(self) -> str:
        return f"LlamaGrammar({self._describe()})"


def json_schema_constraint(schema: dict | bool | str | None, tokenizer: Tokenizer) -> GrammarConstraint:
    """TokenConstraint for JSON that validates against `schema` (None: any JSON object)."""
    return LlamaGrammar.from_json_schema(schema).constraint(tokenizer)


def grammar_from_response_format(response_format: Any) -> LlamaGrammar | None:
    """The grammar an OpenAI-style `response_format` asks for (None for plain text):
    {"type": "text"}; {"type": "json_object"} (any JSON object); {"type": "json_object", "schema": {...}}
    (llama-cpp-python's); {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": ...}}
    (OpenAI's; without "schema", any JSON object)."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise TypeError(f"response_format must be a dict, not {type(response_format).__name__}")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return LlamaGrammar.from_json_schema(response_format.get("schema"))
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise ValueError('response_format of type "json_schema" needs a "json_schema" object')
        name = spec.get("name")
        if name is not None and not isinstance(name, str):
            raise ValueError('response_format json_schema "name" must be a string')
        return LlamaGrammar.from_json_schema(spec.get("schema"))
    raise ValueError(f'response_format type must be "text", "json_object" or "json_schema", not {kind!r}')


def response_format_constraint(response_format: Any, tokenizer: Tokenizer) -> GrammarConstraint | None:
    """TokenConstraint for an OpenAI-style `response_format` (None when it asks for plain text)."""
    grammar = grammar_from_response_format(response_format)
    return None if grammar is None else grammar.constraint(tokenizer)
