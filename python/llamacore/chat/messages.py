"""OpenAI chat messages checked and put in the one shape chat templates expect.

    messages = normalize_messages(messages)   # ValueError on what OpenAI's API would refuse

What it does, message by message:
  - content given as a list of parts ([{"type": "text", "text": ...}, ...]) becomes the joined text; an image, audio
    or file part raises ValueError (llamacore runs text models only: multimodal input is not supported);
  - an assistant message may carry `tool_calls` (content None or ""); their `arguments` stay the JSON string OpenAI
    sends and are also decoded (`arguments_obj`), because templates differ in which one they print;
  - a "tool" message needs `tool_call_id` (a string); its `name` is filled in from the call it answers;
  - legacy function calling: an assistant `function_call` becomes one tool call and a "function" message a "tool"
    message, so templates see one convention.
The input is never modified; the messages returned are new dicts.
"""

from __future__ import annotations

import json
from typing import Any

from .template import ChatTemplateError

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_TEXT_PART_TYPES = ("text", "input_text")
_MULTIMODAL_PART_TYPES = ("image_url", "image", "input_image", "input_audio", "audio", "file", "input_file", "video")


def content_text(content: Any, where: str = "content") -> str | None:
    """The text of a message's content: a string, None, or a list of OpenAI content parts (text parts joined)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        texts = []
        for i, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in _TEXT_PART_TYPES:
                text = part.get("text")
                if not isinstance(text, str):
                    raise ChatTemplateError(f"{where}[{i}]: a text part needs a string 'text'")
                texts.append(text)
            elif kind == "refusal" and isinstance(part.get("refusal"), str):
                texts.append(part["refusal"])
            elif kind in _MULTIMODAL_PART_TYPES:
                raise ChatTemplateError(
                    f"{where}[{i}] is an {kind!r} part: multimodal input is not supported by llamacore "
                    "(text models only); send text parts"
                )
            else:
                raise ChatTemplateError(f"{where}[{i}]: unknown content part {part!r:.80}")
        return "".join(texts)
    raise ChatTemplateError(f"{where} must be a string, None or a list of content parts, got {type(content).__name__}")


def _decode_arguments(arguments: Any, where: str) -> tuple[str, Any]:
    """(the JSON string, the decoded value) of a tool call's arguments given as a string or as an object."""
    if isinstance(arguments, str):
        try:
            return arguments, json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return arguments, arguments  # kept as text: the template prints what the model once wrote
    if arguments is None:
        return "{}", {}
    if isinstance(arguments, dict):
        return json.dumps(arguments, ensure_ascii=False), arguments
    raise ChatTemplateError(f"{where}: arguments must be a JSON string or an object")


def _tool_calls(m: dict, where: str) -> list[dict]:
    calls = m.get("tool_calls")
    if calls is None and isinstance(m.get("function_call"), dict):  # legacy: one function call
        calls = [{"id": "call_0", "type": "function", "function": m["function_call"]}]
    if not calls:
        return []
    if not isinstance(calls, (list, tuple)):
        raise ChatTemplateError(f"{where}.tool_calls must be a list")
    out = []
    for j, call in enumerate(calls):
        w = f"{where}.tool_calls[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ChatTemplateError(
                f"{w} must be {{'id': ..., 'type': 'function', 'function': {{'name': ..., 'arguments': ...}}}}"
            )
        text, obj = _decode_arguments(fn.get("arguments"), w)
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise ChatTemplateError(f"{w}.id must be a string")
        out.append(
            {
                "id": call_id or f"call_{j}",
                "type": "function",
                "function": {"name": fn["name"], "arguments": text},
                "arguments_obj": obj,
            }
        )
    return out


def normalize_messages(messages: Any) -> list[dict]:
    """Checked copies of OpenAI-style messages (see the module docstring). Raises ChatTemplateError (a ValueError)."""
    if isinstance(messages, (str, bytes, dict)) or not hasattr(messages, "__iter__"):
        raise ChatTemplateError("messages must be a list of {'role': ..., 'content': ...} dicts")
    out: list[dict] = []
    call_names: dict[str, str] = {}
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ChatTemplateError(f"{where} must be a dict with a string 'role', got {m!r:.80}")
        role = m["role"]
        if role not in ROLES:
            raise ChatTemplateError(f"{where}: unknown role {role!r} (known: {', '.join(ROLES)})")
        msg = {k: v for k, v in m.items() if k not in ("tool_calls", "function_call")}
        if role == "developer":  # OpenAI's newer name for the system role
            msg["role"] = role = "system"
        msg["content"] = content_text(m.get("content"), f"{where}.content")
        if role == "assistant":
            calls = _tool_calls(m, where)
            if calls:
                msg["tool_calls"] = calls
                for c in calls:
                    call_names[c["id"]] = c["function"]["name"]
            elif msg["content"] is None:
                raise ChatTemplateError(f"{where}: an assistant message needs content or tool_calls")
        elif role == "function":  # legacy function result -> tool message
            name = m.get("name")
            if not isinstance(name, str):
                raise ChatTemplateError(f"{where}: a 'function' message needs the function's 'name'")
            msg = {"role": "tool", "content": msg["content"] or "", "name": name}
            msg["tool_call_id"] = next((k for k, v in reversed(call_names.items()) if v == name), "call_0")
        elif role == "tool":
            if not isinstance(m.get("tool_call_id"), str):
                raise ChatTemplateError(f"{where}: a 'tool' message needs a string 'tool_call_id'")
            msg["content"] = msg["content"] or ""
            msg.setdefault("name", call_names.get(m["tool_call_id"], ""))
        elif msg["content"] is None:
            raise ChatTemplateError(f"{where}: a {role!r} message needs content")
        out.append(msg)
    if not out:
        raise ChatTemplateError("messages is empty")
    return out
