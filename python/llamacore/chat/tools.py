"""Tool calls in chat completions: checking the request, building the prompt, constraining and reading the answer.

    req = prepare_chat_request(formatter, messages, tools=tools, tool_choice="auto")
    req.prompt                       # the prompt text (ends with the forced call's opening when one is required)
    req.stop                         # stop strings the convention adds (e.g. "<|eom_id|>")
    constraint = req.constraint(tokenizer)   # a TokenConstraint (lazy in "auto" mode) or None
    message, finish = req.message(generated_text, finish_reason)         # non-streaming
    for chunk in req.stream(chat_chunks): ...                             # streaming: rewrites the chunks' deltas

tool_choice: "none" (the model is not shown the tools and its text is returned as it is), "auto" (it may call; a
lazy grammar constrains a call once its opening appears), "required" (it must call at least one tool: the prompt
ends with the call's opening and the grammar is on from the first token), or {"type": "function", "function":
{"name": ...}} (that tool). Legacy `functions` / `function_call` are the same with the answer in `function_call`.
parallel_tool_calls=False keeps at most one call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .lazy_constraint import LazyConstraint
from .tool_formats import Convention, ToolDef, Trigger
from .tool_parser import ToolCallParser

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_SCHEMA_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")


@dataclass(frozen=True)
class ToolRequest:
    tools: list[ToolDef]
    choice: str  # "auto" | "none" | "required" | "named"
    named: str | None = None  # the forced tool's name
    parallel: bool = True
    legacy: bool = False  # asked with functions / function_call

    def forced(self) -> list[ToolDef]:
        return [t for t in self.tools if t.name == self.named] if self.named else self.tools


def _check_schema(schema: Any, where: str) -> None:
    """The basic shape of a JSON schema (the grammar reports unsupported keywords when it compiles it)."""
    if not isinstance(schema, dict):
        raise ValueError(f"{where} must be a JSON schema object (a dict), got {type(schema).__name__}")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if k not in _SCHEMA_TYPES:
            raise ValueError(f"{where}: unknown JSON schema type {k!r}")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise ValueError(f"{where}.properties must be an object")
        for name, sub in props.items():
            _check_schema(sub, f"{where}.properties.{name}")
    required = schema.get("required")
    if required is not None and (not isinstance(required, list) or not all(isinstance(r, str) for r in required)):
        raise ValueError(f"{where}.required must be a list of property names")
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if sub is not None and not isinstance(sub, bool):
            _check_schema(sub, f"{where}.{key}")
    for key in ("anyOf", "oneOf", "allOf"):
        subs = schema.get(key)
        if subs is not None:
            if not isinstance(subs, list) or not subs:
                raise ValueError(f"{where}.{key} must be a non-empty list of schemas")
            for i, sub in enumerate(subs):
                _check_schema(sub, f"{where}.{key}[{i}]")


def _tool_def(fn: Any, where: str) -> ToolDef:
    if not isinstance(fn, dict):
        raise ValueError(f"{where} must be a dict with 'name', 'description' and 'parameters'")
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} has no name")
    if not _NAME.match(name):
        raise ValueError(f"{where}: tool name {name!r} must be 1-64 letters, digits, '_', '-' or '.'")
    description = fn.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{where}.description must be a string")
    params = fn.get("parameters")
    if params is None:
        params = {"type": "object", "properties": {}}
    _check_schema(params, f"{where}.parameters")
    if params.get("type", "object") != "object":
        raise ValueError(f"{where}.parameters must be a JSON schema of type 'object' (the arguments are an object)")
    return ToolDef(name, description, params)


def validate_tool_request(
    tools: Any = None,
    tool_choice: Any = None,
    functions: Any = None,
    function_call: Any = None,
    parallel_tool_calls: Any = None,
) -> ToolRequest | None:
    """The checked tool part of a chat request (None when it has no tools). Raises ValueError/TypeError."""
    legacy = functions is not None
    if legacy and tools is not None:
        raise ValueError("give either tools or the legacy functions, not both")
    if legacy:
        if tool_choice is not None:
            raise ValueError("tool_choice goes with tools; with functions use function_call")
        if not isinstance(functions, (list, tuple)):
            raise ValueError("functions must be a list of {'name', 'description', 'parameters'} dicts")
        defs = [_tool_def(f, f"functions[{i}]") for i, f in enumerate(functions)]
        choice = function_call
        if isinstance(choice, dict):
            if not isinstance(choice.get("name"), str):
                raise ValueError("function_call must be 'auto', 'none' or {'name': ...}")
            choice = {"type": "function", "function": {"name": choice["name"]}}
    else:
        if function_call is not None:
            raise ValueError("function_call goes with the legacy functions; with tools use tool_choice")
        if tools is None:
            tools = []
        if not isinstance(tools, (list, tuple)):
            raise ValueError("tools must be a list of {'type': 'function', 'function': {...}} dicts")
        defs = []
        for i, t in enumerate(tools):
            if not isinstance(t, dict):
                raise ValueError(f"tools[{i}] must be a dict {{'type': 'function', 'function': {{...}}}}")
            if t.get("type", "function") != "function":
                raise ValueError(f"tools[{i}]: only tools of type 'function' are supported, got {t.get('type')!r}")
            if "function" not in t:
                raise ValueError(f"tools[{i}] has no 'function' (with the tool's name and parameters)")
            defs.append(_tool_def(t["function"], f"tools[{i}].function"))
        choice = tool_choice
    names = [d.name for d in defs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"tool names must be unique; repeated: {', '.join(dupes)}")
    if parallel_tool_calls is not None and not isinstance(parallel_tool_calls, bool):
        raise TypeError(f"parallel_tool_calls must be True, False or None, got {parallel_tool_calls!r}")
    parallel = parallel_tool_calls is not False
    if choice is None:
        choice = "auto" if defs else "none"
    named = None
    if isinstance(choice, dict):
        fn = choice.get("function")
        if (
            choice.get("type", "function") != "function"
            or not isinstance(fn, dict)
            or not isinstance(fn.get("name"), str)
        ):
            raise ValueError(
                "tool_choice must be 'auto', 'none', 'required' or {'type': 'function', 'function': {'name': ...}}"
            )
        named = fn["name"]
        if named not in names:
            known = ", ".join(names) or "none"
            raise ValueError(f"tool_choice names the tool {named!r}, which is not among the tools (known: {known})")
        choice = "named"
    elif choice not in ("auto", "none", "required") or (legacy and choice == "required"):
        raise ValueError(f"tool_choice must be 'auto', 'none', 'required' or a tool by name, got {choice!r}")
    if choice == "required" and not defs:
        raise ValueError("tool_choice='required' needs tools")
    if not defs:
        return None
    return ToolRequest(defs, choice, named, parallel, legacy)


def openai_tools(tools: list[ToolDef]) -> list[dict]:
    """Tools in OpenAI's shape (what chat templates expect in `tools`)."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


