"""Tool-call conventions: how a model writes tool calls, and how to read, constrain and re-render them.

    conv = CONVENTIONS["hermes"]
    conv.parse('Let me see.<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>', final=True)
    # -> [Content('Let me see.'), Call('f', '{"x": 1}', done=True)]

What the model writes, per convention:
  - hermes (Qwen2.5, Hermes 2/3): `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`, a block per call;
  - llama3 (Llama 3.1-3.3): `{"name": ..., "parameters": {...}}` as the whole answer (`;` between calls), or after
    `<|python_tag|>` (also the builtin tools' `tool.call(k="v")`, and raw code for the "python" tool);
  - mistral (Nemo, Small): `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]` or `[TOOL_CALLS]name[ARGS]{...}`;
  - generic (any other template: Gemma, SmolLM2, ...): `{"tool_calls": [{"name": ..., "arguments": {...}}]}` as the
    whole answer (also `{"tool_call": {...}}` and `{"response": "..."}`);
  - chatml-function-calling (llama-cpp-python's chat_format): `functions.NAME:\\n{...}` lines, or `message:\\n` text;
  - functionary-v2: after `<|recipient|>`, `all\\n<|content|>text` or `NAME\\n<|content|>{...}`, the parts joined by
    `\\n<|from|>assistant\\n<|recipient|>`.

`parse(text, final)` reads a prefix of the output: with final=False it leaves out whatever could still change (a
partial opening marker, a call whose name is not complete yet), so that parsing a longer prefix only ever extends
what a shorter one gave (the streaming parser relies on it). A Call with name None means "undecided: wait".
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from .jsonscan import INVALID, OPEN, loads_or, object_members, scan_value, skip_ws


@dataclass
class Content:
    text: str


@dataclass
class Call:
    name: str | None  # None: undecided (nothing of it may be shown yet)
    arguments: str = ""  # the JSON text of the arguments as far as it is certain
    done: bool = False  # the arguments are complete


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    parameters: dict  # JSON schema of the arguments (an object schema)


@dataclass(frozen=True)
class Trigger:
    """An opening text that switches a tool call's grammar on. `include`: the constrained text starts at the trigger
    (the trigger is the start of the JSON) instead of after it. `at_start`: only when the output so far is blank.
    `final`: the constrained text is the rest of the answer (nothing follows the call's JSON but the end of the turn),
    so generation ends where it is complete."""

    text: str
    schema: dict = field(hash=False, compare=False)
    include: bool = False
    at_start: bool = False
    final: bool = False


def _hold(text: str, markers: Sequence[str]) -> int:
    """Length of the longest suffix of text that is a proper prefix of a marker (it may become the marker)."""
    best = 0
    for m in markers:
        for k in range(min(len(m) - 1, len(text)), best, -1):
            if text.endswith(m[:k]):
                best = k
                break
    return best


def _content(text: str, final: bool, markers: Sequence[str] = ()) -> Content:
    if not final and markers:
        text = text[: len(text) - _hold(text, markers)]
    return Content(text)


_UNDECIDED = Call(None)


def call_object(
    text: str, i: int, complete: bool, arg_keys: Sequence[str] = ("arguments", "parameters")
) -> tuple[Call | None, int]:
    """The call written as a JSON object {"name": ..., "arguments": ...} at text[i].

    Returns (None, INVALID) when it cannot be one, (an undecided Call, OPEN) while the name is not known, else
    (Call, end) with end the index after the object or OPEN. `complete`: no more text will come."""
    if i >= len(text):
        return (None, INVALID) if complete else (_UNDECIDED, OPEN)
    if text[i] != "{":
        return None, INVALID
    members, end = object_members(text, i)
    name = args = None
    for m in members:
        if m.key == "name" and m.end >= 0 and name is None:
            value = json.loads(text[m.start : m.end]) if text[m.start] == '"' else None
            if not isinstance(value, str):
                return None, INVALID
            name = value
        elif m.key in arg_keys and args is None:
            if m.end >= 0:
                raw = text[m.start : m.end]
                if raw.startswith('"'):  # arguments given as a JSON string holding JSON
                    raw = loads_or(raw, raw)
                args = raw
            elif m.start < len(text) and text[m.start] in "{[":
                args = text[m.start :]  # still growing: a prefix of the final text
            else:
                args = ""
    if end == INVALID and name is None:
        return None, INVALID
    if name is None:
        return (None, INVALID) if (end >= 0 or complete) else (_UNDECIDED, OPEN)
    if end >= 0 or end == INVALID:
        return Call(name, args if args is not None else "{}", True), (end if end >= 0 else len(text))
    return Call(name, args or "", False), OPEN


def _json_calls(text: str, i: int, complete: bool, segs: list, arg_keys, sep: str = ";") -> tuple[int, bool]:
    """Calls written as JSON objects one after another from text[i] (separated by whitespace or `sep`).

    Appends them to segs; returns (index after the last call, whether to stop parsing here)."""
    pos = i
    first = True
    while True:
        j = skip_ws(text, pos)
        if not first and j < len(text) and text[j] == sep:
            j = skip_ws(text, j + 1)
        if j >= len(text):
            return pos, not complete and not first  # more calls may follow: wait
        call, end = call_object(text, j, complete, arg_keys)
        if call is None:
            return pos, False
        segs.append(call)
        if call.name is None or end < 0:
            return pos, True
        pos, first = end, False


def _call_array(text: str, j: int, final: bool, segs: list) -> tuple[int, bool]:
    """Calls written as a JSON list of call objects at text[j] == '['; returns (index after it, stop here)."""
    j += 1
    while True:
        j = skip_ws(text, j)
        if j >= len(text):
            return j, True
        if text[j] == "]":
            return j + 1, False
        if text[j] == ",":
            j += 1
            continue
        call, end = call_object(text, j, final)
        if call is None:
            return j, False
        segs.append(call)
        if call.name is None or end < 0:
            return j, True
        j = end


class Convention:
    name = ""
    stop: tuple[str, ...] = ()
    call_ids_length = 0  # 0: "call_" + 24 characters; Mistral templates insist on 9

    # -- reading ---------------------------------------------------------------------------------------------------
    def parse(self, text: str, final: bool) -> list[Content | Call]:
        raise NotImplementedError

    # -- constraining ----------------------------------------------------------------------------------------------
    def prefill(self, tools: list[ToolDef], named: bool, parallel: bool) -> str:
        """Text put after the prompt when a call is required (the model continues from it)."""
        return ""

    def required_schema(self, tools: list[ToolDef], parallel: bool) -> dict | None:
        """JSON schema of what follows the prefill when a call is required (None: no JSON there)."""
        return call_schema(tools)

    def triggers(self, tools: list[ToolDef]) -> list[Trigger]:
        """Openings that switch the grammar on in "auto" mode (also after a required call, for more calls)."""
        return []

    # -- writing (for templates that cannot render tools themselves) -------------------------------------------
    def render_calls(self, calls: list[dict]) -> str:
        raise NotImplementedError

    how_to_call = ""

    def instructions(self, tools: list[ToolDef]) -> str:
        listing = "\n".join(
            json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters}, ensure_ascii=False)
            for t in tools
        )
        return f"You can call these tools:\n{listing}\n\n{self.how_to_call}"

    def render_tool_result(self, name: str, call_id: str, content: str) -> str:
        return json.dumps({"tool_response": {"name": name, "tool_call_id": call_id, "content": content}})


def call_schema(tools: list[ToolDef], args_key: str = "arguments") -> dict:
    """The schema of one call object {"name": ..., args_key: {...}} for any of tools (arguments per tool)."""
    variants = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, args_key: t.parameters},
            "required": ["name", args_key],
        }
        for t in tools
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _array_of(schema: dict, parallel: bool) -> dict:
    out = {"type": "array", "items": schema, "minItems": 1}
    if not parallel:
        out["maxItems"] = 1
    return out


def _call_json(call: dict, args_key: str = "arguments") -> str:
    fn = call["function"]
    return json.dumps({"name": fn["name"], args_key: call.get("arguments_obj", {})}, ensure_ascii=False)


class Hermes(Convention):
    name = "hermes"
    OPEN, CLOSE = "<tool_call>", "</tool_call>"
    how_to_call = (
        "To call a tool, write a JSON object with its name and arguments within <tool_call></tool_call> tags:\n"
        '<tool_call>\n{"name": <tool-name>, "arguments": <args-json-object>}\n</tool_call>'
    )

    def parse(self, text, final):
        segs: list = []
        pos = 0
        while True:
            k = text.find(self.OPEN, pos)
            if k < 0:
                segs.append(_content(text[pos:], final, (self.OPEN,)))
                return segs
            segs.append(Content(text[pos:k]))
            body = k + len(self.OPEN)
            close = text.find(self.CLOSE, body)
            region = text if close < 0 else text[:close]
            call, end = call_object(region, skip_ws(region, body), final or close >= 0)
            if call is None:  # not a call after all: the tag is text
                segs.append(Content(self.OPEN))
                pos = body
                continue
            segs.append(call)
            if call.name is None or end < 0:
                return segs
            if close < 0:
                if not final:
                    return segs  # wait for the closing tag
                pos = end
            else:
                pos = close + len(self.CLOSE)

    def prefill(self, tools, named, parallel):
        return self.OPEN + "\n"

    def triggers(self, tools):
        return [Trigger(self.OPEN, call_schema(tools))]

    def render_calls(self, calls):
        return "\n".join(f"{self.OPEN}\n{_call_json(c)}\n{self.CLOSE}" for c in calls)

    def render_tool_result(self, name, call_id, content):
        return f"<tool_response>\n{content}\n</tool_response>"


class Llama3(Convention):
    name = "llama3"
    TAG = "<|python_tag|>"
    stop = ("<|eom_id|>",)
    how_to_call = (
        "To call a tool, respond with only a JSON object in the format "
        '{"name": function name, "parameters": dictionary of argument name and its value}.'
    )

    def parse(self, text, final):
        segs: list = []
        k = text.find(self.TAG)
        head = text if k < 0 else text[:k]
        complete = final or k >= 0
        j = skip_ws(head, 0)
        pos = 0
        if j < len(head) and head[j] == "{":
            pos, stop = _json_calls(head, j, complete, segs, ("parameters", "arguments"))
            if stop:
                return segs
            if not segs:
                pos = 0
        elif j >= len(head) and not complete:
            return segs
        segs.append(_content(head[pos:], complete, (self.TAG,) if k < 0 else ()))
        if k < 0:
            return segs
        body = text[k + len(self.TAG) :]
        j = skip_ws(body, 0)
        if j < len(body) and body[j] == "{":
            n0 = len(segs)
            pos, stop = _json_calls(body, j, final, segs, ("parameters", "arguments"))
            if stop or len(segs) > n0:
                if not stop:
                    segs.append(Content(body[pos:]))
                return segs
        if not final:
            segs.append(_UNDECIDED)
            return segs
        segs.append(_builtin_call(body.strip()))
        return segs

    def required_schema(self, tools, parallel):
        return call_schema(tools, "parameters")

    def triggers(self, tools):
        schema = call_schema(tools, "parameters")
        return [Trigger("{", schema, include=True, at_start=True, final=True), Trigger(self.TAG, schema, final=True)]

    def render_calls(self, calls):
        return "; ".join(_call_json(c, "parameters") for c in calls)


def _builtin_call(code: str) -> Call:
    """After <|python_tag|>: `tool.call(k="v", ...)` (Llama 3.1's builtin tools) or code for the "python" tool."""
    try:
        node = ast.parse(code, mode="eval").body
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "call"
            and isinstance(node.func.value, ast.Name)
            and not node.args
        ):
            args = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
            return Call(node.func.value.id, json.dumps(args, ensure_ascii=False), True)
    except (SyntaxError, ValueError):
        pass
    return Call("python", json.dumps({"code": code}, ensure_ascii=False), True)


class Mistral(Convention):
    name = "mistral"
    TAG, ARGS = "[TOOL_CALLS]", "[ARGS]"
    call_ids_length = 9
    how_to_call = 'To call tools, write [TOOL_CALLS] and then a JSON list [{"name": ..., "arguments": {...}}, ...].'

    def parse(self, text, final):
        segs: list = []
        pos = 0
        while True:
            k = text.find(self.TAG, pos)
            if k < 0:
                segs.append(_content(text[pos:], final, (self.TAG,)))
                return segs
            segs.append(Content(text[pos:k]))
            j = skip_ws(text, k + len(self.TAG))
            if j >= len(text):
                if not final:
                    segs.append(_UNDECIDED)
                return segs
            if text[j] == "[":
                pos, stop = _call_array(text, j, final, segs)
                if stop:
                    return segs
                continue
            if text[j] == "{":  # a bare call object (some fine-tunes leave out the list)
                n0 = len(segs)
                pos, stop = _json_calls(text, j, final, segs, ("arguments", "parameters"), sep=",")
                if stop:
                    return segs
                if len(segs) > n0:
                    continue
            a = text.find(self.ARGS, j)  # name[ARGS]{...}
            if a < 0:
                if not final:
                    segs.append(_UNDECIDED)
                    return segs
                segs.append(Content(text[k:]))
                return segs
            name = text[j:a].strip()
            vs = skip_ws(text, a + len(self.ARGS))
            end = scan_value(text, vs)
            if end >= 0:
                segs.append(Call(name, text[vs:end], True))
                pos = end
                continue
            segs.append(Call(name, text[vs:] if text[vs : vs + 1] in ("{", "[") else "", False))
            return segs

    def prefill(self, tools, named, parallel):
        return self.TAG

    def required_schema(self, tools, parallel):
        return _array_of(call_schema(tools), parallel)

    def triggers(self, tools):
        return [Trigger(self.TAG, _array_of(call_schema(tools), True), final=True)]

    def render_calls(self, calls):
        return self.TAG + json.dumps(
            [{"name": c["function"]["name"], "arguments": c.get("arguments_obj", {})} for c in calls],
            ensure_ascii=False,
        )


class Generic(Convention):
    name = "generic"
    how_to_call = (
        "To call tools, respond with only a JSON object in the format "
        '{"tool_calls": [{"name": <tool-name>, "arguments": <args-json-object>}]} and nothing else; '
        "otherwise answer normally."
    )

    def parse(self, text, final):
        j = skip_ws(text, 0)
        if j >= len(text):
            return [Content(text)] if final else []  # blank so far: a call may still begin
        if text[j] != "{":
            return [Content(text)]
        members, end = object_members(text, j)
        if end == INVALID or (not members and end >= 0):
            return [Content(text)]
        if not members or (members[0].end == OPEN and members[0].key not in ("tool_calls", "tool_call")):
            return [Content(text)] if final else [_UNDECIDED]
        first = members[0]
        segs: list = []
        if first.key == "tool_calls" and text[first.start : first.start + 1] == "[":
            _, stop = _call_array(text, first.start, final, segs)
            if stop:
                return segs
        elif first.key == "tool_call":
            call, cend = call_object(text, first.start, final)
            if call is not None:
                segs.append(call)
                if call.name is None or cend < 0:
                    return segs
        elif first.key == "response" and end >= 0:
            value = json.loads(text[first.start : first.end]) if first.end >= 0 else None
            if isinstance(value, str):
                return [Content(value), Content(text[end:])]
        if not segs:
            return [Content(text)] if (end >= 0 or final) else [_UNDECIDED]
        if end == OPEN:
            return segs
        segs.append(Content(text[end:]))
        return segs

    def required_schema(self, tools, parallel):
        return {
            "type": "object",
            "properties": {"tool_calls": _array_of(call_schema(tools), parallel)},
            "required": ["tool_calls"],
        }

    def triggers(self, tools):
        schema = self.required_schema(tools, True)
        return [
            Trigger(t, schema, include=True, at_start=True, final=True) for t in ('{"tool_calls"', '{ "tool_calls"')
        ]

    def render_calls(self, calls):
        return json.dumps(
            {"tool_calls": [{"name": c["function"]["name"], "arguments": c.get("arguments_obj", {})} for c in calls]},
            ensure_ascii=False,
        )


class ChatMLFunctionCalling(Convention):
    """llama-cpp-python's chat_format="chatml-function-calling": the system prompt lists `functions.NAME:` and
    the parameters' schema; the model answers `message:\\n<text>` or `functions.NAME:\\n{...}` (one or more)."""

    name = "chatml-function-calling"
    FN, MSG = "functions.", "message:"
    stop = ("<|im_end|>",)

    def parse(self, text, final):
        j = skip_ws(text, 0)
        rest = text[j:]
        if not final and (self.FN.startswith(rest) or self.MSG.startswith(rest)):
            return [_UNDECIDED] if rest else []
        if rest.startswith(self.MSG):
            return [Content(rest[len(self.MSG) :])]
        if not rest.startswith(self.FN):
            return [Content(text)]
        segs: list = []
        pos = j
        while True:
            colon = text.find(":", pos)
            if colon < 0:
                if not final:
                    segs.append(_UNDECIDED)
                else:
                    segs.append(Content(text[pos:]))
                return segs
            name = text[pos + len(self.FN) : colon].strip()
            vs = skip_ws(text, colon + 1)
            end = scan_value(text, vs)
            if end < 0:
                if end == INVALID or (final and vs >= len(text)):
                    segs.append(Content(text[pos:]) if final else _UNDECIDED)
                    return segs
                segs.append(Call(name, text[vs:] if text[vs : vs + 1] in ("{", "[") else "", False))
                return segs
            segs.append(Call(name, text[vs:end], True))
            nxt = skip_ws(text, end)
            tail = text[nxt:]
            if tail.startswith(self.FN):
                pos = nxt
                continue
            if not final and self.FN.startswith(tail):
                return segs
            segs.append(Content(text[end:]))
            return segs

    def prefill(self, tools, named, parallel):
        return f"{self.FN}{tools[0].name}:\n" if named else self.FN

    def required_schema(self, tools, parallel):
        return tools[0].parameters if len(tools) == 1 else None

    def triggers(self, tools):
        return [Trigger(f"{self.FN}{t.name}:", t.parameters) for t in tools] + [
            Trigger(f"{t.name}:", t.parameters, at_start=True) for t in tools
        ]

    def render_calls(self, calls):
        return "\n".join(f"{self.FN}{c['function']['name']}:\n{c['function']['arguments']}" for c in calls)


class FunctionaryV2(Convention):
    """MeetKai functionary v2 (llama-cpp-python's chat_format="functionary-v2"): the prompt ends with
    `<|from|>assistant\\n<|recipient|>`; the model names a recipient ("all" = the user, else a function) and writes
    `\\n<|content|>` then the text or the JSON arguments; `\\n<|from|>assistant\\n<|recipient|>` starts the next part,
    `<|stop|>` ends the turn."""

    name = "functionary-v2"
    CONTENT, NEXT = "\n<|content|>", "<|from|>assistant\n<|recipient|>"
    stop = ("<|stop|>",)

    def parse(self, text, final):
        segs: list = []
        pos = 0
        while True:
            c = text.find(self.CONTENT, pos)
            if c < 0:
                if final and text[pos:].strip():
                    segs.append(Content(text[pos:]))
                elif not final and pos < len(text):
                    segs.append(_UNDECIDED)
                return segs
            recipient = text[pos:c].strip()
            body = c + len(self.CONTENT)
            nxt = text.find(self.NEXT, body)
            body_end = nxt if nxt >= 0 else len(text)
            if recipient == "all":
                segs.append(_content(text[body:body_end], final or nxt >= 0, (self.NEXT,)))
            else:
                name = recipient.removeprefix("functions.")
                vs = skip_ws(text, body)
                end = scan_value(text[:body_end], vs)
                if end >= 0:
                    segs.append(Call(name, text[vs:end], True))
                elif nxt >= 0 or final:
                    segs.append(Call(name, text[vs:body_end].strip(), nxt >= 0))
                else:
                    segs.append(Call(name, text[vs:] if text[vs : vs + 1] in ("{", "[") else "", False))
            if nxt < 0:
                return segs
            pos = nxt + len(self.NEXT)

    def prefill(self, tools, named, parallel):
        return f"{tools[0].name}{self.CONTENT}" if named else ""

    def required_schema(self, tools, parallel):
        return tools[0].parameters if len(tools) == 1 else None

    def triggers(self, tools):
        return [Trigger(f"{t.name}{self.CONTENT}", t.parameters) for t in tools]

    def render_calls(self, calls):
        return "\n".join(
            f"<|from|>assistant\n<|recipient|>{c['function']['name']}{self.CONTENT}{c['function']['arguments']}"
            for c in calls
        )


CONVENTIONS: dict[str, Convention] = {
    c.name: c for c in (Hermes(), Llama3(), Mistral(), Generic(), ChatMLFunctionCalling(), FunctionaryV2())
}


def detect_convention(chat_format: str | None, template_source: str | None, tokens: Sequence[str] = ()) -> Convention:
    """The convention a model uses, from the chat_format name, then its chat template's text, then its vocabulary."""
    if chat_format in ("chatml-function-calling", "functionary-v2", "functionary"):
        return CONVENTIONS["functionary-v2" if chat_format != "chatml-function-calling" else chat_format]
    src = template_source or ""
    if "<tool_call>" in src:
        return CONVENTIONS["hermes"]
    if "[TOOL_CALLS]" in src:
        return CONVENTIONS["mistral"]
    if "<|recipient|>" in src:
        return CONVENTIONS["functionary-v2"]
    if "<|start_header_id|>" in src and ("<|python_tag|>" in src or "ipython" in src or '"parameters"' in src):
        return CONVENTIONS["llama3"]
    if chat_format == "llama-3":
        return CONVENTIONS["llama3"]
    if "<tool_call>" in tokens:
        return CONVENTIONS["hermes"]
    return CONVENTIONS["generic"]
