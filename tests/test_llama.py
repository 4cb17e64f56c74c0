"""The Llama class against a small fake engine and tokenizer, so its logic (prefix reuse, stop strings, streaming,
result shapes, errors) is tested exactly and fast. test_llama_real.py runs the same API on the real models."""

from __future__ import annotations

import time

import numpy as np
import pytest

from llamacore.llama import Llama

BOS, EOS, IM_START, IM_END = 256, 257, 258, 259
SPECIAL = {BOS: b"<s>", EOS: b"</s>", IM_START: b"<|im_start|>", IM_END: b"<|im_end|>"}
N_VOCAB = 260
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class FakeTokenizer:
    """Bytes are tokens 0..255; four control tokens after them."""

    def __init__(self, add_bos: bool = True):
        self.add_bos = add_bos

    def n_vocab(self) -> int:
        return N_VOCAB

    def token_bos(self) -> int:
        return BOS

    def token_eos(self) -> int:
        return EOS

    def is_eog(self, t: int) -> bool:
        return t in (EOS, IM_END)

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        out = [BOS] if add_bos and self.add_bos else []
        i = 0
        while i < len(text):
            for tid, s in SPECIAL.items():
                if special and text.startswith(s, i):
                    out.append(tid)
                    i += len(s)
                    break
            else:
                out.append(text[i])
                i += 1
        return out

    def detokenize(self, tokens, special: bool = False) -> bytes:
        return b"".join(bytes([t]) if t < 256 else (SPECIAL[t] if special else b"") for t in tokens)


class FakeEngine:
    """A 'model' that knows one script: after n tokens it strongly predicts script[n % len(script)]. It keeps the
    tokens of its cache by position and insists that every decode continues the cache exactly (as a real KV cache
    needs), so Llama's prefix reuse and truncation are checked. Logits also carry seeded noise."""

    def __init__(self, script: list[int], n_ctx: int = 64, strength: float = 8.0, delay: float = 0.0, policy=None):
        self.script = script
        self.n_ctx = n_ctx
        self.strength = strength
        self.delay = delay  # seconds per decode call, to interrupt a slow answer
        self.policy = policy  # optional: cache tokens -> the favoured next token (instead of the script)
        self.cache: list[int] = []
        self.decoded = 0  # tokens evaluated, for prefix-reuse tests
        self.closed = False

    def _row(self, n: int) -> np.ndarray:
        row = np.random.default_rng(n).standard_normal(N_VOCAB).astype(np.float32)
        favoured = self.policy(self.cache[:n]) if self.policy else self.script[n % len(self.script)]
        row[favoured] += self.strength
        return row

    def decode(self, tokens, positions, seq_id=0, logits_all=False):
        assert not self.closed
        if self.delay:
            time.sleep(self.delay)
        tokens, positions = np.asarray(tokens), np.asarray(positions)
        assert tokens.dtype == np.int32 and positions.dtype == np.int32
        assert list(positions) == list(range(len(self.cache), len(self.cache) + len(tokens))), "cache not continued"
        assert len(self.cache) + len(tokens) <= self.n_ctx
        rows = []
        for t in tokens:
            self.cache.append(int(t))
            rows.append(self._row(len(self.cache)))
        self.decoded += len(tokens)
        return np.stack(rows if logits_all else rows[-1:])

    def kv_truncate(self, seq_id: int, n_keep: int) -> None:
        del self.cache[n_keep:]

    def kv_clear(self, seq_id: int = -1) -> None:
        self.cache.clear()

    def close(self) -> None:
        self.closed = True


