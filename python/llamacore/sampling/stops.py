"""Turning generated tokens into text that is safe to show: whole UTF-8 characters only, and never any part of a
stop string.

    out = TextStream(stop=["\\n\\n", "User:"])
    for piece in pieces:                    # bytes of each generated token
        shown = out.push(piece)             # text that can be shown now ("" while it could start a stop string)
        if out.stopped: break               # a stop string appeared; `shown` ends right before it
    shown += out.flush()                    # generation ended for another reason: release what was held back

Text is held back while its end could be the beginning of a stop string. Once a stop string appears, everything
from its first character on is dropped. Invalid UTF-8 from the model becomes U+FFFD; an incomplete character left
at the very end is dropped.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable


class TextStream:
    def __init__(self, stop: Iterable[str] = ()):
        self.stop = [s for s in stop if s]
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = ""  # decoded text not shown yet
        self.emitted = 0  # characters shown so far
        self.stopped = False  # a stop string was found
        self.stop_string: str | None = None

    @property
    def held_chars(self) -> int:
        """Characters decoded but not shown yet."""
        return len(self._held)

    def _holdback(self) -> int:
        """Length of the longest end of the held text that is a proper prefix of a stop string."""
        best = 0
        held = self._held
        for s in self.stop:
            for n in range(min(len(s) - 1, len(held)), best, -1):
                if held.endswith(s[:n]):
                    best = n
                    break
        return best

    def push(self, piece: bytes) -> str:
        """Add one token's bytes; return the text that can be shown now."""
        if self.stopped:
            return ""
        self._held += self._decoder.decode(piece)
        if not self._held:
            return ""
        if self.stop:
            first = -1
            for s in self.stop:
                i = self._held.find(s)
                if i >= 0 and (first < 0 or i < first):
                    first, self.stop_string = i, s
            if first >= 0:
                self.stopped = True
                return self._release(first)
        keep = self._holdback() if self.stop else 0
        return self._release(len(self._held) - keep)

    def _release(self, n: int) -> str:
        out, self._held = self._held[:n], self._held[n:]
        if self.stopped:
            self._held = ""
        self.emitted += len(out)
        return out

    def flush(self) -> str:
        """Generation ended without a stop string: the held-back text (an incomplete last character is dropped)."""
        if self.stopped:
            return ""
        self._decoder.reset()
        return self._release(len(self._held))
