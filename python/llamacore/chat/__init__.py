"""Chat prompts: turn OpenAI-style messages into the prompt text a model was trained on.

    fmt = load_chat_formatter(chat_format, metadata)   # None: the GGUF's own template, else a guess
    prompt = fmt.render(messages)                        # special tokens appear as text, e.g. "<|im_start|>"

Which template (chat_format=None): the GGUF's tokenizer.chat_template ("chat_template.default"); when the file has
none, a built-in format chosen from the architecture and vocabulary (gemma* -> "gemma", a vocabulary with
<|im_start|> -> "chatml", with <|start_header_id|> -> "llama-3", phi3 -> "phi-3"), and "llama-2" otherwise, as
llama-cpp-python falls back. Named templates stored as tokenizer.chat_template.NAME are "chat_template.NAME".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .formats import FORMATS, ChatFormat
from .messages import normalize_messages
from .template import ChatTemplate, ChatTemplateError, check_messages
from .tool_formats import CONVENTIONS, Convention, detect_convention
from .tool_render import template_caps, template_messages

GGUF_TEMPLATE_KEY = "tokenizer.chat_template"
DEFAULT_GGUF_FORMAT = "chat_template.default"


@dataclass
class ChatFormatter:
    name: str
    template: ChatTemplate
    stop: tuple[str, ...] = ()  # strings that end a turn (besides the model's end-of-generation tokens)
    default_system: str = ""
    convention: Convention = field(default_factory=lambda: CONVENTIONS["generic"])  # how the model calls tools

    def render(
        self, messages: list[dict], *, add_generation_prompt: bool = True, tools: list[dict] | None = None, **kwargs
    ) -> str:
        """The prompt for OpenAI-style messages (checked by chat.messages: content parts joined, images refused,
        tool calls and tool results in the shape the template wants; see chat.tool_render for what is written
        into the messages when the template cannot render tools itself)."""
        from .tools import validate_tool_request

        msgs = normalize_messages(messages)
        try:
            req = validate_tool_request(tools) if tools else None
        except ValueError:  # not OpenAI tools: handed to the template as they are (create_chat_completion refuses)
            req = None
        if req is not None or any(m.get("tool_calls") or m["role"] == "tool" for m in msgs):
            caps = template_caps(self.template)
            msgs = template_messages(msgs, caps, self.convention, req.tools if req else None)
            if not caps.tools:
                tools = None
        return self.template.render(
            msgs,
            add_generation_prompt=add_generation_prompt,
            tools=tools,
            default_system=self.default_system,
            **kwargs,
        )


def _token_text(metadata: Mapping[str, Any], key: str) -> str:
    tokens = metadata.get("tokenizer.ggml.tokens")
    tid = metadata.get(key)
    if tokens is None or tid is None or not 0 <= int(tid) < len(tokens):
        return ""
    return str(tokens[int(tid)])


def gguf_templates(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The chat templates a GGUF file carries, by chat_format name."""
    out = {}
    for key, value in metadata.items():
        if not isinstance(value, str):
            continue
        if key == GGUF_TEMPLATE_KEY:
            out[DEFAULT_GGUF_FORMAT] = value
        elif key.startswith(GGUF_TEMPLATE_KEY + "."):
            out["chat_template." + key[len(GGUF_TEMPLATE_KEY) + 1 :]] = value
    return out


def guess_chat_format(metadata: Mapping[str, Any]) -> str:
    """The chat_format llamacore uses when none is given (see the module docstring)."""
    if isinstance(metadata.get(GGUF_TEMPLATE_KEY), str):
        return DEFAULT_GGUF_FORMAT
    arch = str(metadata.get("general.architecture", ""))
    if arch.startswith("gemma"):
        return "gemma"
    if arch == "phi3":
        return "phi-3"
    tokens = metadata.get("tokenizer.ggml.tokens") or ()
    if "<|im_start|>" in tokens:
        return "chatml"
    if "<|start_header_id|>" in tokens:
        return "llama-3"
    return "llama-2"


def available_chat_formats(metadata: Mapping[str, Any] | None = None) -> list[str]:
    return sorted(FORMATS) + sorted(gguf_templates(metadata or {}))


def load_chat_formatter(chat_format: str | None, metadata: Mapping[str, Any]) -> ChatFormatter:
    """The formatter for `chat_format` (None = guess) with the model's bos/eos token texts."""
    name = chat_format or guess_chat_format(metadata)
    bos, eos = (
        _token_text(metadata, "tokenizer.ggml.bos_token_id"),
        _token_text(metadata, "tokenizer.ggml.eos_token_id"),
    )
    gguf = gguf_templates(metadata)
    if name in gguf:
        # llama-cpp-python's Jinja2ChatFormatter stops on the eos text as well
        stop = (eos,) if eos else ()
        template = ChatTemplate(gguf[name], bos_token=bos, eos_token=eos, name=name)
        return ChatFormatter(name, template, stop, convention=_convention(chat_format, gguf[name], metadata))
    fmt: ChatFormat | None = FORMATS.get(name)
    if fmt is None:
        known = ", ".join(available_chat_formats(metadata))
        raise ValueError(f"unknown chat_format {name!r}; known: {known}")
    template = ChatTemplate(fmt.template, bos_token=bos, eos_token=eos, name=name)
    return ChatFormatter(name, template, fmt.stop, fmt.default_system, _convention(name, None, metadata))


def _convention(chat_format: str | None, source: str | None, metadata: Mapping[str, Any]) -> Convention:
    return detect_convention(chat_format, source, metadata.get("tokenizer.ggml.tokens") or ())


__all__ = [
    "CONVENTIONS",
    "FORMATS",
    "ChatFormatter",
    "ChatTemplate",
    "ChatTemplateError",
    "available_chat_formats",
    "check_messages",
    "gguf_templates",
    "guess_chat_format",
    "load_chat_formatter",
]
