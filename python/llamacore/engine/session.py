"""One sequence in an Engine: the tokens whose keys/values its KV cache holds, and the logits they produced.

    s = Session(engine, n_vocab=engine.n_vocab, n_ctx=engine.n_ctx_seq, n_batch=engine.n_batch, seq_id=0)
    reused = s.prepare(prompt_tokens)   # longest-prefix reuse: only the new tokens are evaluated
    row = s.logits                      # float32[n_vocab] after the last token
    s.eval([token])                     # one more token

The engine only needs `decode(tokens, positions, seq_id, logits_all)` and `kv_truncate(seq_id, n_keep)`.
A server keeps one Session per slot for prefix reuse and can still advance several slots in one
`Engine.decode_batch` call: it then records each slot's token and logits row with `push(token, row)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def longest_token_prefix(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> int:
    """How many leading tokens a and b share."""
    a, b = np.asarray(a), np.asarray(b)
    n = min(a.shape[0], b.shape[0])
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if diff.size else n


class Session:
    """A sequence's evaluated tokens (int32[n_tokens]) and the logits after them (see the module docstring).

    logits_all keeps every row (float32[n_tokens, n_vocab], for prompt logprobs); otherwise only the last row, plus
    the row after the end of the last prompt, so that the same prompt again starts from the very same numbers."""

    def __init__(self, engine, *, n_vocab: int, n_ctx: int, n_batch: int, seq_id: int = 0, logits_all: bool = False):
        self.engine = engine
        self.n_vocab, self.n_ctx, self.n_batch, self.seq_id = int(n_vocab), int(n_ctx), int(n_batch), int(seq_id)
        self.logits_all = bool(logits_all)
        self._tokens = np.zeros(self.n_ctx, dtype=np.int32)
        self.n_tokens = 0
        self.logits: np.ndarray | None = None  # float32[n_vocab]: after tokens[n_tokens - 1]
        # (n, float32[n_vocab]): the logits after tokens[n - 1] where the last prompt ended (see prepare)
        self._prompt_end: tuple[int, np.ndarray] | None = None
        self.all_logits = np.zeros((0, self.n_vocab), dtype=np.float32)  # logits_all: row i after token i

    @property
    def tokens(self) -> np.ndarray:
        """The tokens evaluated so far, int32[n_tokens] (a view)."""
        return self._tokens[: self.n_tokens]

    def reset(self) -> None:
        """Forget the evaluated tokens (the cache is trimmed on the next eval)."""
        self.n_tokens = 0
        self.logits = None
        self._prompt_end = None

    def eval(self, tokens: Sequence[int] | np.ndarray) -> None:
        """Evaluate tokens after the current ones, in chunks of n_batch, keeping the logits."""
        tokens = np.asarray(tokens).reshape(-1).astype(np.int32)
        n = tokens.shape[0]
        if n == 0:
            return
        if self.n_tokens + n > self.n_ctx:
            raise ValueError(f"Requested tokens ({self.n_tokens + n}) exceed context window of {self.n_ctx}")
        # Drop whatever the cache holds past n_tokens (after reset(), a truncation, or an interrupted call).
        self.engine.kv_truncate(self.seq_id, self.n_tokens)
        for start in range(0, n, self.n_batch):
            chunk = tokens[start : start + self.n_batch]
            positions = np.arange(self.n_tokens, self.n_tokens + chunk.shape[0], dtype=np.int32)
            logits = self.engine.decode(chunk, positions, seq_id=self.seq_id, logits_all=self.logits_all)
            self._record(chunk, logits)  # logits: float32[rows, n_vocab]

    def push(self, token: int, row: np.ndarray) -> None:
        """Record a token that was evaluated elsewhere (one row of a decode_batch call) and its logits row."""
        if self.n_tokens >= self.n_ctx:
            raise ValueError(f"Requested tokens ({self.n_tokens + 1}) exceed context window of {self.n_ctx}")
        self._record(np.array([token], dtype=np.int32), row.reshape(1, -1))

    def _record(self, chunk: np.ndarray, logits: np.ndarray) -> None:
        if self.logits_all:
            self._store_rows(self.n_tokens, logits)
        self._tokens[self.n_tokens : self.n_tokens + chunk.shape[0]] = chunk
        self.n_tokens += chunk.shape[0]
        # a view, not a copy (1 MB per token for a 262k vocabulary)
        self.logits = np.asarray(logits[-1], dtype=np.float32)

    def _store_rows(self, start: int, rows: np.ndarray) -> None:
        end = start + rows.shape[0]
        if end > self.all_logits.shape[0]:
            cap = min(self.n_ctx, max(end, 2 * self.all_logits.shape[0], 64))
            grown = np.zeros((cap, self.n_vocab), dtype=np.float32)
            grown[:start] = self.all_logits[:start]
            self.all_logits = grown
        self.all_logits[start:end] = rows

    def truncate(self, n_keep: int) -> None:
        """Keep the first n_keep evaluated tokens; the engine cache is trimmed on the next eval."""
        if n_keep < self.n_tokens:
            self.n_tokens = n_keep
            self.logits = self.known_logits(n_keep)
            if self._prompt_end is not None and self._prompt_end[0] > n_keep:
                self._prompt_end = None

    def known_logits(self, n: int) -> np.ndarray | None:
        """The logits after tokens[n - 1] if they were kept, else None."""
        if n > 0 and self.logits_all and n <= self.all_logits.shape[0]:
            return self.all_logits[n - 1]
        if self._prompt_end is not None and self._prompt_end[0] == n:
            return self._prompt_end[1]
        return None

    def prepare(self, tokens: Sequence[int] | np.ndarray) -> int:
        """Make the state end with `tokens`, reusing the longest cached prefix; returns how many were reused.

        Sampling needs the logits after the last token. When the whole of `tokens` is cached, they are reused if kept
        (the end of the previous prompt, or any position with logits_all), so a repeated prompt starts from the very
        same numbers; otherwise the last token is evaluated again. (An engine's numbers depend slightly on how a
        prompt is split into batches, as llama.cpp's do, so re-evaluating could move a seeded sample.)"""
        tokens = np.asarray(tokens, dtype=np.int32)
        n = tokens.shape[0]
        if n == 0:
            raise ValueError("cannot generate from an empty token list")
        prefix = longest_token_prefix(self.tokens, tokens)
        if prefix == n:
            known = self.logits if self.n_tokens == n else self.known_logits(n)
            if known is not None:
                self.truncate(n)
                self.logits = known
                return n
        prefix = min(prefix, n - 1)
        self.truncate(prefix)
        self.eval(tokens[prefix:])
        self._prompt_end = (n, np.array(self.logits))
        return prefix