@dataclass
class ChatRequest:
    """One chat completion's prompt and what turns its generated text into the answer (see the module docstring)."""

    prompt: str
    stop: tuple[str, ...] = ()
    parser: ToolCallParser | None = None  # None: no tools, the text is the content as it is
    triggers: list[Trigger] = field(default_factory=list)  # "auto": the lazy grammar's openings
    start: Trigger | None = None  # a required call: constrained from the first token
    repeat: bool = True  # after a constrained call, further triggers switch it on again

    def constraint(self, tokenizer: Any, json_schema_constraint: Callable[[dict, Any], Any] | None = None):
        """The TokenConstraint for this request's tool calls, or None. json_schema_constraint(schema, tokenizer)
        makes one JSON-schema constraint (default: llamacore.sampling.grammar's)."""
        if self.parser is None or (self.start is None and not self.triggers):
            return None
        if json_schema_constraint is None:
            try:
                from ..sampling.grammar import json_schema_constraint
            except ImportError as e:
                if self.start is not None:
                    raise NotImplementedError("forcing a tool call needs llamacore.sampling.grammar") from e
                return None  # "auto" works unconstrained without the grammar module
        make = json_schema_constraint
        return LazyConstraint(
            self.triggers, lambda trig: make(trig.schema, tokenizer), tokenizer, start=self.start, repeat=self.repeat
        )

    def message(self, text: str, finish_reason: str | None) -> tuple[dict, str | None]:
        """(the assistant message, the finish_reason) for the whole generated text."""
        if self.parser is None:
            return {"role": "assistant", "content": text}, finish_reason
        self.parser.feed(text)
        self.parser.finish()
        return self.parser.message(), self.parser.finish_reason(finish_reason)

    def stream(self, chunks: Iterable[dict]) -> Iterator[dict]:
        """Rewrite chat.completion.chunk dicts whose deltas carry raw {"content": text} into tool-call deltas."""
        if self.parser is None:
            yield from chunks
            return
        for chunk in chunks:
            choice = chunk["choices"][0]
            delta = choice["delta"]
            if "content" in delta:
                for i, d in enumerate(self.parser.feed(delta["content"] or "")):
                    yield _with(chunk, d, choice["logprobs"] if i == 0 else None, None)
            elif choice["finish_reason"] is not None:
                for d in self.parser.finish():
                    yield _with(chunk, d, None, None)
                yield _with(chunk, {}, None, self.parser.finish_reason(choice["finish_reason"]))
            else:
                yield chunk


def _with(chunk: dict, delta: dict, logprobs, finish) -> dict:
    choice = {**chunk["choices"][0], "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    return {**chunk, "choices": [choice]}


def prepare_chat_request(
    formatter: Any,
    messages: Any,
    *,
    tools: Any = None,
    tool_choice: Any = None,
    functions: Any = None,
    function_call: Any = None,
    parallel_tool_calls: Any = None,
    template_kwargs: dict | None = None,
) -> ChatRequest:
    """Check the request, render the prompt with formatter (a chat.ChatFormatter) and set up the answer's parsing
    and constraint. Raises ValueError on bad input."""
    req = validate_tool_request(tools, tool_choice, functions, function_call, parallel_tool_calls)
    kwargs = dict(template_kwargs or {})
    if req is None or req.choice == "none":
        return ChatRequest(formatter.render(messages, add_generation_prompt=True, **kwargs))
    conv: Convention = formatter.convention
    prompt = formatter.render(messages, add_generation_prompt=True, tools=openai_tools(req.tools), **kwargs)
    prefill, start = "", None
    if req.choice in ("required", "named"):
        forced = req.forced()
        prefill = conv.prefill(forced, req.named is not None, req.parallel)
        schema = conv.required_schema(forced, req.parallel)
        if schema is not None:
            # the forced call ends the answer where the convention's calls do (e.g. one JSON object as the whole answer)
            start = Trigger(prefill, schema, final=all(t.final for t in conv.triggers(req.tools) or [Trigger("", {})]))
    triggers = [] if req.choice == "named" else conv.triggers(req.tools)
    parser = ToolCallParser(conv, max_calls=None if req.parallel else 1, legacy_functions=req.legacy, prefill=prefill)
    return ChatRequest(
        prompt + prefill,
        stop=conv.stop,
        parser=parser,
        triggers=triggers,
        start=start,
        repeat=req.parallel and req.choice != "named",
    )