def make_llama(script: bytes | list[int] = b"Hello world. The end.", *, n_ctx=64, add_bos=True, template=CHATML,
               strength=8.0, delay=0.0, policy=None, **options) -> tuple[Llama, FakeEngine]:  # fmt: skip
    script = list(script)
    engines = []

    def factory(n_ctx_, n_batch, n_threads):
        engines.append(FakeEngine(script, n_ctx_, strength, delay, policy))
        return engines[-1]

    tokens = [chr(i) if 32 <= i < 127 else f"<0x{i:02X}>" for i in range(256)] + [s.decode() for s in SPECIAL.values()]
    metadata = {
        "general.architecture": "llama",
        "general.name": "fake",
        "llama.context_length": 128,
        "llama.embedding_length": 8,
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.bos_token_id": BOS,
        "tokenizer.ggml.eos_token_id": EOS,
    }
    if template is not None:
        metadata["tokenizer.chat_template"] = template
    options.setdefault("verbose", False)
    llm = Llama._from_parts(
        metadata=metadata, tokenizer=FakeTokenizer(add_bos), engine_factory=factory, n_ctx=n_ctx, **options
    )
    return llm, engines[0]


def greedy_text(script: bytes, prompt_len: int, n: int) -> str:
    """What the fake model says greedily after a prompt of prompt_len tokens."""
    return "".join(chr(script[(prompt_len + i) % len(script)]) for i in range(n))


# ---- construction and basic facts -------------------------------------------------------------------------------


def test_facts_and_defaults():
    llm, _ = make_llama(n_ctx=None)
    assert llm.n_ctx() == 128  # min(4096, n_ctx_train)
    assert llm.n_vocab() == N_VOCAB and llm.n_embd() == 8
    assert llm.token_bos() == BOS and llm.token_eos() == EOS
    assert llm.chat_format == "chat_template.default"
    assert llm.metadata["llama.context_length"] == "128"
    assert "tokenizer.ggml.tokens" not in llm.metadata  # arrays are left out, as llama-cpp-python does
    assert make_llama(n_ctx=0)[0].n_ctx() == 128
    assert make_llama(n_ctx=32, n_batch=512)[0].n_batch == 32  # n_batch clamped to n_ctx


@pytest.mark.parametrize(
    "options, match",
    [
        ({"n_ctx": -5}, "n_ctx"),
        ({"n_batch": 0}, "n_batch"),
        ({"n_threads": 0}, "n_threads"),
        ({"last_n_tokens_size": -1}, "last_n_tokens_size"),
    ],
)
def test_bad_constructor_arguments(options, match):
    with pytest.raises(ValueError, match=match):
        make_llama(**options)


def test_tokenize_detokenize():
    llm, _ = make_llama()
    assert llm.tokenize(b"hi") == [BOS, ord("h"), ord("i")]
    assert llm.tokenize(b"hi", add_bos=False) == [ord("h"), ord("i")]
    assert llm.tokenize(b"<|im_end|>", add_bos=False, special=True) == [IM_END]
    assert llm.detokenize([BOS, ord("h"), ord("i")]) == b"hi"
    assert llm.detokenize([IM_END], special=True) == b"<|im_end|>"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        llm.detokenize([N_VOCAB])
    tok = llm.tokenizer()
    assert tok.decode(tok.encode("abc", add_bos=False)) == "abc"


# ---- eval, scores, prefix reuse -----------------------------------------------------------------------------------


def test_eval_scores_and_reset():
    llm, eng = make_llama(n_batch=3)
    llm.eval([BOS, 1, 2, 3, 4])
    assert llm.n_tokens == 5 and list(llm.input_ids) == [BOS, 1, 2, 3, 4]
    assert llm.scores.shape == (1, N_VOCAB)
    np.testing.assert_array_equal(llm.scores[0], eng._row(5))
    llm.reset()
    assert llm.n_tokens == 0
    llm.eval([BOS, 9])  # after reset the engine's cache is trimmed before decoding at position 0
    assert eng.cache == [BOS, 9]


def test_logits_all_scores():
    llm, eng = make_llama(logits_all=True, n_batch=2)
    llm.eval([BOS, 5, 6, 7, 8])
    assert llm.scores.shape == (5, N_VOCAB)
    for i in range(5):
        np.testing.assert_array_equal(llm.scores[i], eng._row(i + 1))


def test_eval_past_context_raises():
    llm, _ = make_llama(n_ctx=8)
    with pytest.raises(ValueError, match=r"Requested tokens \(9\) exceed context window of 8"):
        llm.eval(list(range(9)))


