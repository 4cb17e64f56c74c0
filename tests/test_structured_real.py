"""Structured output and tool calls through the Llama API on the real test models: JSON that parses and validates,
tool calls whose arguments follow the tool's schema, streaming and non-streaming alike."""

from __future__ import annotations

import json

import pytest

from llamacore import Llama

jsonschema = pytest.importorskip("jsonschema")

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "languages": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 3},
    },
    "required": ["name", "age", "languages"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "Describe a fictional programmer as JSON."}]


@pytest.fixture(scope="module", params=["smollm2", "gemma3"])
def llm(request, smollm2_path, gemma3_path):
    path = smollm2_path if request.param == "smollm2" else gemma3_path
    m = Llama(str(path), n_ctx=1024, verbose=False)
    yield m
    m.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema_answers_validate(llm, seed):
    rf = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
    out = llm.create_chat_completion(ASK, response_format=rf, temperature=1.0, seed=seed, max_tokens=200)
    choice = out["choices"][0]
    if choice["finish_reason"] == "length":
        pytest.skip("ended by length (allowed: never invalid text presented as finished)")
    jsonschema.validate(json.loads(choice["message"]["content"]), PERSON)


def test_json_object_answers_parse(llm):
    # tiny models can loop inside an object until max_tokens (finish "length", allowed); a finished answer must parse
    finished = 0
    for seed in range(4):
        out = llm.create_chat_completion(
            ASK, response_format={"type": "json_object"}, temperature=0.7, seed=seed, max_tokens=160
        )
        choice = out["choices"][0]
        if choice["finish_reason"] == "stop":
            assert isinstance(json.loads(choice["message"]["content"]), dict)
            finished += 1
    assert finished >= 1


def test_grammar_on_create_completion(llm):
    from llamacore import LlamaGrammar

    g = LlamaGrammar.from_string('root ::= ("yes" | "no") "."')
    out = llm.create_completion("Is water wet? Answer:", grammar=g, temperature=0.9, seed=4, max_tokens=8)
    assert out["choices"][0]["text"] in ("yes.", "no.")


def merge_stream(chunks) -> tuple[list[tuple[str, str]], str | None]:
    """The tool calls that streamed deltas put together, and the finish reason."""
    merged: dict[int, dict] = {}
    finish = None
    for chunk in chunks:
        ch = chunk["choices"][0]
        for d in ch["delta"].get("tool_calls") or []:
            m = merged.setdefault(d["index"], {"name": "", "arguments": ""})
            f = d.get("function") or {}
            m["name"] += f.get("name") or ""
            m["arguments"] += f.get("arguments") or ""
        finish = ch["finish_reason"] or finish
    return [(m["name"], m["arguments"]) for _, m in sorted(merged.items())], finish


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_forced_tool_calls_validate_and_stream_alike(llm, choice):
    msgs = [{"role": "user", "content": "What is the weather like in Paris?"}]
    by_name = {"get_weather": WEATHER, "get_time": TIME}
    called = 0
    for seed in range(4):
        kw = dict(
            tools=[WEATHER, TIME],
            tool_choice=choice,
            temperature=0.7,
            seed=seed,
            max_tokens=100,
            parallel_tool_calls=False,
        )  # tiny models repeat a call until max_tokens when they may
        c = llm.create_chat_completion(msgs, **kw)["choices"][0]
        streamed, finish = merge_stream(llm.create_chat_completion(msgs, stream=True, **kw))
        assert finish == c["finish_reason"]
        if c["finish_reason"] == "length":  # a tiny model looping inside a string: allowed, never shown as a call
            continue
        called += 1
        assert c["finish_reason"] == "tool_calls", c
        assert c["message"]["content"] is None
        calls = c["message"]["tool_calls"]
        assert calls and all(t["type"] == "function" and t["id"].startswith("call_") for t in calls)
        for t in calls:
            if isinstance(choice, dict):
                assert t["function"]["name"] == "get_weather"
            jsonschema.validate(
                json.loads(t["function"]["arguments"]), by_name[t["function"]["name"]]["function"]["parameters"]
            )
        assert streamed == [(t["function"]["name"], t["function"]["arguments"]) for t in calls]
    assert called >= 2


def test_tool_result_conversation_renders_and_answers(llm):
    msgs = [
        {"role": "user", "content": "What is the weather like in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21}'},
    ]
    out = llm.create_chat_completion(msgs, tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=30)
    assert out["choices"][0]["message"]["content"]


def test_bad_tools_are_value_errors(llm):
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(ValueError):
        llm.create_chat_completion(msgs, tools=[{"type": "function", "function": {"parameters": {}}}])
    with pytest.raises(ValueError):
        llm.create_chat_completion(msgs, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "x"}})
    with pytest.raises(ValueError, match="multimodal"):
        llm.create_chat_completion([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])


def test_auto_tool_choice_switches_the_real_grammar_on_at_a_call(llm):
    """'auto': free text is unconstrained; once the model writes a call's opening the real JSON-schema constraint
    (llguidance on the model's vocabulary) decides, and a call in the generic convention ends the answer."""
    from llamacore.chat.tools import prepare_chat_request

    msgs = [{"role": "user", "content": "What is the weather like in Paris?"}]
    req = prepare_chat_request(llm.chat_formatter, msgs, tools=[WEATHER, TIME], tool_choice="auto")
    tok = llm._tokenizer
    lazy = req.constraint(tok)
    call = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]}'
    ids = tok.tokenize(call.encode(), add_bos=False, special=False)
    opening = len(tok.tokenize(b'{"tool_calls"', add_bos=False, special=False))
    for i, t in enumerate(ids):
        mask = lazy.allowed()
        if i < opening - 1:
            assert mask is None  # free text so far: no per-token cost
        elif i >= opening:
            assert mask is not None and mask[t]
            if i == opening:  # right after '{"tool_calls"' only a colon (with or without spaces) may come
                assert mask.sum() < 1000
        lazy.accept(t)
    assert lazy.is_finished()
    message, finish = req.message(call, "stop")
    assert finish == "tool_calls"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris", "unit": "celsius"}

    # plain text never switches it on
    lazy = req.constraint(tok)
    for t in tok.tokenize(b"It is sunny in Paris today.", add_bos=False, special=False):
        assert lazy.allowed() is None
        lazy.accept(t)
    assert not lazy.is_finished()
