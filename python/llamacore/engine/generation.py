"""Generation, one token at a time, without owning the forward pass.

A `GenerationState` is one sequence's generation: its sampler chain (with its seeded random stream and mirostat
state), an optional token constraint (grammar / JSON schema), stop detection (stop strings, stop tokens,
end-of-generation tokens, stopping criteria, the token limit), the streaming text (whole UTF-8 characters, stop
strings held back) and logprobs when asked. Given the logits row that follows the sequence, `step(row)` returns one
`TokenEvent`. Whoever owns the forward pass feeds the event's token back to the model:

    # one sequence (what Llama does): stream_generate below
    # many sequences (a server): one decode_batch call, then each state steps on its own row
    rows = engine.decode_batch(tokens, positions, seq_ids, output_rows)       # float32[n_seqs, n_vocab]
    for state, row in zip(states, rows):
        ev = state.step(row)              # ev.token, ev.text, ev.logprobs, ev.finish_reason
        if ev.finish_reason is None:
            next_tokens.append(ev.token)  # evaluated in the next decode_batch call

Per-token cost outside the forward pass: the sampler chain (numpy passes over the row; no Python loop over the
vocabulary), one dictionary lookup for the token's text and the stop-string check. Logprobs and logits processors
cost a pass over the row more, only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..sampling import Sampler, log_softmax
from ..sampling.stops import TextStream
from .session import Session

__all__ = ["GenerationState", "TokenConstraint", "TokenEvent", "Vocab", "stream_generate"]


class TokenConstraint(Protocol):
    """What a constraint gives (see sampling/grammar.py): the tokens allowed next, as a mask."""

    def allowed(self) -> np.ndarray | None: ...  # bool[n_vocab], or None: anything goes now
    def accept(self, token: int) -> None: ...
    def is_accepting(self) -> bool: ...
    def is_finished(self) -> bool: ...


@dataclass
class TokenEvent:
    """What one step produced.

    token: the sampled token, None when the step ended the generation without one (an end-of-generation or stop
        token, a stopping criterion, or the limit reached before it).
    text: the text released by this step ("" while it is held back: a partial character, a possible stop string).
    logprobs: llama-cpp-python's lists {"tokens", "text_offset", "token_logprobs", "top_logprobs"} for the tokens
        whose text this step released (None when logprobs were not asked or nothing was released).
    finish_reason: None while the generation goes on, else "stop" or "length"."""

    token: int | None
    text: str = ""
    logprobs: dict | None = None
    finish_reason: str | None = None


class Vocab:
    """Token facts a generation needs, cached: each token's bytes, its text for logprobs, end-of-generation."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._pieces: dict[int, bytes] = {}

    def piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = bytes(self.tokenizer.detokenize([token], special=False))
        return piece

    def text(self, token: int) -> str:
        return self.piece(token).decode("utf-8", errors="ignore")

    def is_eog(self, token: int) -> bool:
        return bool(self.tokenizer.is_eog(token))


