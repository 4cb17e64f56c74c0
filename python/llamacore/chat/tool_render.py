"""Rendering conversations with tools through any chat template.

Templates differ in what they understand. Before the first use, a template is probed by rendering small
conversations and looking for marker strings in the output (as llama.cpp's minja does):
  - tools: does it print the `tools` list it is given?
  - tool_calls: does it print an assistant message's tool_calls? and does it want their arguments as objects
    (most call `arguments | tojson`) or as the JSON string OpenAI sends?
  - tool_responses: does it print role "tool" messages?
  - system: does it print a system message?
What a template lacks is written into the messages instead ("polyfills"): the tools' description and how to call
them go into the system message, calls become assistant text in the model's convention, tool results become a
user message, a system message is put in front of the first user message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .template import ChatTemplate, ChatTemplateError
from .tool_formats import Convention, ToolDef

_TOOL = "probe_tool_x7"
_ARG, _VAL = "probe_arg_k", "probe_val_v"
_RESULT = "probe_result_r"
_SYSTEM = "probe_system_s"
_CALL_ID = "call12345"  # 9 characters: Mistral's templates insist


@dataclass(frozen=True)
class TemplateCaps:
    tools: bool
    tool_calls: bool
    object_arguments: bool
    tool_responses: bool
    system: bool


def _try(template: ChatTemplate, messages: list[dict], **kw) -> str:
    try:
        return template.render(messages, add_generation_prompt=True, default_system="", **kw)
    except (ChatTemplateError, ValueError, TypeError):
        return ""


def template_caps(template: ChatTemplate) -> TemplateCaps:
    """What the template renders by itself (probed once, remembered on the template)."""
    caps = getattr(template, "_tool_caps", None)
    if caps is not None:
        return caps
    user = {"role": "user", "content": "probe"}
    tool = {"type": "function", "function": {"name": _TOOL, "description": "probe", "parameters": {"type": "object",
            "properties": {_ARG: {"type": "string", "description": "probe"}}, "required": [_ARG]}}}  # fmt: skip

    def convo(arguments):
        call = {"id": _CALL_ID, "type": "function", "function": {"name": _TOOL, "arguments": arguments}}
        return [
            user,
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": _CALL_ID, "name": _TOOL, "content": _RESULT},
        ]

    # tools are passed in every probe: some templates (Hermes') cannot render without them
    as_object = _try(template, convo({_ARG: _VAL}), tools=[tool])
    as_string = _try(template, convo(json.dumps({_ARG: _VAL})), tools=[tool])
    wanted = f'"{_ARG}": "{_VAL}"'
    tool_calls = _TOOL in as_object or _TOOL in as_string
    object_arguments = wanted in as_object or wanted not in as_string
    plain = [user, {"role": "assistant", "content": "ok"}, {"role": "tool", "tool_call_id": _CALL_ID,
             "name": _TOOL, "content": _RESULT}]  # fmt: skip
    caps = TemplateCaps(
        tools=_TOOL in _try(template, [user], tools=[tool]),
        tool_calls=tool_calls,
        object_arguments=object_arguments,
        tool_responses=_RESULT in (as_object or as_string) or _RESULT in _try(template, plain, tools=[tool]),
        system=_SYSTEM in _try(template, [{"role": "system", "content": _SYSTEM}, user], tools=[tool])
        or _SYSTEM in _try(template, [{"role": "system", "content": _SYSTEM}, user]),
    )
    template._tool_caps = caps
    return caps


def template_messages(
    messages: list[dict],
    caps: TemplateCaps,
    convention: Convention,
    tools: list[ToolDef] | None,
) -> list[dict]:
    """Normalized messages (chat.messages) rewritten for a template with these capabilities."""
    out: list[dict] = []
    if tools and not caps.tools:
        note = convention.instructions(tools)
        if messages and messages[0]["role"] == "system":
            first = dict(messages[0], content=f"{messages[0]['content']}\n\n{note}")
            messages = [first, *messages[1:]]
        else:
            messages = [{"role": "system", "content": note}, *messages]
    for m in messages:
        m = {k: v for k, v in m.items() if k != "arguments_obj"}
        if m["role"] == "assistant" and m.get("tool_calls"):
            calls = m["tool_calls"]
            if caps.tool_calls:
                m["content"] = m["content"] or ""
                m["tool_calls"] = [_template_call(c, caps.object_arguments) for c in calls]
            else:
                text = convention.render_calls(calls)
                m = {"role": "assistant", "content": f"{m['content']}\n{text}" if m["content"] else text}
        elif m["role"] == "tool" and not caps.tool_responses:
            text = convention.render_tool_result(m.get("name", ""), m["tool_call_id"], m["content"])
            if out and out[-1].get("_tool_results"):
                out[-1]["content"] += "\n" + text
                continue
            m = {"role": "user", "content": text, "_tool_results": True}
        out.append(m)
    for m in out:
        m.pop("_tool_results", None)
    if not caps.system and out and out[0]["role"] == "system":
        system, rest = out[0]["content"], out[1:]
        if rest and rest[0]["role"] == "user":
            rest[0] = dict(rest[0], content=f"{system}\n\n{rest[0]['content']}")
        else:
            rest.insert(0, {"role": "user", "content": system})
        out = rest
    return out


def _template_call(call: dict, object_arguments: bool) -> dict:
    fn = call["function"]
    arguments = call.get("arguments_obj") if object_arguments else fn["arguments"]
    return {"id": call["id"], "type": "function", "function": {"name": fn["name"], "arguments": arguments}}
