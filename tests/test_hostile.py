"""Hostile input: every way data gets into llamacore, fed what an attacker or a broken client would send.

Each case asserts a typed exception (or a documented, harmless result) within a time limit, and that the object
still works afterwards. The model-file cases rewrite the real SmolLM2 file with one field that lies."""

from __future__ import annotations

import _thread
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from llamacore import Llama
from llamacore.chat.template import ChatTemplate, ChatTemplateError
from llamacore.gguf import GGUFFile, GGUFWriter


@pytest.fixture(scope="module")
def llm(smollm2_path):
    m = Llama(str(smollm2_path), n_ctx=512, verbose=False)
    yield m
    m.close()


def greedy(llm: Llama, prompt: str = "The capital of France is", n: int = 6) -> str:
    return llm.create_completion(prompt, max_tokens=n, temperature=0)["choices"][0]["text"]


@pytest.fixture(scope="module")
def reference_answer(llm) -> str:
    return greedy(llm)


class within:
    """A block that must finish in `seconds` (generous: these are hang checks, not timings)."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        self.t0 = time.monotonic()

    def __exit__(self, *exc):
        assert time.monotonic() - self.t0 < self.seconds, f"took more than {self.seconds} s"


# ---- text ----


def test_ten_megabytes_of_text_tokenizes(llm, reference_answer):
    text = b"hello world " * 900_000
    with within(60):
        ids = llm.tokenize(text, add_bos=False)
    assert len(ids) > 1_000_000 and llm.detokenize(ids) == text
    assert greedy(llm) == reference_answer


@pytest.mark.parametrize(
    "text", [b"\xff\xfe\x80abc", b"a\x00b\x00", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00" * 1000]
)
def test_invalid_utf8_and_nul_bytes_tokenize_as_llama_cpp_does(llm, text):
    # As llama.cpp: the bytes are read as (lax) UTF-8 first, a byte that starts no sequence becoming U+FFFD; the
    # valid parts are kept exactly
    ids = llm.tokenize(text, add_bos=False)
    assert all(0 <= i < llm.n_vocab() for i in ids)
    out = llm.detokenize(ids)
    assert isinstance(out, bytes) and out.endswith(text.lstrip(b"\xff\xfe\x80") if text.endswith(b"abc") else b"")


def test_lone_surrogate_in_str_is_a_value_error(llm):
    with pytest.raises(ValueError):  # UnicodeEncodeError is a ValueError
        llm.tokenize("a\ud800b")
    with pytest.raises(ValueError):
        llm.create_completion("a\udfffb", max_tokens=1)


def test_control_token_text_is_special_only_when_asked(llm):
    text = b"<|im_start|>user"
    assert llm.tokenize(text, add_bos=False, special=True)[0] == 1
    assert 1 not in llm.tokenize(text, add_bos=False, special=False)


# ---- sampling and generation arguments ----

BAD_SAMPLING = [
    {"temperature": float("nan")},
    {"temperature": float("inf")},
    {"temperature": -0.5},
    {"top_p": float("nan")},
    {"min_p": -1.0},
    {"typical_p": float("inf")},
    {"repeat_penalty": float("nan")},
    {"repeat_penalty": -1.0},
    {"presence_penalty": float("inf")},
    {"frequency_penalty": float("nan")},
    {"logit_bias": {10**9: 1.0}},
    {"logit_bias": {-5: 1.0}},
    {"logit_bias": {5: float("nan")}},
    {"seed": 2**64},
    {"seed": 2**70},
    {"seed": -7},
    {"max_tokens": -5},
]


@pytest.mark.parametrize("kwargs", BAD_SAMPLING, ids=[repr(k) for k in BAD_SAMPLING])
def test_bad_sampling_arguments_raise_value_error(llm, reference_answer, kwargs):
    with pytest.raises(ValueError):
        llm.create_completion("Hi", **{"max_tokens": 2, **kwargs})
    assert greedy(llm) == reference_answer


def test_extreme_but_valid_arguments_work(llm, reference_answer):
    out = llm.create_completion("Hi", max_tokens=2, top_k=10**9, seed=2**64 - 1, temperature=0.7)
    assert out["choices"][0]["finish_reason"] in ("length", "stop")
    # max_tokens beyond anything: ends at the context's end at the latest
    out = llm.create_completion("Hi", max_tokens=2**63, temperature=0, stop=["\n"])
    assert out["choices"][0]["finish_reason"] in ("length", "stop")
    assert greedy(llm) == reference_answer


def test_a_hundred_thousand_stop_strings(llm):
    stops = [f"zz{i}qq" for i in range(100_000)]
    with within(60):
        out = llm.create_completion("Hi", max_tokens=4, temperature=0, stop=stops)
    assert out["choices"][0]["finish_reason"] == "length"


# ---- lifecycle ----


def test_calls_after_close_raise(smollm2_path):
    m = Llama(str(smollm2_path), n_ctx=128, verbose=False)
    m.close()
    m.close()  # twice is harmless
    with pytest.raises(ValueError, match="closed"):
        m.create_completion("Hi", max_tokens=1)
    with pytest.raises(ValueError, match="closed"):
        m.eval([1, 2, 3])


def test_two_threads_on_one_llama_are_serialised(llm, reference_answer):
    results: list[str] = []
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(3):
                results.append(greedy(llm))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert results == [reference_answer] * 9


def test_keyboard_interrupt_during_a_long_prompt_leaves_the_model_usable(smollm2_path):
    m = Llama(str(smollm2_path), n_ctx=4096, n_batch=64, verbose=False)
    expected = greedy(m)
    long_prompt = "word " * 3000
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in range(50):  # the interrupt lands during one of these evaluations
                m.create_completion(long_prompt, max_tokens=1)
                m.reset()
    finally:
        timer.cancel()
    assert greedy(m) == expected
    m.close()


# ---- model files that parse but lie ----


@pytest.fixture(scope="module")
def smollm2_file(smollm2_path) -> GGUFFile:
    return GGUFFile(smollm2_path)


def lying_copy(src: GGUFFile, path: Path, meta=None, drop=(), tensors=None) -> Path:
    """src rewritten with metadata keys replaced (None: removed), tensors dropped or replaced by arrays."""
    meta, tensors = meta or {}, tensors or {}
    w = GGUFWriter(path, alignment=src.alignment, version=src.version)
    for k, v in src.metadata.items():
        if k == "general.alignment" or (k in meta and meta[k] is None):
            continue
        if k in meta:
            w.add(k, meta[k])
        else:
            w.add(k, v, src.metadata_types[k])
    for t in src.tensors.values():
        if t.name in drop:
            continue
        if t.name in tensors:
            w.add_tensor(t.name, tensors[t.name])
        else:
            w.add_tensor(t.name, t.data, type=t.type, shape=t.shape)
    return w.write()


LIES = {
    "zero heads": ({"llama.attention.head_count": 0}, "head_count|n_head"),
    "zero kv heads": ({"llama.attention.head_count_kv": 0}, "head_count_kv"),
    "absurd heads": ({"llama.attention.head_count": 2**31}, "head_count|n_head"),
    "heads do not divide": ({"llama.attention.head_count": 7}, "head_count"),
    "embedding length disagrees": ({"llama.embedding_length": 640}, "embedding_length|columns|shape"),
    "no layers": ({"llama.block_count": 0}, "block_count"),
    "more layers than tensors": ({"llama.block_count": 31}, "blk.30"),
    "missing hyperparameter": ({"llama.embedding_length": None}, "embedding_length"),
    "rope dims beyond head": ({"llama.rope.dimension_count": 4096}, "rope|n_dims|dimension_count"),
    "nan epsilon": ({"llama.attention.layer_norm_rms_epsilon": float("nan")}, "eps|epsilon"),
}


@pytest.mark.parametrize("case", list(LIES), ids=list(LIES))
def test_lying_metadata_is_a_value_error_naming_the_field(smollm2_file, tmp_path, case):
    meta, field = LIES[case]
    path = lying_copy(smollm2_file, tmp_path / "lie.gguf", meta=meta)
    with within(30), pytest.raises(ValueError, match=field):
        Llama(str(path), n_ctx=128, verbose=False)


def test_absurd_training_context_is_harmless(smollm2_file, tmp_path):
    path = lying_copy(smollm2_file, tmp_path / "ctx.gguf", meta={"llama.context_length": 2**40})
    m = Llama(str(path), n_ctx=128, verbose=False)  # n_ctx is ours; the claimed 2**40 is never allocated
    assert m.n_ctx() == 128
    m.close()


def test_missing_tensor_is_named(smollm2_file, tmp_path):
    path = lying_copy(smollm2_file, tmp_path / "miss.gguf", drop={"blk.3.attn_q.weight"})
    with pytest.raises(ValueError, match="blk.3.attn_q.weight"):
        Llama(str(path), n_ctx=128, verbose=False)


@pytest.mark.parametrize(
    "name, array",
    [
        ("blk.0.attn_q.weight", np.zeros((192, 576), np.float32)),  # wrong shape for its role
        ("blk.0.attn_norm.weight", np.zeros(100, np.float32)),
        ("token_embd.weight", np.zeros((10, 576), np.float32)),  # fewer rows than the vocabulary
    ],
)
def test_tensor_of_the_wrong_shape_is_named(smollm2_file, tmp_path, name, array):
    path = lying_copy(smollm2_file, tmp_path / "shape.gguf", tensors={name: array})
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        m = Llama(str(path), n_ctx=128, verbose=False)
        m.create_completion("Hi", max_tokens=1)  # a check deferred to the first graph still names the tensor


# ---- memory ----


@pytest.mark.parametrize("kwargs", [{"n_ctx": 2**40}, {"n_ctx": 2**33}])
def test_context_that_cannot_fit_names_the_bytes_before_allocating(smollm2_path, kwargs):
    with within(30), pytest.raises(ValueError, match="bytes|GiB|TiB"):
        Llama(str(smollm2_path), verbose=False, **kwargs)


def test_huge_batch_is_clamped_not_allocated(smollm2_path):
    m = Llama(str(smollm2_path), n_ctx=256, n_batch=2**40, verbose=False)
    assert greedy(m)
    m.close()


# ---- chat templates from model metadata ----

ESCAPES = {
    "globals walk": "{{ self.__init__.__globals__ }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler os": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "namespace globals": "{{ namespace.__init__.__globals__ }}",
    "function globals": "{{ strftime_now.__globals__['datetime'] }}",
    "string repeat": "{{ 'a' * 10**9 }}",
    "list repeat": "{{ ([1] * 10**8) | length }}",
    "huge range": "{% for i in range(10**9) %}x{% endfor %}",
    "nested loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "concat doubling": "{% set ns = namespace(x='a') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}"
    "{% endfor %}{{ ns.x | length }}",
    "plus doubling": "{% set ns = namespace(x='a') %}{% for i in range(60) %}{% set ns.x = ns.x + ns.x %}"
    "{% endfor %}{{ ns.x | length }}",
    "format doubling": "{% set ns = namespace(x='a') %}{% for i in range(60) %}"
    "{% set ns.x = '{}{}'.format(ns.x, ns.x) %}{% endfor %}{{ ns.x | length }}",
    "join doubling": "{% set ns = namespace(x=['ab']) %}{% for i in range(60) %}"
    "{% set ns.x = [ns.x | join(''), ns.x | join('')] %}{% endfor %}{{ ns.x | length }}",
    "replace bomb": "{% set ns = namespace(x='aaaaaaaaaa') %}{% for i in range(40) %}"
    "{% set ns.x = ns.x | replace('a', ns.x) %}{% endfor %}{{ ns.x | length }}",
    "center filter": "{{ 'a' | center(10**9) }}",
    "center method": "{{ 'a'.center(10**9) }}",
    "format width": "{{ '{:>1000000000}'.format('a') }}",
    "percent width": "{{ '%01000000000d' % 1 }}",
    "percent star": "{{ '%0*d' % (1000000000, 1) }}",
}


@pytest.mark.parametrize("source", list(ESCAPES.values()), ids=list(ESCAPES))
def test_hostile_chat_templates_are_refused_or_stopped(source):
    with within(10), pytest.raises(ChatTemplateError):
        ChatTemplate(source).render([{"role": "user", "content": "hi"}])


def test_ordinary_template_features_still_work():
    src = (
        "{% for m in messages %}{{ m.role ~ ': ' ~ m.content }}\n{% endfor %}"
        "{{ '%d|%s' % (5, 'x') }}{{ 'ab' * 3 }}{{ [1, 2] + [3] }}{{ '{}-{}'.format(1, 2) }}{{ 'a' | center(5) }}"
    )
    out = ChatTemplate(src).render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    assert out == "user: hi\nassistant: yo\n5|xababab[1, 2, 3]1-2  a  "


def test_hostile_template_in_a_model_file_is_a_clear_error(smollm2_file, tmp_path, reference_answer):
    path = lying_copy(smollm2_file, tmp_path / "tpl.gguf", meta={"tokenizer.chat_template": ESCAPES["nested loops"]})
    m = Llama(str(path), n_ctx=128, verbose=False)
    with within(20), pytest.raises(ValueError, match="chat template"):
        m.create_chat_completion([{"role": "user", "content": "hi"}], max_tokens=1)
    assert greedy(m) == reference_answer
    m.close()