class GenerationState:
    """One sequence's generation state; `step(row)` advances it by one token (see the module docstring).

    prompt_tokens: the sequence before generation (penalties, DRY and stopping criteria see it).
    sampler: the sequence's Sampler (settings + seeded random stream).
    max_tokens: the most tokens to generate (None: no limit); then finish "length".
    stop: stop strings (the text ends right before the first one, finish "stop").
    stop_tokens: token ids that end the generation (not shown), as end-of-generation tokens do when stop_at_eog.
    logprobs: None, or how many top alternatives to list per token.
    constraint: a TokenConstraint (grammar / JSON schema) or None.
    logits_processor / stopping_criteria: llama-cpp-python's callables (input_ids, scores).
    text_offset: where the generated text starts, for logprobs' text_offset (the prompt's length in characters)."""

    def __init__(
        self,
        prompt_tokens: Sequence[int] | np.ndarray,
        sampler: Sampler,
        vocab: Vocab,
        *,
        max_tokens: int | None = None,
        stop: Iterable[str] = (),
        stop_tokens: Iterable[int] = (),
        stop_at_eog: bool = True,
        logprobs: int | None = None,
        constraint: TokenConstraint | None = None,
        logits_processor: Sequence[Callable] | None = None,
        stopping_criteria: Sequence[Callable] | None = None,
        text_offset: int = 0,
    ):
        self.sampler, self.vocab = sampler, vocab
        self.max_tokens = max_tokens
        self.stop_tokens = frozenset(int(t) for t in stop_tokens)
        self._stop_ids = np.fromiter(self.stop_tokens, dtype=np.int64, count=len(self.stop_tokens))
        self.stop_at_eog = stop_at_eog
        self.logprobs = logprobs
        self.constraint = constraint
        self.processors = list(logits_processor or [])
        self.criteria = list(stopping_criteria or [])
        self.text_offset = text_offset
        prompt = np.asarray(prompt_tokens, dtype=np.int32).reshape(-1)
        self._tokens = np.zeros(max(64, 2 * prompt.shape[0]), dtype=np.int32)  # prompt + generated, grown by doubling
        self._tokens[: prompt.shape[0]] = prompt
        self._n = prompt.shape[0]
        self.n_prompt = prompt.shape[0]
        self.completion_tokens: list[int] = []
        self.finish_reason: str | None = None
        self._out = TextStream(stop)
        self._pending: list[tuple[int, dict]] = []  # (text offset, logprob entry) of tokens whose text is not shown

    @property
    def tokens(self) -> np.ndarray:
        """The sequence so far, prompt included: int32[n] (a view)."""
        return self._tokens[: self._n]

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def add_tokens(self, tokens: Sequence[int]) -> None:
        """Tokens put into the sequence from outside (not sampled): they join the context, and the constraint's
        state when there is one (ValueError if it does not allow them)."""
        for t in tokens:
            if self.constraint is not None:
                self.constraint.accept(int(t))
            self._append(int(t))

    def _append(self, token: int) -> None:
        if self._n == self._tokens.shape[0]:
            self._tokens = np.concatenate([self._tokens, np.zeros_like(self._tokens)])
        self._tokens[self._n] = token
        self._n += 1

    # ---- one step ----------------------------------------------------------------------------------------------

    def sample(self, row: np.ndarray) -> int:
        """The next token from a logits row float32[n_vocab], without advancing anything."""
        return self.sampler.sample(row, self.tokens, self.processors, self._allowed(row.shape[0]))

    def _allowed(self, n_vocab: int) -> np.ndarray | None:
        c = self.constraint
        if c is None:
            return None
        mask = c.allowed()
        if mask is None:
            return None
        mask = np.asarray(mask, dtype=bool)
        if mask.shape[0] != n_vocab:  # a model whose output rows are padded past the tokenizer's vocabulary
            fixed = np.zeros(n_vocab, dtype=bool)
            fixed[: min(n_vocab, mask.shape[0])] = mask[:n_vocab]
            mask = fixed
        if self._stop_ids.size and c.is_accepting():  # template stop tokens end an accepted answer as EOG would
            mask = mask.copy()
            mask[self._stop_ids[self._stop_ids < n_vocab]] = True
        return mask

    def step(self, row: np.ndarray) -> TokenEvent:
        """Sample from the logits row that follows the sequence (float32[n_vocab]) and advance by one token."""
        if self.finish_reason is not None:
            raise RuntimeError("this generation has finished")
        if self.max_tokens is not None and len(self.completion_tokens) >= self.max_tokens:
            return self._finish("length")
        context = self.tokens
        token = self.sample(row)
        if self.criteria and any(c(context, row) for c in self.criteria):
            return self._finish("stop")
        if token in self.stop_tokens or (self.stop_at_eog and self.vocab.is_eog(token)):
            return self._finish("stop")
        if self.constraint is not None:
            self.constraint.accept(token)
        self._append(token)
        self.completion_tokens.append(token)
        out = self._out
        if self.logprobs is not None:
            offset = self.text_offset + out.emitted + out.held_chars
            self._pending.append((offset, self._token_logprobs(row, token)))
        text = out.push(self.vocab.piece(token))
        if out.stopped:  # the tokens whose text was cut off keep no logprobs
            self.finish_reason = "stop"
            return TokenEvent(token, text, self._release(final=False) if text else None, "stop")
        if self.constraint is not None and self.constraint.is_finished():
            return self._finish("stop", token, text)
        if self.max_tokens is not None and len(self.completion_tokens) >= self.max_tokens:
            return self._finish("length", token, text)
        return TokenEvent(token, text, self._release(final=False) if text else None)

    def _finish(self, reason: str, token: int | None = None, text: str = "") -> TokenEvent:
        """End without a stop string: release the held-back text and every pending logprob."""
        self.finish_reason = reason
        text += self._out.flush()
        lp = self._release(final=True) if (text or self._pending) else None
        return TokenEvent(token, text, lp, reason)

    # ---- logprobs ----------------------------------------------------------------------------------------------

    def _token_logprobs(self, row: np.ndarray, token: int) -> dict:
        return token_logprobs(row, token, int(self.logprobs), self.vocab)

    def _release(self, final: bool) -> dict | None:
        """The logprobs of the tokens whose text has been shown (all of them when final)."""
        if self.logprobs is None:
            return None
        shown_end = self.text_offset + self._out.emitted
        done = [(o, e) for o, e in self._pending if final or o < shown_end]
        del self._pending[: len(done)]
        return {
            "tokens": [e["token"] for _, e in done],
            "text_offset": [o for o, _ in done],
            "token_logprobs": [e["logprob"] for _, e in done],
            "top_logprobs": [e["top"] for _, e in done],
        }


def token_logprobs(row: np.ndarray, token: int, n: int, vocab: Vocab) -> dict:
    """A token's log-probability under a logits row, and the n most likely tokens' (plus its own)."""
    lp = log_softmax(row)
    top = np.argpartition(-lp, n - 1)[:n] if 0 < n < lp.shape[0] else np.arange(0 if n == 0 else lp.shape[0])
    top = top[np.argsort(-lp[top], kind="stable")]
    tops = {vocab.text(int(i)): float(lp[i]) for i in top}
    tops[vocab.text(token)] = float(lp[token])
    return {"token": vocab.text(token), "logprob": float(lp[token]), "top": tops}


def stream_generate(
    session: Session, state: GenerationState, prompt: Sequence[int] | None = None
) -> Iterator[TokenEvent]:
    """One sequence's generation on a Session: events until one carries a finish reason. With `prompt`, the session
    is first brought to it (longest-prefix reuse). Each token is evaluated only when the next one is needed, so the
    last one never is."""
    if prompt is not None:
        session.prepare(prompt)
    row = session.logits
    if row is None:
        raise ValueError("nothing evaluated yet: give a prompt")
    while True:
        ev = state.step(row)
        yield ev
        if ev.finish_reason is not None:
            return
        session.eval([ev.token])
        row = session.logits
