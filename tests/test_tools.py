"""Tool calls: parsing every convention (whole vs streamed in random splits), validation errors, messages with
content parts, rendering tool conversations through real chat templates (tests/data/templates, the two test
models' own), the constraint plumbing (LazyConstraint with a tiny fake constraint) and the stream rewriting."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from llamacore.chat import CONVENTIONS, load_chat_formatter
from llamacore.chat.lazy_constraint import LazyConstraint
from llamacore.chat.messages import normalize_messages
from llamacore.chat.tool_formats import Trigger, detect_convention
from llamacore.chat.tool_parser import ToolCallParser
from llamacore.chat.tool_render import template_caps
from llamacore.chat.tools import prepare_chat_request, validate_tool_request
from llamacore.gguf import GGUFFile

TEMPLATES = Path(__file__).resolve().parent / "data" / "templates"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "description": "The time", "parameters": {"type": "object"}},
}
TOOLS = [WEATHER, TIME]
PARIS = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
ROME = {"name": "get_time", "arguments": '{"tz": "CET", "nested": {"a": [1, "}]"]}}'}

# (convention, model output, expected content, expected calls)
CASES = [
    ("hermes", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>', None, [PARIS]),
    (
        "hermes",
        'Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"arguments": {"tz": "CET", "nested": {"a": [1, "}]"]}}, "name": "get_time"}\n</tool_call>',
        "Let me look.",
        [PARIS, ROME],
    ),
    (
        "hermes",
        "Just text with a <b>tag</b> and <tool_callx> lookalike.",
        "Just text with a <b>tag</b> and <tool_callx> lookalike.",
        [],
    ),
    (
        "hermes",
        "I would use <tool_call>not json</tool_call> here",
        "I would use <tool_call>not json</tool_call> here",
        [],
    ),
    (
        "hermes",
        '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}\n</tool_call>',
        None,
        [PARIS],
    ),
    ("llama3", '{"name": "get_weather", "parameters": {"city": "Paris"}}', None, [PARIS]),
    (
        "llama3",
        '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": '
        '{"tz": "CET", "nested": {"a": [1, "}]"]}}}',
        None,
        [PARIS, ROME],
    ),
    ("llama3", '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}', None, [PARIS]),
    (
        "llama3",
        '<|python_tag|>brave_search.call(query="llamas")',
        None,
        [{"name": "brave_search", "arguments": '{"query": "llamas"}'}],
    ),
    ("llama3", "<|python_tag|>print(1 + 1)", None, [{"name": "python", "arguments": '{"code": "print(1 + 1)"}'}]),
    ("llama3", '{"answer": 42}', '{"answer": 42}', []),
    ("llama3", "The weather is {unknown}.", "The weather is {unknown}.", []),
    ("mistral", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]', None, [PARIS]),
    (
        "mistral",
        'Sure. [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcDEF123"}, '
        '{"name": "get_time", "arguments": {"tz": "CET", "nested": {"a": [1, "}]"]}}}]',
        "Sure.",
        [PARIS, ROME],
    ),
    ("mistral", '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}', None, [PARIS]),
    ("generic", '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}', None, [PARIS]),
    ("generic", ' {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}', None, [PARIS]),
    ("generic", '{"response": "It is sunny."}', "It is sunny.", []),
    ("generic", "It is sunny in {Paris}.", "It is sunny in {Paris}.", []),
    ("generic", '{"city": "Paris"}', '{"city": "Paris"}', []),
    ("chatml-function-calling", 'functions.get_weather:\n{"city": "Paris"}', None, [PARIS]),
    (
        "chatml-function-calling",
        'functions.get_weather:\n{"city": "Paris"}\nfunctions.get_time:\n{"tz": "CET", "nested": {"a": [1, "}]"]}}',
        None,
        [PARIS, ROME],
    ),
    ("chatml-function-calling", "message:\nIt is sunny.", "It is sunny.", []),
    ("chatml-function-calling", "It is sunny.", "It is sunny.", []),
    ("functionary-v2", 'get_weather\n<|content|>{"city": "Paris"}', None, [PARIS]),
    (
        "functionary-v2",
        'all\n<|content|>Checking.\n<|from|>assistant\n<|recipient|>get_weather\n<|content|>{"city": "Paris"}\n'
        '<|from|>assistant\n<|recipient|>functions.get_time\n<|content|>{"tz": "CET", "nested": {"a": [1, "}]"]}}',
        "Checking.",
        [PARIS, ROME],
    ),
    ("functionary-v2", "all\n<|content|>It is sunny.", "It is sunny.", []),
]


def _ids():
    n = iter(range(1000))
    return lambda: f"call_{next(n)}"


def _parse(convention: str, text: str, splits: list[int], **kw) -> tuple[dict, list[dict]]:
    p = ToolCallParser(CONVENTIONS[convention], new_id=_ids(), **kw)
    deltas, pos = [], 0
    for s in [*splits, len(text)]:
        deltas += p.feed(text[pos:s])
        pos = s
    deltas += p.finish()
    return p.message(), deltas


def _assemble(deltas: list[dict]) -> dict:
    """The message the OpenAI client libraries build from stream deltas (and checks on their order)."""
    content, calls = "", []
    for d in deltas:
        assert set(d) <= {"content", "tool_calls"} and len(d) == 1
        content += d.get("content", "")
        for tc in d.get("tool_calls", []):
            if tc["index"] == len(calls):  # a new call: id, type and the whole name come first
                assert tc["id"] and tc["type"] == "function" and tc["function"]["name"]
                calls.append({"id": tc["id"], "type": "function", "function": dict(tc["function"])})
            else:
                assert tc["index"] == len(calls) - 1 and set(tc["function"]) == {"arguments"} and "id" not in tc
                calls[-1]["function"]["arguments"] += tc["function"]["arguments"]
    msg = {"role": "assistant", "content": content if (content or not calls) else None}
    if calls:
        msg["tool_calls"] = calls
    return msg


@pytest.mark.parametrize("convention, text, content, calls", CASES)
def test_parse_whole_and_streamed_agree(convention, text, content, calls):
    whole, deltas = _parse(convention, text, [])
    assert whole["content"] == content
    got = [
        {"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in whole.get("tool_calls", [])
    ]
    assert got == calls
    for c in got:
        json.loads(c["arguments"])
    assert _assemble(deltas) == whole
    rng = random.Random(hash(text) & 0xFFFF)
    for _ in range(60):
        splits = sorted(rng.sample(range(1, len(text)), rng.randint(1, min(len(text) - 1, 30))))
        msg, deltas = _parse(convention, text, splits)
        assert msg == whole, splits
        assert _assemble(deltas) == whole, splits
    # one character at a time
    msg, deltas = _parse(convention, text, list(range(1, len(text))))
    assert msg == whole and _assemble(deltas) == whole


@pytest.mark.parametrize(
    "convention, opening",
    [("hermes", "<tool_call>"), ("llama3", "<|python_tag|>"), ("mistral", "[TOOL_CALLS]")],
)
def test_partial_opening_never_shown(convention, opening):
    p = ToolCallParser(CONVENTIONS[convention])
    shown = "".join(d.get("content", "") for d in p.feed("Hello there "))
    for ch in opening[:-1]:
        shown += "".join(d.get("content", "") for d in p.feed(ch))
        assert "<" not in shown and "[" not in shown
    assert shown == "Hello there"
    rest = p.feed(opening[-1:] + '{"name": "get_weather", "arguments": {"city": "Paris"}}')
    p.finish()
    assert "".join(d.get("content", "") for d in rest) == ""
    assert p.message()["content"] == "Hello there" and p.message()["tool_calls"][0]["function"]["name"] == "get_weather"


def test_a_partial_opening_at_the_end_is_content():
    p = ToolCallParser(CONVENTIONS["hermes"])
    assert p.feed("See <tool_") == [{"content": "See"}]
    assert p.finish() == [{"content": " <tool_"}]
    assert p.message() == {"role": "assistant", "content": "See <tool_"}
    assert p.finish_reason("stop") == "stop"


def test_arguments_stream_as_they_grow_and_truncation_keeps_length():
    p = ToolCallParser(CONVENTIONS["hermes"], new_id=_ids())
    assert p.feed('<tool_call>\n{"name": "get_wea') == []
    first = p.feed('ther", "arguments": {"ci')
    assert first[0] == {
        "tool_calls": [
            {"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        ]
    }
    assert first[1] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}
    assert p.feed('ty": "Par') == [{"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Par'}}]}]
    p.finish()  # cut off by max_tokens
    assert p.message()["tool_calls"][0]["function"]["arguments"] == '{"city": "Par'
    assert p.finish_reason("length") == "length"
    assert p.finish_reason("stop") == "tool_calls"


def test_parallel_false_keeps_one_call_and_legacy_function_call():
    text = CASES[1][1]
    msg, _ = _parse("hermes", text, [5, 40], max_calls=1)
    assert [c["function"]["name"] for c in msg["tool_calls"]] == ["get_weather"]
    p = ToolCallParser(CONVENTIONS["hermes"], legacy_functions=True)
    deltas = p.feed(CASES[0][1]) + p.finish()
    assert p.message() == {"role": "assistant", "content": None, "function_call": PARIS}
    assert deltas[0] == {"function_call": {"name": "get_weather", "arguments": ""}}
    assert p.finish_reason("stop") == "function_call"


def test_mistral_call_ids_have_nine_characters():
    p = ToolCallParser(CONVENTIONS["mistral"])
    p.feed(CASES[12][1])
    p.finish()
    call_id = p.message()["tool_calls"][0]["id"]
    assert len(call_id) == 9 and call_id.isalnum()


# ---- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "has no name"),
        ({"tools": [{"type": "function", "function": {"name": ""}}]}, "has no name"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "letters, digits"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": ["x"]}}]}, "JSON schema object"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
            "type 'object'",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "thing"}}}]},
            "unknown JSON schema type",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"properties": {"a": 5}}}}]},
            "properties.a",
        ),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"required": "a"}}}]}, "required"),
        ({"tools": [{"type": "retrieval"}]}, "only tools of type 'function'"),
        ({"tools": [{"type": "function"}]}, "has no 'function'"),
        ({"tools": "get_weather"}, "tools must be a list"),
        ({"tools": [WEATHER, WEATHER]}, "unique"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "not among the tools"),
        ({"tools": TOOLS, "tool_choice": "sometimes"}, "tool_choice must be"),
        ({"tools": TOOLS, "tool_choice": {"type": "function"}}, "tool_choice must be"),
        ({"tool_choice": "required"}, "needs tools"),
        ({"tools": TOOLS, "functions": [WEATHER["function"]]}, "not both"),
        ({"functions": [WEATHER["function"]], "function_call": {"name": "nope"}}, "not among the tools"),
        ({"functions": [WEATHER["function"]], "function_call": "required"}, "tool_choice must be"),
        ({"tools": TOOLS, "function_call": "auto"}, "legacy functions"),
    ],
)
def test_bad_tool_requests(kwargs, match):
    with pytest.raises(ValueError, match=match):
        validate_tool_request(**kwargs)


def test_tool_request_shapes():
    assert validate_tool_request() is None
    assert validate_tool_request(tools=[], tool_choice="none") is None
    req = validate_tool_request(tools=TOOLS)
    assert req.choice == "auto" and req.parallel and [t.name for t in req.tools] == ["get_weather", "get_time"]
    assert req.tools[1].parameters == {"type": "object"}
    req = validate_tool_request(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert req.choice == "named" and [t.name for t in req.forced()] == ["get_time"]
    req = validate_tool_request(functions=[WEATHER["function"]], function_call={"name": "get_weather"})
    assert req.legacy and req.named == "get_weather"
    assert not validate_tool_request(tools=TOOLS, parallel_tool_calls=False).parallel
    with pytest.raises(TypeError):
        validate_tool_request(tools=TOOLS, parallel_tool_calls="no")


def test_messages_content_parts_images_and_tool_messages():
    msgs = normalize_messages(
        [
            {"role": "developer", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": PARIS}]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "18C"}]},
        ]
    )
    assert msgs[0] == {"role": "system", "content": "Be brief."}
    assert msgs[2]["tool_calls"][0]["arguments_obj"] == {"city": "Paris"}
    assert msgs[3]["content"] == "18C" and msgs[3]["name"] == "get_weather"
    for bad, match in [
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "multimodal"),
        ([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}], "multimodal"),
        ([{"role": "tool", "content": "x"}], "tool_call_id"),
        ([{"role": "wizard", "content": "x"}], "unknown role"),
        ([{"role": "assistant", "content": None}], "content or tool_calls"),
        ([{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}], "tool_calls"),
    ]:
        with pytest.raises(ValueError, match=match):
            normalize_messages(bad)


# ---- rendering through real templates ---------------------------------------------------------------------------

CONVO = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "abcDEF123", "type": "function", "function": PARIS}]},
    {"role": "tool", "tool_call_id": "abcDEF123", "content": "18C and sunny"},
]


def _formatter(file: str):
    meta = {"tokenizer.ggml.tokens": ["<s>", "</s>"], "tokenizer.ggml.bos_token_id": 0,
            "tokenizer.ggml.eos_token_id": 1, "tokenizer.chat_template": (TEMPLATES / file).read_text()}  # fmt: skip
    return load_chat_formatter(None, meta)


@pytest.mark.parametrize(
    "file, convention, expected",
    [
        (
            "Qwen-Qwen2.5-7B-Instruct.jinja",
            "hermes",
            [
                '<tools>\n{"type": "function", "function": {"name": "get_weather"',
                '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
                "</tool_call><|im_end|>\n",
                "<|im_start|>user\n<tool_response>\n18C and sunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
            ],
        ),
        (
            "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
            "hermes",
            [
                '"name": "get_weather", "description": "get_weather(city: str, unit: Union[]) - The weather in a city',
                '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
                "</tool_call>",
                "<|im_start|>tool\n<tool_response>\n18C and sunny\n</tool_response><|im_end|><|im_start|>assistant\n",
            ],
        ),
        (
            "meta-llama-Llama-3.2-3B-Instruct.jinja",
            "llama3",
            [
                "Environment: ipython\n",
                '"name": "get_weather"',
                '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_weather", '
                '"parameters": {"city": "Paris"}}<|eot_id|>',
                '<|start_header_id|>ipython<|end_header_id|>\n\n"18C and sunny"<|eot_id|>',
            ],
        ),
        (
            "meta-llama-Llama-3.3-70B-Instruct.jinja",
            "llama3",
            [
                "Today Date: 26 Jul 2024",
                '{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>',
                "<|start_header_id|>ipython<|end_header_id|>",
            ],
        ),
        (
            "mistralai-Mistral-Nemo-Instruct-2407.jinja",
            "mistral",
            [
                '[AVAILABLE_TOOLS][{"type": "function", "function": {"name": "get_weather"',
                '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcDEF123"}]</s>',
                '[TOOL_RESULTS]{"content": 18C and sunny, "call_id": "abcDEF123"}[/TOOL_RESULTS]',
            ],
        ),
    ],
)
def test_real_templates_render_tool_conversations(file, convention, expected):
    fmt = _formatter(file)
    assert fmt.convention.name == convention
    caps = template_caps(fmt.template)
    assert caps.tools and caps.tool_calls and caps.tool_responses and caps.object_arguments
    out = fmt.render(CONVO, tools=TOOLS)
    for piece in expected:
        assert piece in out, piece
    assert "probe" not in out


def _real(path) -> dict:
    with GGUFFile(path) as f:
        return dict(f.metadata)


def test_test_models_render_tool_conversations(smollm2_path, gemma3_path):
    """Neither template knows tools: the tool list goes into the system text, calls and results are written in the
    generic JSON convention."""
    smol = load_chat_formatter(None, _real(smollm2_path))
    assert smol.convention.name == "generic"
    out = smol.render(CONVO, tools=TOOLS)
    assert out.startswith("<|im_start|>system\nYou are helpful.\n\nYou can call these tools:\n")
    assert '{"name": "get_weather", "description": "The weather in a city now", "parameters": {' in out
    assert (
        '<|im_start|>assistant\n{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}<|im_end|>'
        in out
    )
    assert "<|im_start|>tool\n18C and sunny<|im_end|>\n<|im_start|>assistant\n" in out
    gemma = load_chat_formatter(None, _real(gemma3_path))
    assert gemma.convention.name == "generic"
    out = gemma.render(CONVO, tools=TOOLS)
    assert out.startswith("<bos><start_of_turn>user\nYou are helpful.\n\nYou can call these tools:\n")
    assert (
        '<start_of_turn>model\n{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}<end_of_turn>\n'
        '<start_of_turn>user\n{"tool_response": {"name": "get_weather", "tool_call_id": "abcDEF123", "content": '
        '"18C and sunny"}}<end_of_turn>\n<start_of_turn>model\n'
    ) in out


def test_detect_convention():
    assert detect_convention("chatml-function-calling", None).name == "chatml-function-calling"
    assert detect_convention("functionary-v2", None).name == "functionary-v2"
    assert detect_convention("llama-3", "{{ x }}").name == "llama3"
    assert detect_convention(None, "plain", ["<s>", "<tool_call>"]).name == "hermes"
    assert detect_convention(None, "plain", ["<s>"]).name == "generic"


@pytest.mark.parametrize("name", ["chatml-function-calling", "functionary-v2"])
def test_llama_cpp_python_function_formats_render(name):
    fmt = load_chat_formatter(name, {})
    out = fmt.render(CONVO, tools=TOOLS)
    if name == "chatml-function-calling":
        assert "\nfunctions.get_weather:\n{" in out and "message:\n<message>" in out
        assert '<|im_start|>assistant\nfunctions.get_weather:\n{"city": "Paris"}<|im_end|>' in out
        assert out.endswith("<|im_start|>tool\n18C and sunny<|im_end|>\n<|im_start|>assistant\n")
    else:
        assert "type get_weather = (_: {\n// The city\ncity: string,\n" in out and 'unit?: "c" | "f",' in out
        assert '<|from|>assistant\n<|recipient|>get_weather\n<|content|>{"city": "Paris"}<|stop|>\n' in out
        assert out.endswith(
            "<|from|>get_weather\n<|recipient|>all\n<|content|>18C and sunny\n<|from|>assistant\n<|recipient|>"
        )


# ---- the request, its constraint and the stream -----------------------------------------------------------------


class FakeTokenizer:
    """Characters are tokens: id = code point (ASCII)."""

    def n_vocab(self):
        return 128

    def tokenize(self, text: bytes, add_bos=False, special=False):
        return list(text)

    def detokenize(self, ids, special=False):
        return bytes(ids)


class FakeConstraint:
    """Accepts exactly one text (a stand-in for a JSON-schema constraint)."""

    def __init__(self, target: str):
        self.target, self.pos = target, 0

    def allowed(self):
        mask = np.zeros(128, dtype=bool)
        if self.pos < len(self.target):
            mask[ord(self.target[self.pos])] = True
        return mask

    def accept(self, token):
        if self.pos >= len(self.target) or token != ord(self.target[self.pos]):
            raise ValueError(f"token {token} not allowed")
        self.pos += 1

    def is_accepting(self):
        return self.pos == len(self.target)

    def is_finished(self):
        return self.is_accepting()


def _run(lazy: LazyConstraint, text: str) -> list[bool]:
    """Feed text; for each character, whether the constraint was restricting the choice."""
    restricted = []
    for ch in text:
        mask = lazy.allowed()
        restricted.append(mask is not None)
        assert mask is None or mask[ord(ch)], ch
        lazy.accept(ord(ch))
    return restricted


def test_lazy_constraint_switches_on_at_the_trigger():
    made = []

    def make(trig):
        made.append(trig.text)
        return FakeConstraint('{"a": 1}')

    lazy = LazyConstraint([Trigger("<tool_call>", {})], make, FakeTokenizer())
    text = 'Free text <tool_call> \n{"a": 1}\n</tool_call> more <tool_call>{"a": 1}'
    restricted = _run(lazy, text)
    first = text.index("<tool_call>") + len("<tool_call>")
    assert not any(restricted[:first])  # free text costs nothing
    assert all(restricted[first : first + len(' \n{"a": 1}')])  # whitespace, then the constrained call
    assert not restricted[first + len(' \n{"a": 1}')]  # released after the call: the closing tag is free
    assert made == ["<tool_call>", "<tool_call>"] and lazy.failed == 0
    with pytest.raises(AssertionError):  # inside a call, text the constraint refuses cannot be chosen
        _run(LazyConstraint([Trigger("<tool_call>", {})], make, FakeTokenizer()), '<tool_call>{"b"')


def test_lazy_constraint_include_at_start_and_required_start():
    def make(trig):
        return FakeConstraint('{"tool_calls": []}')

    lazy = LazyConstraint([Trigger('{"tool_calls"', {}, include=True, at_start=True)], make, FakeTokenizer())
    restricted = _run(lazy, '  {"tool_calls": []}')
    assert not any(restricted[: 2 + len('{"tool_calls"')]) and all(restricted[2 + len('{"tool_calls"') :])
    lazy = LazyConstraint([Trigger('{"tool_calls"', {}, include=True, at_start=True)], make, FakeTokenizer())
    assert not any(_run(lazy, 'text then {"tool_calls": []}'))  # not at the start: no trigger
    lazy = LazyConstraint([], make, FakeTokenizer(), start=Trigger("", {}))
    assert lazy.allowed() is not None and all(_run(lazy, '{"tool_calls": []}'))
    assert lazy.allowed() is None and lazy.is_accepting()
    lazy = LazyConstraint([Trigger("X", {})], lambda t: FakeConstraint("{}"), FakeTokenizer(), repeat=False)
    assert _run(lazy, "X{}X{") == [False, True, True, False, False]


def test_prepare_chat_request_modes():
    smol = load_chat_formatter(
        None,
        {"tokenizer.chat_template": (TEMPLATES / "Qwen-Qwen2.5-7B-Instruct.jinja").read_text(),
         "tokenizer.ggml.tokens": ["<|im_end|>"], "tokenizer.ggml.eos_token_id": 0},
    )  # fmt: skip
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    req = prepare_chat_request(smol, msgs, tools=TOOLS)
    assert req.prompt.endswith("<|im_start|>assistant\n") and "<tools>" in req.prompt
    assert [t.text for t in req.triggers] == ["<tool_call>"] and req.start is None
    schema = req.triggers[0].schema
    assert [v["properties"]["name"]["const"] for v in schema["anyOf"]] == ["get_weather", "get_time"]
    req = prepare_chat_request(
        smol, msgs, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}}
    )
    assert req.prompt.endswith("<|im_start|>assistant\n<tool_call>\n") and req.triggers == []
    assert req.start.schema["properties"]["arguments"] == WEATHER["function"]["parameters"]
    message, finish = req.message('{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>', "stop")
    assert finish == "tool_calls" and message["content"] is None
    assert message["tool_calls"][0]["function"] == PARIS
    seen = []
    constraint = req.constraint(FakeTokenizer(), lambda schema, tok: seen.append(schema) or FakeConstraint("{}"))
    assert constraint.allowed() is not None and seen[0] is req.start.schema
    req = prepare_chat_request(smol, msgs, tools=TOOLS, tool_choice="none")
    assert req.parser is None and "<tools>" not in req.prompt and req.constraint(FakeTokenizer()) is None
    assert req.message("Hi", "stop") == ({"role": "assistant", "content": "Hi"}, "stop")
    with pytest.raises(ValueError, match="not among the tools"):
        prepare_chat_request(smol, msgs, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "x"}})
    with pytest.raises(ValueError, match="multimodal"):
        prepare_chat_request(smol, [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}])


def test_stream_rewrites_chunks_like_the_whole_message():
    fmt = load_chat_formatter("chatml", {})
    text = CASES[1][1]
    hermes_like = {"tokenizer.chat_template": "<tool_call>{{ messages[0].content }}"}
    req = prepare_chat_request(load_chat_formatter(None, hermes_like), [{"role": "user", "content": "x"}], tools=TOOLS)
    assert fmt.convention.name == "generic" and req.parser.convention.name == "hermes"
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]

    def chunk(delta, finish=None):
        return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}  # fmt: skip

    chunks = [chunk({"role": "assistant"}), *[chunk({"content": p}) for p in pieces], chunk({}, "stop")]
    out = list(req.stream(chunks))
    assert out[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls" and out[-1]["choices"][0]["delta"] == {}
    streamed = _assemble([c["choices"][0]["delta"] for c in out[1:-1]])
    req2 = prepare_chat_request(load_chat_formatter(None, hermes_like), [{"role": "user", "content": "x"}], tools=TOOLS)
    whole, finish = req2.message(text, "stop")
    assert finish == "tool_calls" and whole["content"] == streamed["content"] == "Let me look."
    strip = [{k: v for k, v in c.items() if k != "id"} for c in whole["tool_calls"]]
    assert strip == [{k: v for k, v in c.items() if k != "id"} for c in streamed["tool_calls"]]


# ---- a real generation ------------------------------------------------------------------------------------------


def test_real_generation_forced_call_stream_and_whole_agree(smollm2_path):
    """SmolLM2 speaks ChatML, so llama-cpp-python's chatml-function-calling format applies: a named tool_choice puts
    `functions.get_weather:\\n` after the prompt and the model writes the arguments. Greedy generation, once whole and
    once streamed: the same answer."""
    from llamacore import Llama

    llm = Llama(str(smollm2_path), chat_format="chatml-function-calling", n_ctx=1024, verbose=False)
    msgs = [{"role": "user", "content": "What is the weather in Paris?"}]
    choice = {"type": "function", "function": {"name": "get_weather"}}

    def request():
        return prepare_chat_request(llm.chat_formatter, msgs, tools=TOOLS, tool_choice=choice)

    req = request()
    assert req.prompt.endswith("<|im_start|>assistant\nfunctions.get_weather:\n")
    stop = list(llm.chat_formatter.stop) + list(req.stop)
    out = llm.create_completion(req.prompt, max_tokens=24, temperature=0.0, stop=stop)
    whole, finish = req.message(out["choices"][0]["text"], out["choices"][0]["finish_reason"])
    assert whole["tool_calls"][0]["function"]["name"] == "get_weather"
    assert finish in ("tool_calls", "length")

    req2 = request()

    def chat_chunk(c):
        text, finish = c["choices"][0]["text"], c["choices"][0]["finish_reason"]
        delta = {"content": text} if finish is None else {}
        choice = {"index": 0, "logprobs": None, "finish_reason": finish, "delta": delta}
        return {"id": c["id"], "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]}

    stream = llm.create_completion(req2.prompt, max_tokens=24, temperature=0.0, stop=stop, stream=True)
    chunks = (chat_chunk(c) for c in stream)
    out_chunks = list(req2.stream(chunks))
    streamed = _assemble([c["choices"][0]["delta"] for c in out_chunks[:-1]])
    assert out_chunks[-1]["choices"][0]["finish_reason"] == finish
    drop_ids = [{k: v for k, v in c.items() if k != "id"} for c in whole["tool_calls"]]
    assert [{k: v for k, v in c.items() if k != "id"} for c in streamed["tool_calls"]] == drop_ids
    assert streamed["content"] == whole["content"]
    llm.close()
