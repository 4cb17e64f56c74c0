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

import functools
import json
import math
import re
import sys
import time
from datetime import datetime
from typing import Any

import jinja2
import jinja2.compiler
import jinja2.ext
import jinja2.runtime
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


# Limits on what one render may cost. A chat template comes from a model file, i.e. from whoever made the file: the
# sandbox keeps it away from Python's internals, these keep it from hanging or exhausting memory (a loop of 10^10
# steps, 'a' * 10**12, 10 ** 10 ** 10). Real templates stay far below them (a few ms, a few KB).
MAX_RENDER_SECONDS = 2.0
MAX_SEQUENCE_LENGTH = 1 << 24  # elements of a string or list made by `*`
MAX_POWER_BITS = 1 << 16  # size of an integer made by `**`


def _check_size(*values: Any) -> None:
    """Refuse arguments that would make a template build a huge string or list: an int beyond the limit (a width, a
    count) or strings/lists whose lengths add up beyond it (the inputs of a doubling concatenation)."""
    total = 0
    for v in values:
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and abs(v) > MAX_SEQUENCE_LENGTH:
            raise jinja2.sandbox.SecurityError(f"chat template: argument {v} is beyond the limit {MAX_SEQUENCE_LENGTH}")
        if isinstance(v, (str, list, tuple, dict)):
            total += len(v)
        if isinstance(v, (list, tuple)) and len(v) <= 1024:  # the strings a join would concatenate
            total += sum(len(x) for x in v if isinstance(x, str))
    if total > MAX_SEQUENCE_LENGTH:
        raise jinja2.sandbox.SecurityError(f"chat template: a string or list of {total} elements is beyond the limit")


def _has_huge_width(fmt: str) -> bool:
    """A format string with a run of 8 or more digits (a field width or precision that builds a huge string)."""
    return re.search(r"\d{8,}", fmt) is not None


class _CheckedCodeGenerator(jinja2.compiler.CodeGenerator):
    """Jinja's compiler, with the result of a `~` concatenation checked (a doubling loop stops at the limit)."""

    def visit_Concat(self, node, frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class _LimitedEnvironment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus size checks on what can build huge values: `*`, `**`, `+` and `%` (jinja2's
    intercepted_binops hook), `~` (the code generator above), every call a template makes (the sandbox's call hook)
    and every filter (wrapped in _environment)."""

    code_generator_class = _CheckedCodeGenerator
    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SEQUENCE_LENGTH:
                    raise jinja2.sandbox.SecurityError(f"'*' would build a sequence of {len(seq) * n} elements")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                if right * math.log2(abs(left)) > MAX_POWER_BITS:
                    raise jinja2.sandbox.SecurityError(
                        f"'**' would build an integer of ~{right * math.log2(abs(left)):.0f} bits"
                    )
        elif operator == "%":
            _check_size(left, *(right if isinstance(right, tuple) else (right,)))
            if isinstance(left, str) and any(
                len(w) >= 8 for w in "".join(c if c.isdigit() else " " for c in left).split()
            ):
                raise jinja2.sandbox.SecurityError("'%' with a field width of 8 digits or more")
        else:
            _check_size(left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, __context, __obj, *args: Any, **kwargs: Any) -> Any:
        _check_size(getattr(__obj, "__self__", None), *args, *kwargs.values())
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any):
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _has_huge_width(value.__self__):
            raise jinja2.sandbox.SecurityError("str.format with a field width of 8 digits or more")
        return wrapped

    @staticmethod
    def checked_concat(value: str) -> str:
        _check_size(value)
        return value


def _checked_filter(f):
    @functools.wraps(f)  # keeps jinja's pass_context/pass_environment marks
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_size(
            *(a for a in args if not isinstance(a, (jinja2.runtime.Context, jinja2.Environment))), *kwargs.values()
        )
        return f(*args, **kwargs)

    return checked


def _render_with_deadline(template: jinja2.Template, seconds: float, **variables: Any) -> str:
    """Render, stopping with ChatTemplateError once `seconds` have passed. Jinja compiles a template to Python code
    whose frames carry the file name '<template>': a trace function on those frames alone (the filters and Python
    code they call run untraced) checks the clock at each line, which costs little on a real template."""
    deadline = time.perf_counter() + seconds

    def local(frame, event, arg):
        if time.perf_counter() > deadline:
            raise ChatTemplateError(f"chat template ran longer than {seconds:g} s: stopped")
        return local

    def trace(frame, event, arg):
        return local if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        return template.render(**variables)
    finally:
        sys.settrace(previous)


def _environment() -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    env = _LimitedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols], undefined=jinja2.Undefined
    )
    env.filters["tojson"] = _tojson
    for name, f in list(env.filters.items()):
        env.filters[name] = _checked_filter(f)
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
            return _render_with_deadline(
                self._template,
                MAX_RENDER_SECONDS,
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
        except (RecursionError, MemoryError, OverflowError) as e:  # a hostile or broken template
            raise ChatTemplateError(f"chat template {self.name!r} failed: {type(e).__name__}: {e}") from e
