"""Chat templates: the two real models' formats rendered against expected strings, the sandbox, the
transformers-compatible globals and filters, the built-in formats and the format guess."""

from __future__ import annotations

import pytest

from llamacore.chat import (
    FORMATS,
    ChatTemplate,
    ChatTemplateError,
    available_chat_formats,
    guess_chat_format,
    load_chat_formatter,
)
from llamacore.gguf import GGUFFile

# SmolLM2-135M-Instruct's tokenizer.chat_template, as stored in its GGUF file
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SMOLLM2_META = {
    "general.architecture": "llama",
    "tokenizer.ggml.tokens": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    "tokenizer.ggml.bos_token_id": 1,
    "tokenizer.ggml.eos_token_id": 2,
    "tokenizer.chat_template": SMOLLM2_TEMPLATE,
}
# Gemma-3-270M's GGUF has no chat template: the architecture picks the built-in "gemma" format
GEMMA3_META = {
    "general.architecture": "gemma3",
    "tokenizer.ggml.tokens": ["<pad>", "<eos>", "<bos>", "<unk>"],
    "tokenizer.ggml.bos_token_id": 2,
    "tokenizer.ggml.eos_token_id": 1,
}
PLAIN_META = {
    "tokenizer.ggml.tokens": ["<s>", "</s>"],
    "tokenizer.ggml.bos_token_id": 0,
    "tokenizer.ggml.eos_token_id": 1,
}
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Why is the sky blue?"},
]


def test_smollm2_template():
    fmt = load_chat_formatter(None, SMOLLM2_META)
    assert fmt.name == "chat_template.default" and fmt.stop == ("<|im_end|>",)
    assert fmt.render([{"role": "user", "content": "Hi!"}]) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
    )
    assert fmt.render(CONVERSATION) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhy is the sky blue?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert fmt.render(CONVERSATION[:2], add_generation_prompt=False).endswith("Hi!<|im_end|>\n")


def test_gemma3_format():
    assert guess_chat_format(GEMMA3_META) == "gemma"
    fmt = load_chat_formatter(None, GEMMA3_META)
    assert fmt.stop == ("<end_of_turn>",)
    assert fmt.render([{"role": "user", "content": "Hi!"}]) == (
        "<bos><start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\n"
    )
    # Gemma has no system role: the system text opens the first user turn; contents are trimmed
    assert fmt.render(CONVERSATION) == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nWhy is the sky blue?<end_of_turn>\n<start_of_turn>model\n"
    )
    parts = [{"role": "user", "content": [{"type": "text", "text": " Hi "}, {"type": "text", "text": "there "}]}]
    assert fmt.render(parts) == "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]
    with pytest.raises(ValueError, match="multimodal"):
        fmt.render(image)
    with pytest.raises(ChatTemplateError, match="alternate"):
        fmt.render([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])


def test_real_model_templates_from_gguf(smollm2_path, gemma3_path):
    with GGUFFile(smollm2_path) as f:
        meta = dict(f.metadata)
    assert meta["tokenizer.chat_template"] == SMOLLM2_TEMPLATE
    assert (
        load_chat_formatter(None, meta)
        .render([{"role": "user", "content": "Hi!"}])
        .startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    )
    with GGUFFile(gemma3_path) as f:
        meta = dict(f.metadata)
    assert guess_chat_format(meta) == "gemma"
    assert (
        load_chat_formatter(None, meta)
        .render([{"role": "user", "content": "Hi!"}])
        .startswith("<bos><start_of_turn>user\nHi!")
    )


# ---- the environment: sandbox, globals, filters -----------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.__class__ }}{{ messages.append(1) }}",
        "{% set x = messages.pop() %}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_sandbox_blocks_unsafe_templates(source):
    with pytest.raises(ChatTemplateError):
        ChatTemplate(source).render([{"role": "user", "content": "x"}])


def test_raise_exception_and_parse_errors():
    t = ChatTemplate("{{ raise_exception('only user messages, please') }}")
    with pytest.raises(ChatTemplateError, match="only user messages, please"):
        t.render([{"role": "user", "content": "x"}])
    with pytest.raises(ChatTemplateError, match="does not parse"):
        ChatTemplate("{% for m in messages %}")