def test_prefix_reuse_evaluates_only_the_new_tokens():
    script = b"abcdefghijklmnopqrstuvwxyz" * 2
    llm, eng = make_llama(script)
    first = llm("Once upon", max_tokens=4, temperature=0)
    assert eng.decoded == 10 + 3  # prompt (BOS + 9 bytes), then 3 of the 4 generated tokens (the last is never fed)
    before = eng.decoded
    second = llm("Once upon a time", max_tokens=4, temperature=0)
    # the shared prefix "<s>Once upon" (10 tokens) is reused; only " a time" (7) and 3 generated tokens are new
    assert eng.decoded - before == 7 + 3
    assert second["choices"][0]["text"] == greedy_text(script, 17, 4)
    assert first["choices"][0]["text"] == greedy_text(script, 10, 4)
    # the same prompt again: all of it is cached, with the logits after its end: nothing of it is evaluated
    before = eng.decoded
    third = llm("Once upon a time", max_tokens=4, temperature=0)
    assert eng.decoded - before == 0 + 3
    assert third["choices"][0]["text"] == second["choices"][0]["text"]
    # a shorter prompt that the cache holds, whose end logits were not kept: its last token is fed again
    before = eng.decoded
    assert llm("Once upon", max_tokens=4, temperature=0)["choices"][0]["text"] == first["choices"][0]["text"]
    assert eng.decoded - before == 1 + 3
    # and back to the longer one: the kept end logits now belong to "Once upon", so " a time" is evaluated
    before = eng.decoded
    assert llm("Once upon a time", max_tokens=4, temperature=0)["choices"][0]["text"] == third["choices"][0]["text"]
    assert eng.decoded - before == 7 + 3


def test_generate_reuses_prefix_and_accepts_reset_false():
    script = b"0123456789"
    llm, eng = make_llama(script)
    gen = llm.generate([BOS, 1, 2], temp=0)
    got = [next(gen) for _ in range(3)]
    assert got == [ord(c) for c in greedy_text(script, 3, 3)]
    gen.close()
    assert list(llm.input_ids) == [BOS, 1, 2, *got[:2]]
    gen = llm.generate([9], temp=0, reset=False)  # appended after the current state
    assert next(gen) == script[6 % 10]


def test_stopping_criteria_and_logits_processor():
    llm, _ = make_llama(b"aaaaaaaaaa")

    def ban_a(input_ids, scores):
        scores = scores.copy()
        scores[ord("a")] = -np.inf
        return scores

    out = llm("x", max_tokens=5, temperature=0, logits_processor=[ban_a])
    assert "a" not in out["choices"][0]["text"] and out["usage"]["completion_tokens"] == 5
    out = llm("x", max_tokens=10, temperature=0, stopping_criteria=lambda ids, logits: len(ids) >= 5)
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["completion_tokens"] == 3  # tokens at positions 2, 3, 4 (the prompt is BOS x)


# ---- completions ------------------------------------------------------------------------------------------------


