"""A constraint that switches on when the model writes a trigger text (llama.cpp's "lazy grammar").

    lazy = LazyConstraint(triggers, lambda trigger: json_schema_constraint(trigger.schema, tokenizer), tokenizer)

Free text is not constrained (allowed() is None, so it costs nothing). When the generated text contains a trigger
(e.g. "<tool_call>"), a fresh constraint is made for what follows it and from then on decides the allowed tokens,
until the text it constrains is complete (is_accepting); then the lazy constraint waits for the next trigger (more
calls may follow, and the closing tag is free text). Whitespace between a trigger and the constrained text is
allowed. With `start=trigger` the constraint is on from the first token (a required call after a prefill).

Triggers: `Trigger.include` means the constrained text starts at the trigger itself (it is the start of the JSON,
e.g. '{"tool_calls"'), so the text already written from the trigger on is fed to the new constraint;
`Trigger.at_start` only fires when nothing but whitespace came before it. A trigger whose text cannot be fed (the
model wrote something the constraint refuses) leaves the output unconstrained; `failed` counts such cases.

The tokenizer needs tokenize(bytes, add_bos=False, special=False) -> ids, detokenize(ids, special=True) -> bytes and
n_vocab(); llamacore.tokenizer.Tokenizer has them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .tool_formats import Trigger

_WHITESPACE = (" ", "  ", "\n", "\n\n", "\t", " \n", "\n ", "\r\n")


class LazyConstraint:
    def __init__(
        self,
        triggers: Sequence[Trigger],
        make_constraint: Callable[[Trigger], Any],
        tokenizer: Any,
        *,
        start: Trigger | None = None,
        repeat: bool = True,
    ):
        self.triggers = list(triggers)
        self.make_constraint = make_constraint
        self.tokenizer = tokenizer
        self.repeat = repeat
        self.failed = 0
        self._text = ""  # text generated since the last constrained part ended (where triggers are looked for)
        self._at_start = True  # nothing but whitespace before self._text
        self._inner = None  # the active constraint
        self._armed = False  # the inner constraint has not received any text yet (whitespace may come first)
        self._done = False  # repeat=False and one constrained part is complete
        self._finished = False  # a `final` trigger's part is complete: the answer is
        self._trigger: Trigger | None = None  # the trigger of the active part
        self._pieces: dict[int, str] = {}
        n_vocab = int(tokenizer.n_vocab())
        self._ws = np.zeros(n_vocab, dtype=bool)
        for s in _WHITESPACE:
            ids = list(tokenizer.tokenize(s.encode(), add_bos=False, special=False))
            if len(ids) == 1:
                self._ws[ids[0]] = True
        if start is not None:
            self._engage(start, "")

    @property
    def active(self) -> bool:
        """A constrained part is being written."""
        return self._inner is not None

    def allowed(self) -> np.ndarray | None:
        if self._inner is None:
            return None
        mask = self._inner.allowed()
        if self._armed and mask is not None:
            mask = mask | self._ws
        return mask

    def accept(self, token: int) -> None:
        piece = self._piece(token)
        if self._inner is not None:
            if self._armed and self._ws[token] and not _inner_allows(self._inner, token):
                return  # whitespace before the constrained text
            self._armed = False
            self._inner.accept(token)
            if self._inner.is_accepting():
                self._release()
            return
        if self._done:
            return
        self._text += piece
        for trig in self.triggers:
            k = self._text.find(trig.text)
            if k < 0 or (trig.at_start and (self._text[:k].strip() or not self._at_start)):
                continue
            self._engage(trig, self._text[k:] if trig.include else self._text[k + len(trig.text) :])
            return
        keep = max((len(t.text) for t in self.triggers), default=0)
        if len(self._text) > 4 * keep + 64:  # only a trigger's length of text is needed to find one
            cut = len(self._text) - keep
            self._at_start = self._at_start and not self._text[:cut].strip()
            self._text = self._text[cut:]

    def is_accepting(self) -> bool:
        return self._inner is None or self._inner.is_accepting()

    def is_finished(self) -> bool:
        # after a constrained part, free text (and the end of generation) may follow, unless its trigger is final
        return self._finished

    # -- internals -------------------------------------------------------------------------------------------------
    def _engage(self, trig: Trigger, written: str) -> None:
        """Start the constraint for `trig`; `written`: text of it the model has already produced."""
        self._inner = self.make_constraint(trig)
        self._trigger = trig
        self._armed = True
        self._text = ""
        written = written.lstrip()
        if not written:
            return
        self._armed = False
        try:
            for t in self.tokenizer.tokenize(written.encode("utf-8"), add_bos=False, special=False):
                self._inner.accept(int(t))
        except ValueError:  # the model already left what the constraint allows: give up on this part
            self.failed += 1
            self._inner = None
            return
        if self._inner.is_accepting():
            self._release()

    def _release(self) -> None:
        self._finished = self._trigger is not None and self._trigger.final
        self._inner = None
        self._armed = False
        self._text = ""
        self._at_start = False
        if not self.repeat:
            self._done = True

    def _piece(self, token: int) -> str:
        piece = self._pieces.get(token)
        if piece is None:
            raw = self.tokenizer.detokenize([token], special=True)
            piece = self._pieces[token] = bytes(raw).decode("utf-8", errors="replace")
        return piece


def _inner_allows(inner: Any, token: int) -> bool:
    mask = inner.allowed()
    return mask is None or bool(mask[token])
