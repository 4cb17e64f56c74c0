"""Chat templates: Jinja2 templates (the GGUF's tokenizer.chat_template or a built-in format) rendered in a sandbox.

The environment follows Hugging Face transformers' chat-template rendering (and llama-cpp-python's
Jinja2ChatFormatter), so templates written for either render the same here:
  - jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
    extension (break/continue); a template cannot touch Python internals or mutate its inputs;
  - globals raise_exception(message) (-> ChatTemplateError) and strftime_now(format);
  - variables messages, add_generation_prompt, bos_token, eos_token, tools (None unless given), plus any extra
    keyword arguments (e.g. enable_thinking);
  - a `tojson` filter that does not HTML-escape (json.dumps with ensure_ascii=False), as transformers defines it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
import jinja2.sandbox

from ..errors import LlamacoreError


class ChatTemplateError(LlamacoreError, ValueError):
    """A chat template failed to parse or to render (e.g. it called raise_exception), or the messages are invalid."""


def _raise_exception(message: str):
    raise ChatTemplateError(f"chat template: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _environment() -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols], undefined=jinja2.Undefined
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


_ENV = _environment()


def check_messages(messages: Any) -> list[dict]:
    """Validate the OpenAI-style message list: a non-empty list of dicts each with a string role."""
    if isinstance(messages, (str, bytes)) or not hasattr(messages, "__iter__"):
        raise ChatTemplateError("messages must be a list of {'role': ..., 'content': ...} dicts")
    out = list(messages)
    if not out:
        raise ChatTemplateError("messages is empty")
    for i, m in enumerate(out):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ChatTemplateError(f"messages[{i}] must be a dict with a string 'role', got {m!r:.80}")
    return out


class ChatTemplate:
    """A compiled chat template. `render(messages)` returns the prompt text (special tokens as text)."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "", name: str = "custom"):
        self.source = source
        self.name = name
        self.bos_token = bos_token
        self.eos_token = eos_token
        try:
            self._template = _ENV.from_string(source)
        except jinja2.TemplateError as e:
            raise ChatTemplateError(f"chat template {name!r} does not parse: {e}") from e

    def render(
        self,
        messages: list[dict],
        *,
        add_generation_prompt: bool = True,
        tools: list[dict] | None = None,
        **kwargs: Any,
    ) -> str:
        messages = check_messages(messages)
        try:
            return self._template.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                tools=tools,
                **kwargs,
            )
        except ChatTemplateError:
            raise
        except jinja2.TemplateError as e:
            raise ChatTemplateError(f"chat template {self.name!r} failed: {e}") from e
        except (TypeError, KeyError, IndexError, AttributeError) as e:  # a template indexing a malformed message
            raise ChatTemplateError(f"chat template {self.name!r} failed on these messages: {e!r}") from e