def test_completion_result_shape():
    llm, _ = make_llama(b"Hello world. The end.")
    out = llm("Hi", max_tokens=5, temperature=0)
    assert set(out) == {"id", "object", "created", "model", "choices", "usage"}
    assert out["id"].startswith("cmpl-") and out["object"] == "text_completion"
    assert isinstance(out["created"], int) and out["model"] == "model.gguf"
    assert out["choices"] == [
        {"text": greedy_text(b"Hello world. The end.", 3, 5), "index": 0, "logprobs": None, "finish_reason": "length"}
    ]
    assert out["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert llm.create_completion("Hi", max_tokens=5, temperature=0, model="m")["model"] == "m"


def test_stop_at_eog_token():
    llm, _ = make_llama(list(b"abcdef") + [IM_END] + list(b"ghij"))
    out = llm([BOS], max_tokens=20, temperature=0)  # prompt of 1 token: the model says "bcdef" then <|im_end|>
    assert out["choices"][0]["text"] == "bcdef"
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["completion_tokens"] == 5


@pytest.mark.parametrize(
    "stop, text",
    [
        (["world"], "Hello "),
        ("o", "Hell"),
        (["xyz", " w"], "Hello"),
        (["end.", "lo w"], "Hel"),  # the earliest stop string wins, whatever its place in the list
        (["The end. And"], "Hello world. The end."),  # a stop-string prefix that never completes is shown at the end
        ([""], "Hello world. The end."),  # empty stop strings are ignored
    ],
)
def test_stop_strings(stop, text):
    script = b"xHello world. The end."
    llm, _ = make_llama(script + b"\x00" * 40, add_bos=False)
    out = llm("x", max_tokens=len(script) - 1, temperature=0, stop=stop)
    assert out["choices"][0]["text"] == text
    assert out["choices"][0]["finish_reason"] == ("stop" if text != "Hello world. The end." else "length")


def test_stream_never_shows_part_of_a_stop_string():
    script = b"xab<ab<ab<STOP>tail"
    llm, _ = make_llama(script + b"\x00" * 40, add_bos=False)
    chunks = list(llm("x", max_tokens=30, temperature=0, stop=["<STOP>"], stream=True))
    texts = [c["choices"][0]["text"] for c in chunks]
    assert "".join(texts) == "ab<ab<ab"
    shown = ""
    for t in texts:
        shown += t
        assert "<STOP" not in shown and not shown.endswith("<ab<ab<S")
    assert chunks[-1]["choices"][0] == {"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    for c in chunks:
        assert c["object"] == "text_completion" and c["id"] == chunks[0]["id"] and "usage" not in c


def test_utf8_is_never_split():
    text = "héllo wörld ✓ 🙂".encode()
    llm, _ = make_llama(b"x" + text + b"\x00" * 40, add_bos=False)
    chunks = list(llm("x", max_tokens=len(text), temperature=0, stream=True))
    pieces = [c["choices"][0]["text"] for c in chunks]
    assert "".join(pieces) == text.decode()
    assert all("\ufffd" not in p for p in pieces)
    # a stop string made of multi-byte characters
    out = llm("x", max_tokens=len(text), temperature=0, stop=["✓"])
    assert out["choices"][0]["text"] == "héllo wörld "


def test_invalid_utf8_becomes_replacement_and_trailing_partial_is_dropped():
    llm, _ = make_llama(b"xab\xffcd\xe2\x9c" + b"\x00" * 40, add_bos=False)
    out = llm("x", max_tokens=7, temperature=0)
    assert out["choices"][0]["text"] == "ab\ufffdcd"  # the last two bytes start a 3-byte character that never ends


def test_stream_equals_non_stream_with_seed():
    llm, _ = make_llama(b"The quick brown fox jumps over the lazy dog. " * 2, strength=2.5)
    kw = dict(max_tokens=30, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=1234)
    a = llm("The", **kw)["choices"][0]["text"]
    b = "".join(c["choices"][0]["text"] for c in llm("The", stream=True, **kw))
    c = llm("The", **{**kw, "seed": 99})["choices"][0]["text"]
    assert a == b
    assert a != c  # with this weak a 'model', another seed draws other tokens


def test_seeded_llama_reproducible_across_instances():
    kw = dict(max_tokens=20, temperature=1.5, top_k=0, top_p=1.0, min_p=0.0)
    texts = [make_llama(strength=1.0, seed=7)[0]("a", **kw)["choices"][0]["text"] for _ in range(2)]
    assert texts[0] == texts[1]


def test_echo_and_logprobs():
    script = b"xyzHello world"
    llm, eng = make_llama(script + b"\x00" * 40, add_bos=False, logits_all=True)
    out = llm("xyz", max_tokens=5, temperature=0, echo=True, logprobs=2)
    ch = out["choices"][0]
    assert ch["text"] == "xyzHello"
    lp = ch["logprobs"]
    assert lp["tokens"] == list("xyzHello")
    assert lp["text_offset"] == list(range(8))
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    # generated token 'H' was predicted after 3 tokens
    row = eng._row(3)
    ref = row - np.log(np.exp(row - row.max()).sum()) - row.max()
    assert lp["token_logprobs"][3] == pytest.approx(float(ref[ord("H")]), abs=1e-4)
    assert len(lp["top_logprobs"][3]) == 2 and "H" in lp["top_logprobs"][3]


def test_logprobs_without_logits_all_for_generated_tokens():
    llm, _ = make_llama(b"xHello world" + b"\x00" * 40, add_bos=False)
    out = llm("x", max_tokens=4, temperature=0, logprobs=1)
    lp = out["choices"][0]["logprobs"]
    assert lp["tokens"] == list("Hell") and lp["text_offset"] == [1, 2, 3, 4]  # offsets count the prompt
    assert all(v <= 0 for v in lp["token_logprobs"])
    with pytest.raises(ValueError, match="logits_all"):
        llm("x", max_tokens=4, echo=True, logprobs=1)


def test_max_tokens_until_context_full():
    llm, _ = make_llama(b"abc", n_ctx=16, add_bos=False)
    for mt in (None, 0, -1):
        out = llm("ab", max_tokens=mt, temperature=0)
        assert out["usage"]["completion_tokens"] == 14 and out["choices"][0]["finish_reason"] == "length"
    out = llm("ab", max_tokens=100, temperature=0)
    assert out["usage"]["total_tokens"] == 16


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"max_tokens": -2}, ValueError, "max_tokens"),
        ({"max_tokens": 1.5}, TypeError, "max_tokens"),
        ({"top_p": 1.5}, ValueError, "top_p"),
        ({"top_p": -0.1}, ValueError, "top_p"),
        ({"min_p": 2.0}, ValueError, "min_p"),
        ({"temperature": -1.0}, ValueError, "temperature"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"repeat_penalty": 0.0}, ValueError, "repeat_penalty"),
        ({"seed": -5}, ValueError, "seed"),
        ({"logprobs": -1}, ValueError, "logprobs"),
        ({"stop": [3]}, TypeError, "stop"),
        ({"logit_bias": {999: 1.0}}, ValueError, "vocabulary"),
        ({"mirostat_mode": 3}, ValueError, "mirostat"),
        ({"grammar": object()}, TypeError, "grammar"),
        ({"suffix": "x"}, ValueError, "fill-in-the-middle"),
    ],
)
def test_bad_completion_arguments(kwargs, error, match):
    llm, _ = make_llama()
    with pytest.raises(error, match=match):
        out = llm("Hi", **kwargs)
        list(out) if not isinstance(out, dict) else None