def test_globals_filters_and_variables():
    t = ChatTemplate(
        "{{ bos_token }}|{{ eos_token }}|{{ tools | tojson }}|{{ messages[0] | tojson(indent=None) }}|"
        "{{ strftime_now('%Y') | length }}|{{ add_generation_prompt }}|{{ enable_thinking | default('unset') }}",
        bos_token="<s>",
        eos_token="</s>",
    )
    out = t.render([{"role": "user", "content": "<b>é</b>"}], tools=[{"name": "f"}], enable_thinking=False)
    # tojson keeps <, >, & and non-ASCII as they are (transformers' filter), not HTML-escaped
    assert out == '<s>|</s>|[{"name": "f"}]|{"role": "user", "content": "<b>é</b>"}|4|True|False'
    out = t.render([{"role": "user", "content": "x"}], add_generation_prompt=False)
    assert out.endswith('|null|{"role": "user", "content": "x"}|4|False|unset')


def test_trim_blocks_lstrip_blocks_and_loopcontrols():
    t = ChatTemplate(
        "{% for m in messages %}\n"
        "    {% if m['role'] == 'system' %}{% continue %}{% endif %}\n"
        "[{{ m['content'] }}]\n"
        "{% endfor %}\n"
    )
    assert t.render(CONVERSATION) == "[Hi!]\n[Hello.]\n[Why is the sky blue?]\n"


@pytest.mark.parametrize("messages", [[], "hi", [{"content": "no role"}], [None], 5])
def test_bad_messages(messages):
    with pytest.raises(ChatTemplateError):
        load_chat_formatter(None, SMOLLM2_META).render(messages)


def test_template_failing_on_a_message_is_a_chat_template_error():
    with pytest.raises(ChatTemplateError):
        load_chat_formatter(None, SMOLLM2_META).render([{"role": "user", "content": None}])


# ---- built-in formats and the guess -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("chatml", "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"),
        ("qwen", "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"),
        ("llama-2", "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]"),
        (
            "llama-3",
            "<s><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user"
            "<|end_header_id|>\n\nU<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        ),  # fmt: skip
        ("gemma", "<s><start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n"),
        ("mistral-instruct", "<s>[INST] S\n\nU [/INST]"),
        ("zephyr", "<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n"),
        ("phi-3", "<|system|>\nS<|end|>\n<|user|>\nU<|end|>\n<|assistant|>\n"),
        ("alpaca", "S\n\n### Instruction:\nU\n\n### Response:\n"),
        ("vicuna", "S USER: U ASSISTANT:"),
    ],
)
def test_builtin_formats(name, expected):
    meta = {
        "tokenizer.ggml.tokens": ["<s>", "</s>"],
        "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": 1,
    }
    fmt = load_chat_formatter(name, meta)
    assert fmt.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]) == expected
    assert fmt.stop == FORMATS[name].stop


def test_builtin_multi_turn_llama2():
    meta = {
        "tokenizer.ggml.tokens": ["<s>", "</s>"],
        "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": 1,
    }
    out = load_chat_formatter("llama-2", meta).render(CONVERSATION)
    assert (
        out == "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] Why is the sky blue? [/INST]"
    )


def test_default_system_messages():
    meta = {}
    assert (
        load_chat_formatter("qwen", meta)
        .render([{"role": "user", "content": "U"}])
        .startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    )
    assert load_chat_formatter("chatml", meta).render([{"role": "user", "content": "U"}]).startswith("<|im_start|>user")


@pytest.mark.parametrize(
    "meta, name",
    [
        (SMOLLM2_META, "chat_template.default"),
        (GEMMA3_META, "gemma"),
        ({"general.architecture": "gemma2"}, "gemma"),
        ({"general.architecture": "phi3"}, "phi-3"),
        ({"general.architecture": "qwen2", "tokenizer.ggml.tokens": ["a", "<|im_start|>"]}, "chatml"),
        ({"general.architecture": "llama", "tokenizer.ggml.tokens": ["<|start_header_id|>"]}, "llama-3"),
        ({"general.architecture": "llama", "tokenizer.ggml.tokens": ["<s>", "</s>"]}, "llama-2"),
        ({}, "llama-2"),
    ],
)
def test_guess_chat_format(meta, name):
    assert guess_chat_format(meta) == name


def test_named_gguf_templates_and_unknown_format():
    meta = {**SMOLLM2_META, "tokenizer.chat_template.tool_use": "TOOLS{{ tools | length }}"}
    assert "chat_template.tool_use" in available_chat_formats(meta)
    fmt = load_chat_formatter("chat_template.tool_use", meta)
    assert fmt.render([{"role": "user", "content": "x"}], tools=[{}, {}]) == "TOOLS2"
    with pytest.raises(ValueError, match="unknown chat_format 'nope'.*chatml"):
        load_chat_formatter("nope", meta)
