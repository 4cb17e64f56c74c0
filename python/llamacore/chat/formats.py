"""Built-in chat formats, for models whose GGUF carries no tokenizer.chat_template or when `chat_format=` names one.

Each format is a Jinja template rendered by chat.template.ChatTemplate (so there is one rendering path), plus the
stop strings that end a turn. Names follow llama-cpp-python's chat_format names. `text(content)` accepts a string,
None, or a list of OpenAI content parts (text parts are joined; other parts are dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

_TEXT = (
    "{%- macro text(c) -%}{%- if c is string -%}{{ c }}{%- elif c is none -%}{%- else -%}"
    "{%- for p in c -%}{%- if p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}{%- endfor -%}"
    "{%- endif -%}{%- endmacro -%}"
)
# A leading system message becomes `sys`; the rest are `msgs`.
_SPLIT_SYSTEM = (
    "{%- if messages[0]['role'] == 'system' -%}{%- set sys = text(messages[0]['content']) -%}"
    "{%- set msgs = messages[1:] -%}{%- else -%}{%- set sys = default_system -%}{%- set msgs = messages -%}"
    "{%- endif -%}"
)


@dataclass(frozen=True)
class ChatFormat:
    name: str
    template: str  # Jinja source
    stop: tuple[str, ...] = ()
    default_system: str = ""


def _fmt(name: str, body: str, stop: tuple[str, ...] = (), default_system: str = "", split: bool = True) -> ChatFormat:
    return ChatFormat(name, _TEXT + (_SPLIT_SYSTEM if split else "") + body, stop, default_system)


_CHATML = (
    "{%- if sys -%}{{ '<|im_start|>system\\n' + sys + '<|im_end|>\\n' }}{%- endif -%}"
    "{%- for m in msgs -%}{{ '<|im_start|>' + m['role'] + '\\n' + text(m['content']) + '<|im_end|>\\n' }}"
    "{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

FORMATS: dict[str, ChatFormat] = {
    f.name: f
    for f in [
        _fmt("chatml", _CHATML, ("<|im_end|>",)),
        _fmt("qwen", _CHATML, ("<|im_end|>",), default_system="You are a helpful assistant."),
        # Meta's Llama 2: <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s><s>[INST] ...
        _fmt(
            "llama-2",
            "{%- for m in msgs -%}{%- if m['role'] == 'user' -%}{{ bos_token + '[INST] ' }}"
            "{%- if loop.first and sys -%}{{ '<<SYS>>\\n' + sys + '\\n<</SYS>>\\n\\n' }}{%- endif -%}"
            "{{ text(m['content']) + ' [/INST]' }}"
            "{%- elif m['role'] == 'assistant' -%}{{ ' ' + text(m['content']) + ' ' + eos_token }}{%- endif -%}"
            "{%- endfor -%}",
            ("</s>",),
        ),
        _fmt(
            "llama-3",
            "{{ bos_token }}{%- for m in messages -%}"
            "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + text(m['content']) | trim"
            " + '<|eot_id|>' }}{%- endfor -%}"
            "{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}",
            ("<|eot_id|>",),
            split=False,
        ),
        # Gemma (1, 2 and 3): no system role, so a system message is prepended to the first user turn; the
        # assistant's role is "model"; roles must alternate; content is trimmed.
        _fmt(
            "gemma",
            "{{ bos_token }}{%- for m in msgs -%}"
            "{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
            "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
            "{%- endif -%}"
            "{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' }}"
            "{%- if loop.first and sys -%}{{ sys + '\\n\\n' }}{%- endif -%}"
            "{{ text(m['content']) | trim + '<end_of_turn>\\n' }}"
            "{%- endfor -%}{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}",
            ("<end_of_turn>",),
        ),
        _fmt(
            "mistral-instruct",
            "{{ bos_token }}{%- for m in msgs -%}{%- if m['role'] == 'user' -%}"
            "{{ '[INST] ' + (sys + '\\n\\n' if loop.first and sys else '') + text(m['content']) + ' [/INST]' }}"
            "{%- elif m['role'] == 'assistant' -%}{{ text(m['content']) + eos_token }}{%- endif -%}{%- endfor -%}",
            ("</s>",),
        ),
        _fmt(
            "zephyr",
            "{%- if sys -%}{{ '<|system|>\\n' + sys + '</s>\\n' }}{%- endif -%}"
            "{%- for m in msgs -%}{{ '<|' + m['role'] + '|>\\n' + text(m['content']) + '</s>\\n' }}{%- endfor -%}"
            "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}",
            ("</s>",),
        ),
        _fmt(
            "phi-3",
            "{%- if sys -%}{{ '<|system|>\\n' + sys + '<|end|>\\n' }}{%- endif -%}"
            "{%- for m in msgs -%}{{ '<|' + m['role'] + '|>\\n' + text(m['content']) + '<|end|>\\n' }}{%- endfor -%}"
            "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}",
            ("<|end|>",),
        ),
        _fmt(
            "alpaca",
            "{%- if sys -%}{{ sys + '\\n\\n' }}{%- endif -%}{%- for m in msgs -%}{%- if m['role'] == 'user' -%}"
            "{{ '### Instruction:\\n' + text(m['content']) + '\\n\\n' }}{%- elif m['role'] == 'assistant' -%}"
            "{{ '### Response:\\n' + text(m['content']) + '\\n\\n' }}{%- endif -%}{%- endfor -%}"
            "{%- if add_generation_prompt -%}{{ '### Response:\\n' }}{%- endif -%}",
            ("### Instruction:",),
        ),
        _fmt(
            "vicuna",
            "{%- if sys -%}{{ sys + ' ' }}{%- endif -%}{%- for m in msgs -%}{%- if m['role'] == 'user' -%}"
            "{{ 'USER: ' + text(m['content']) + ' ' }}{%- elif m['role'] == 'assistant' -%}"
            "{{ 'ASSISTANT: ' + text(m['content']) + eos_token }}{%- endif -%}{%- endfor -%}"
            "{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}",
            ("USER:",),
            default_system="A chat between a curious user and an artificial intelligence assistant. "
            "The assistant gives helpful, detailed, and polite answers to the user's questions.",
        ),
    ]
}


# llama-cpp-python's chat_format="chatml-function-calling" (facts from its handler): the tools are listed in the
# system message as `functions.NAME:` + the parameters' JSON schema, with the instructions below; the model answers
# `message:\n<text>` or one or more `functions.NAME:\n{arguments}` (read by chat.tool_formats).
_CHATML_FC = (
    "{%- if sys or tools -%}{{ '<|im_start|>system\\n' + (sys or '') }}"
    "{%- if tools -%}{{ '\\n\\nYou have access to the following functions:\\n' }}"
    "{%- for t in tools -%}{{ '\\nfunctions.' + t['function']['name'] + ':\\n' + t['function']['parameters'] | tojson"
    " + '\\n' }}{%- endfor -%}"
    "{{ '\\n\\nYou can respond to users messages with either a single message or one or more function calls.'"
    " + '\\n\\nTo respond with a message begin the message with \\'message:\\', use the following format:'"
    " + '\\n\\nmessage:\\n<message>'"
    " + '\\n\\nTo respond with one or more function calls begin the message with \\'functions.<function_name>:\\','"
    ' + \' use the following format:\\n\\nfunctions.<function_name>:\\n{ "arg1": "value1", "arg2": "value2" }\''
    ' + \'\\nfunctions.<function_name>:\\n{ "arg1": "value1", "arg2": "value2" }\' }}'
    "{%- endif -%}{{ '<|im_end|>\\n' }}{%- endif -%}"
    "{%- for m in msgs -%}{{ '<|im_start|>' + m['role'] + '\\n' }}"
    "{%- if m['role'] == 'assistant' and m['tool_calls'] is defined and m['tool_calls'] -%}"
    "{%- for c in m['tool_calls'] -%}{{ 'functions.' + c['function']['name'] + ':\\n' + c['function']['arguments']"
    " }}{%- if not loop.last -%}{{ '\\n' }}{%- endif -%}{%- endfor -%}"
    "{%- elif m['role'] == 'assistant' and tools -%}{{ 'message:\\n' + text(m['content']) }}"
    "{%- else -%}{{ text(m['content']) }}{%- endif -%}{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# MeetKai functionary v2 (llama-cpp-python's chat_format="functionary-v2"): every message is
# `<|from|>ROLE\n<|recipient|>RECIPIENT\n<|content|>CONTENT`, tools are a TypeScript-like namespace in a system
# message, an assistant turn ends with <|stop|>, and the prompt ends with `<|from|>assistant\n<|recipient|>`.
_FUNCTIONARY_V2 = (
    "{%- macro ptype(p) -%}{%- if p['enum'] is defined -%}{{ p['enum'] | map('tojson') | join(' | ') }}"
    "{%- elif p['type'] == 'array' -%}{{ 'Array<' + ptype(p['items'] or {}) + '>' }}"
    "{%- else -%}{{ p['type'] | default('any') }}{%- endif -%}{%- endmacro -%}"
    "{%- set fsys = namespace(s='// Supported function definitions that should be called when necessary.\\n"
    "namespace functions {\\n\\n') -%}"
    "{%- for t in tools or [] -%}{%- set f = t['function'] -%}"
    "{%- set ns = namespace(s='// ' + (f['description'] or '') + '\\ntype ' + f['name'] + ' = (_: {\\n') -%}"
    "{%- for k, p in (f['parameters']['properties'] or {}).items() -%}"
    "{%- set ns.s = ns.s + '// ' + (p['description'] or '') + '\\n' + k"
    " + ('' if k in (f['parameters']['required'] or []) else '?') + ': ' + ptype(p) + ',\\n' -%}{%- endfor -%}"
    "{%- set fsys.s = fsys.s + ns.s + '}) => any;\\n\\n' -%}{%- endfor -%}"
    "{{ '<|from|>system\\n<|recipient|>all\\n<|content|>' + fsys.s + '} // namespace functions\\n' }}"
    "{{ '<|from|>system\\n<|recipient|>all\\n<|content|>' + default_system + '\\n' }}"
    "{%- for m in messages -%}"
    "{%- if m['role'] in ('system', 'user') -%}"
    "{{ '<|from|>' + m['role'] + '\\n<|recipient|>all\\n<|content|>' + text(m['content']) + '\\n' }}"
    "{%- elif m['role'] == 'tool' -%}"
    "{{ '<|from|>' + (m['name'] or 'tool') + '\\n<|recipient|>all\\n<|content|>' + text(m['content']) + '\\n' }}"
    "{%- else -%}{%- set has = m['content'] is string and m['content'] -%}"
    "{%- if has -%}{{ '<|from|>assistant\\n<|recipient|>all\\n<|content|>' + m['content'] }}{%- endif -%}"
    "{%- for c in m['tool_calls'] or [] -%}{%- if has or not loop.first -%}{{ '\\n' }}{%- endif -%}"
    "{{ '<|from|>assistant\\n<|recipient|>' + c['function']['name'] + '\\n<|content|>' + c['function']['arguments'] }}"
    "{%- endfor -%}{{ '<|stop|>\\n' }}{%- endif -%}"
    "{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|from|>assistant\\n<|recipient|>' }}{%- endif -%}"
)

FORMATS.update(
    {
        "chatml-function-calling": _fmt("chatml-function-calling", _CHATML_FC, ("<|im_end|>",)),
        "functionary-v2": _fmt(
            "functionary-v2",
            _FUNCTIONARY_V2,
            ("<|stop|>",),
            default_system="A chat between a curious user and an artificial intelligence assistant. The assistant"
            " gives helpful, detailed, and polite answers to the user's questions. The assistant calls functions"
            " with appropriate input when necessary",
            split=False,
        ),
    }
)