def test_errors_raise_at_call_time_even_when_streaming():
    llm, _ = make_llama()
    with pytest.raises(ValueError, match="top_p"):
        llm("Hi", top_p=3, stream=True)  # not only when the iterator is consumed


def test_prompt_longer_than_context():
    llm, _ = make_llama(n_ctx=8)
    with pytest.raises(ValueError, match=r"Requested tokens \(11\) exceed context window of 8"):
        llm("0123456789")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        llm([1, 2, N_VOCAB + 3])


def test_empty_prompt():
    llm, _ = make_llama(b"abcdef")
    assert llm("", max_tokens=2, temperature=0)["usage"]["prompt_tokens"] == 1  # BOS
    llm, _ = make_llama(add_bos=False)
    with pytest.raises(ValueError, match="empty"):
        llm("")


def test_unknown_and_unsupported_constructor_arguments():
    from llamacore.llama import _check_extra_args

    _check_extra_args({"n_gpu_layers": -1, "main_gpu": 0, "use_mmap": False, "flash_attn": True, "lora_path": None})
    with pytest.raises(NotImplementedError, match="lora_path"):
        _check_extra_args({"lora_path": "x.gguf"})
    with pytest.raises(TypeError, match="n_ctxx"):
        _check_extra_args({"n_ctxx": 5})


