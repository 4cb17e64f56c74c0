"""The streaming tool-call parser: a model's text in, OpenAI's chat deltas and final message out.

    p = ToolCallParser(CONVENTIONS["hermes"])
    for piece in generated_text_pieces:
        for delta in p.feed(piece):         # {"content": ...} or {"tool_calls": [{"index", "id", "type", "function"}]}
            ...
    deltas = p.finish()                     # what was held back at the end
    p.message()                             # {"role": "assistant", "content": ..., "tool_calls": [...]}

Each feed re-reads the whole text with the convention's parse (prefix-monotone, see tool_formats) and sends what
is new since the last feed: content, a call's id and name (once the name is complete), then its arguments text as
it grows. Nothing is ever taken back, so the deltas always add up to the final message, and feeding the text in
one piece or in any split gives the same message. A partial opening (e.g. "<tool_") is held back, never shown.
Content is trimmed: leading whitespace is dropped and trailing whitespace is held until more text follows it.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

from .tool_formats import Call, Content, Convention

_ALNUM = string.ascii_letters + string.digits


def random_call_id(length: int = 0) -> str:
    """An OpenAI-style call id ("call_" + 24 characters), or `length` alphanumerics (Mistral's 9)."""
    if length:
        return "".join(secrets.choice(_ALNUM) for _ in range(length))
    return "call_" + "".join(secrets.choice(_ALNUM) for _ in range(24))


class ToolCallParser:
    """Incremental parser of one answer (see the module docstring).

    max_calls: calls after this many are dropped (parallel_tool_calls=False gives 1). legacy_functions: deltas and
    the message use the legacy `function_call` field instead of `tool_calls`. prefill: text the prompt already
    ended with (a forced call's opening), read as if the model had written it."""

    def __init__(
        self,
        convention: Convention,
        *,
        max_calls: int | None = None,
        legacy_functions: bool = False,
        prefill: str = "",
        new_id: Callable[[], str] | None = None,
    ):
        self.convention = convention
        self.max_calls = max_calls
        self.legacy = legacy_functions
        self._new_id = new_id or (lambda: random_call_id(convention.call_ids_length))
        self._text = prefill
        self._content: list[str] = []  # content shown so far
        self._held_ws = ""  # trailing whitespace not shown yet
        self._started = False  # some content has been shown
        self._segments_done = 0  # segments fully sent
        self._seg_sent = 0  # characters (content) or argument characters (call) of the current segment sent
        self._seg_call: int | None = None  # the current segment's call index (-1: dropped), None: not begun
        self._seg_kind: type = object  # the current segment's type (Content or Call) when first seen
        self._calls: list[dict] = []  # {"id", "name", "arguments"} of the calls sent so far
        self._finished = False

    # -- feeding ---------------------------------------------------------------------------------------------------
    def feed(self, text: str) -> list[dict]:
        if self._finished:
            raise RuntimeError("ToolCallParser.feed after finish")
        if not text:
            return []
        self._text += text
        return self._send(self.convention.parse(self._text, final=False))

    def finish(self) -> list[dict]:
        """No more text: send what was held back (a trailing partial marker becomes content)."""
        if self._finished:
            return []
        self._finished = True
        return self._send(self.convention.parse(self._text, final=True))

    # -- results ---------------------------------------------------------------------------------------------------
    @property
    def tool_calls(self) -> list[dict]:
        return [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in self._calls
        ]

    @property
    def content(self) -> str:
        return "".join(self._content)

    def message(self) -> dict:
        """The assistant message: content None when only tools were called."""
        content = self.content
        msg: dict = {"role": "assistant", "content": content if (content or not self._calls) else None}
        if self._calls:
            if self.legacy:
                first = self.tool_calls[0]["function"]
                msg["function_call"] = {"name": first["name"], "arguments": first["arguments"]}
            else:
                msg["tool_calls"] = self.tool_calls
        return msg

    def finish_reason(self, reason: str | None) -> str | None:
        """The choice's finish_reason given the generation's ("stop"/"length"): calls made -> "tool_calls"
        (legacy: "function_call"), unless the text was cut off by the length limit."""
        if self._calls and reason != "length":
            return "function_call" if self.legacy else "tool_calls"
        return reason

    # -- internals -------------------------------------------------------------------------------------------------
    def _send(self, segments: list) -> list[dict]:
        out: list[dict] = []
        for idx in range(self._segments_done, len(segments)):
            seg = segments[idx]
            if not isinstance(seg, self._seg_kind):  # blank text that turned out to start a call: nothing was shown
                self._seg_kind, self._seg_sent = type(seg), 0
            if isinstance(seg, Content):
                self._show(seg.text[self._seg_sent :], out)
                self._seg_sent = len(seg.text)
            elif seg.name is None:  # undecided: wait (it is always the last segment)
                break
            else:
                self._call(seg, out)
            if idx == len(segments) - 1 and not self._finished:
                break  # the last segment may still grow
            self._segments_done, self._seg_sent, self._seg_call, self._seg_kind = idx + 1, 0, None, object
        return out

    def _show(self, text: str, out: list[dict]) -> None:
        if not self._started:
            text = text.lstrip()
            if not text:
                return
            self._started = True
        text = self._held_ws + text
        body = text.rstrip()
        self._held_ws = text[len(body) :]
        if body:
            self._content.append(body)
            out.append({"content": body})

    def _call(self, seg: Call, out: list[dict]) -> None:
        if self._seg_call is None:  # a new call: id and name first
            if self.max_calls is not None and len(self._calls) >= self.max_calls:
                self._seg_call = -1  # dropped: parallel calls were not allowed
                return
            self._calls.append({"id": self._new_id(), "name": seg.name, "arguments": ""})
            self._seg_call = len(self._calls) - 1
            if self.legacy:
                out.append({"function_call": {"name": seg.name, "arguments": ""}})
            else:
                fn = {"name": seg.name, "arguments": ""}
                out.append(
                    {
                        "tool_calls": [
                            {"index": self._seg_call, "id": self._calls[-1]["id"], "type": "function", "function": fn}
                        ]
                    }
                )
        if self._seg_call < 0:
            return
        args = seg.arguments
        if seg.done and not args.strip():
            args = "{}"
        new = args[self._seg_sent :]
        if not new:
            return
        self._calls[self._seg_call]["arguments"] += new
        self._seg_sent = len(args)
        if self.legacy:
            out.append({"function_call": {"arguments": new}})
        else:
            out.append({"tool_calls": [{"index": self._seg_call, "function": {"arguments": new}}]})
