"""Token-by-token detokenization that only ever hands out whole UTF-8 characters."""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tokenizer import Tokenizer


class StreamingDetokenizer:
    """Feed tokens one at a time; get back the text they complete.

        stream = tok.streaming_detokenizer()
        for t in ids:
            print(stream.add(t), end="")
        print(stream.flush())

    A character whose bytes span several tokens (byte-fallback <0xNN> tokens, byte-level BPE pieces) comes out
    when its last byte arrives; bytes that can never form a character come out as U+FFFD. The text is the same as
    tok.detokenize(all_tokens, special).decode("utf-8", "replace"), including its SentencePiece rule: when the first
    token is BOS, the leading space of the first piece is dropped.
    """

    def __init__(self, tokenizer: Tokenizer, special: bool = False):
        self._tok = tokenizer
        self._special = special
        self.reset()

    def reset(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._started = False
        self._drop_space = False
        self.tokens: list[int] = []

    def add(self, token: int) -> str:
        """Adds one token; returns the characters it completes (possibly "")."""
        piece = self._tok.token_to_piece(token, self._special)
        self.tokens.append(int(token))
        if not self._started:
            self._started = True
            self._drop_space = int(token) == self._tok.token_bos()
        if self._drop_space and piece:
            self._drop_space = False
            if piece[:1] == b" ":
                piece = piece[1:]
        return self._decoder.decode(piece)

    def flush(self) -> str:
        """Ends the stream: bytes still waiting for the rest of a character come out as U+FFFD."""
        return self._decoder.decode(b"", final=True)
