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