def test_vocab_only_and_closed():
    llm, _ = make_llama()
    vocab = Llama._from_parts(metadata=llm._metadata, tokenizer=FakeTokenizer(), engine_factory=None, verbose=False)
    assert vocab.tokenize(b"a") == [BOS, ord("a")]
    with pytest.raises(ValueError, match="vocab_only"):
        vocab("a")
    llm.close()
    with pytest.raises(ValueError, match="closed"):
        llm("a")


# ---- chat -------------------------------------------------------------------------------------------------------


def test_chat_completion_shape_and_prompt():
    answer = b"Hi there!"
    prompt = b"<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    n_prompt = len(FakeTokenizer(add_bos=False).tokenize(prompt, special=True))
    script = [0] * n_prompt + list(answer) + [IM_END] + [0] * 20
    llm, eng = make_llama(script, add_bos=False)
    out = llm.create_chat_completion([{"role": "user", "content": "Hello"}], temperature=0)
    assert out["id"].startswith("chatcmpl-") and out["object"] == "chat.completion"
    message = {"role": "assistant", "content": "Hi there!"}
    assert out["choices"] == [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}]
    assert out["usage"] == {"prompt_tokens": n_prompt, "completion_tokens": 9, "total_tokens": n_prompt + 9}
    assert FakeTokenizer(False).detokenize(eng.cache[:n_prompt], special=True) == prompt


def test_chat_stream_chunks():
    prompt = b"<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    n_prompt = len(FakeTokenizer(False).tokenize(prompt, special=True))
    script = [0] * n_prompt + list(b"Hey") + [IM_END] + [0] * 20
    llm, _ = make_llama(script, add_bos=False)
    chunks = list(llm.create_chat_completion([{"role": "user", "content": "Hello"}], temperature=0, stream=True))
    first = {"index": 0, "delta": {"role": "assistant"}, "logprobs": None, "finish_reason": None}
    assert chunks[0]["choices"][0] == first
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Hey"
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    for c in chunks:
        assert c["object"] == "chat.completion.chunk" and c["id"].startswith("chatcmpl-")
        assert set(c) == {"id", "model", "created", "object", "choices"}


def test_chat_bos_added_once_and_template_stop_token():
    # no GGUF template: the chatml format is guessed from the vocabulary; its stop string <|im_end|> is one control
    # token, which ends the turn even where the tokenizer does not call it end-of-generation.
    llm, eng = make_llama(template=None, add_bos=True)
    assert llm.chat_format == "chatml"
    tokens = llm._chat_prompt_tokens(llm.apply_chat_template([{"role": "user", "content": "x"}]))
    assert tokens[0] == BOS and tokens[1] == IM_START and tokens.count(BOS) == 1
    assert llm._stop_tokens(["<|im_end|>", "abc"]) == [IM_END]


def test_chat_errors():
    llm, _ = make_llama()
    from llamacore.chat import ChatTemplateError

    with pytest.raises(ChatTemplateError, match="messages"):
        llm.create_chat_completion([])
    with pytest.raises(ChatTemplateError):
        llm.create_chat_completion("hello")
    with pytest.raises(ValueError, match="response_format"):
        llm.create_chat_completion([{"role": "user", "content": "x"}], response_format={"type": "xml"})
    with pytest.raises(ValueError, match="unknown chat_format"):
        make_llama(chat_format="nope")
    assert (
        make_llama(chat_format="gemma")[0]
        .apply_chat_template([{"role": "user", "content": "x"}])
        .startswith("<s><start_of_turn>user\nx")
    )


def test_chat_logprobs_shape():
    llm, _ = make_llama(b"abcdefghijklmnopqrstuvwxyz" * 4)
    out = llm.create_chat_completion([{"role": "user", "content": "x"}], max_tokens=3, logprobs=True, top_logprobs=2)
    content = out["choices"][0]["logprobs"]["content"]
    assert len(content) == 3
    for e in content:
        assert set(e) == {"token", "bytes", "logprob", "top_logprobs"}
        assert all(set(t) == {"token", "logprob", "bytes"} for t in e["top_logprobs"])
