"""The generation core (engine/session.py, engine/generation.py) on the real models: two sequences advanced by one
decode_batch call per step, each stepping its own GenerationState, generate what each generates alone through
Llama; a token constraint is obeyed; the step state's events and finish reasons."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from llamacore.engine import Engine
from llamacore.engine.generation import GenerationState, TokenEvent, Vocab, stream_generate
from llamacore.engine.session import Session
from llamacore.llama import Llama
from llamacore.sampling import Sampler, SamplingParams, make_rng
from llamacore.tokenizer import Tokenizer

PROMPTS = ["The capital of France is", "def fibonacci(n):\n    "]
N_GEN = 20


def greedy_state(prompt: list[int], vocab: Vocab, **options) -> GenerationState:
    return GenerationState(prompt, Sampler(SamplingParams(temp=0.0), make_rng(0)), vocab, **options)


@pytest.mark.parametrize("model", ["smollm2_path", "gemma3_path"])
def test_two_sequences_in_one_decode_batch_match_single_generation(model, request):
    """Both sequences advance in ONE decode_batch call per step, each through its own GenerationState, and generate
    what each generates alone through Llama.generate. The engine's kernels for a one-row batch and a many-row batch
    sum in different orders (logits move by up to ~0.3 even for identical rows), so greedy paths may part at a
    near-tie: up to there the tokens are identical, and there the single run's own row must show the tie (the two
    choices within 1 nat, the batched one among its 5 best). A mixed-up row or position would break this at once."""
    path = request.getfixturevalue(model)
    with Llama(str(path), n_ctx=256, verbose=False) as llm:
        prompts = [llm.tokenize(p.encode(), add_bos=True, special=True) for p in PROMPTS]
        single, single_rows = [], []
        for p in prompts:
            rows: list[np.ndarray] = []
            gen = llm.generate(p, temp=0, logits_processor=[lambda ids, row, rows=rows: rows.append(row.copy()) or row])
            single.append([next(gen) for _ in range(N_GEN)])
            single_rows.append(rows)
            gen.close()
        vocab = Vocab(llm._tokenizer)
        detok = llm.detokenize
    with Engine(str(path), n_ctx=512, n_seq_max=2) as engine:
        states = [greedy_state(p, vocab, max_tokens=N_GEN, stop_at_eog=False) for p in prompts]
        # prompts: one call per sequence; then every step is ONE forward pass for both sequences
        rows = [engine.decode(p, np.arange(len(p)), seq_id=s)[0] for s, p in enumerate(prompts)]
        events: list[list[TokenEvent]] = [[], []]
        while True:
            for s, state in enumerate(states):
                events[s].append(state.step(rows[s]))
            live = [s for s in range(2) if events[s][-1].finish_reason is None]
            if not live:
                break
            toks = [events[s][-1].token for s in live]
            pos = [states[s].tokens.shape[0] - 1 for s in live]  # the new token's position
            out = engine.decode_batch(toks, pos, live, np.arange(len(live)))  # float32[len(live), n_vocab]
            for i, s in enumerate(live):
                rows[s] = out[i]
    agree = 0
    for s in range(2):
        got = [e.token for e in events[s]]
        assert events[s][-1].finish_reason == "length" and states[s].completion_tokens == got
        assert "".join(e.text for e in events[s]) == detok(got).decode("utf-8", "replace")
        d = Llama.longest_token_prefix(got, single[s])
        agree += d
        if d < N_GEN:
            lp = Llama.logits_to_logprobs(single_rows[s][d])
            assert got[d] in np.argsort(-lp)[:5].tolist(), (s, d)
            assert lp[single[s][d]] - lp[got[d]] < 1.0, (s, d)
    assert agree >= N_GEN, agree  # together at least one sequence's worth of identical tokens


class DigitsThenEnd:
    """A TokenConstraint (CONTRACTS.md): only tokens made of digits, n of them, then only end-of-generation."""

    def __init__(self, tokenizer: Tokenizer, n: int):
        n_vocab = tokenizer.n_vocab()
        texts = [tokenizer.token_to_piece(t) for t in range(n_vocab)]
        self.digits = np.array([bool(s) and s.isdigit() for s in texts])
        self.eog = np.zeros(n_vocab, dtype=bool)
        self.eog[list(tokenizer.eog_tokens())] = True
        self.n, self.seen = n, []

    def allowed(self):
        return self.eog if self.is_accepting() else self.digits

    def accept(self, token: int) -> None:
        if not self.allowed()[token]:
            raise ValueError(f"token {token} not allowed")
        self.seen.append(token)

    def is_accepting(self) -> bool:
        return len(self.seen) >= self.n

    def is_finished(self) -> bool:
        return False  # the end-of-generation token ends it


@pytest.mark.parametrize("temp", [0.0, 1.5])
def test_constraint_is_obeyed_and_ends_generation(smollm2_path, temp):
    tok = Tokenizer.from_gguf(smollm2_path)
    with Llama(str(smollm2_path), n_ctx=256, verbose=False) as llm:
        prompt = llm.tokenize(b"Write a long sentence about cats:", add_bos=True, special=True)
        c = DigitsThenEnd(tok, 5)
        sampler = Sampler(SamplingParams(temp=temp, top_k=0, top_p=1.0, min_p=0.0), make_rng(3))
        state = GenerationState(prompt, sampler, Vocab(tok), max_tokens=50, constraint=c)
        events = list(stream_generate(llm._session, state, prompt))
    text = "".join(e.text for e in events)
    assert len(c.seen) == 5 and state.completion_tokens == c.seen
    assert text.isdigit(), text
    assert events[-1].finish_reason == "stop" and events[-1].token is None  # the EOG token ends it, unshown


def test_constraint_finished_stops_after_its_token(smollm2_path):
    tok = Tokenizer.from_gguf(smollm2_path)

    class Two(DigitsThenEnd):
        def is_finished(self) -> bool:
            return len(self.seen) >= 2

    with Llama(str(smollm2_path), n_ctx=256, verbose=False) as llm:
        prompt = llm.tokenize(b"Numbers:", add_bos=True, special=True)
        state = greedy_state(prompt, Vocab(tok), max_tokens=50, constraint=Two(tok, 2))
        events = list(stream_generate(llm._session, state, prompt))
    assert len(events) == 2 and events[-1].finish_reason == "stop" and events[-1].token is not None
    assert "".join(e.text for e in events).isdigit()


def test_grammar_and_response_format_reach_the_grammar_module(smollm2_path, monkeypatch):
    """Llama turns grammar= and response_format= into the grammar module's TokenConstraint (CONTRACTS.md); a
    stand-in module is installed here so this checks the plumbing, whatever the grammar engine."""
    calls = []
    tok_holder = {}

    class LlamaGrammar:
        def constraint(self, tokenizer):
            calls.append(("grammar", None))
            return DigitsThenEnd(tokenizer, 3)

    def json_schema_constraint(schema, tokenizer):
        calls.append(("schema", schema))
        tok_holder["tok"] = tokenizer
        return DigitsThenEnd(tokenizer, 4)

    fake = types.ModuleType("llamacore.sampling.grammar")
    fake.__spec__ = types.SimpleNamespace(name=fake.__name__)
    fake.LlamaGrammar, fake.json_schema_constraint = LlamaGrammar, json_schema_constraint
    monkeypatch.setitem(sys.modules, "llamacore.sampling.grammar", fake)
    with Llama(str(smollm2_path), n_ctx=256, verbose=False) as llm:
        out = llm("Count:", grammar=LlamaGrammar(), max_tokens=20, temperature=0)
        assert out["choices"][0]["text"].isdigit() and out["usage"]["completion_tokens"] == 3
        assert out["choices"][0]["finish_reason"] == "stop"
        msgs = [{"role": "user", "content": "Give a number."}]
        schema = {"type": "integer"}
        rf = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
        ans = llm.create_chat_completion(msgs, response_format=rf, temperature=0)
        assert ans["choices"][0]["message"]["content"].isdigit() and ans["usage"]["completion_tokens"] == 4
        streamed = "".join(
            c["choices"][0]["delta"].get("content", "")
            for c in llm.create_chat_completion(msgs, response_format=rf, temperature=0, stream=True)
        )
        assert streamed == ans["choices"][0]["message"]["content"]
        llm.create_chat_completion(msgs, response_format={"type": "json_object"}, max_tokens=8)
        gen = llm.generate(llm.tokenize(b"Digits:"), temp=0, grammar=LlamaGrammar())
        assert all(llm.detokenize([next(gen)]).isdigit() for _ in range(3))
        gen.close()
        assert llm.detokenize([llm.sample(temp=0, response_format={"type": "json_object"})]).isdigit()
        with pytest.raises(TypeError, match="LlamaGrammar"):
            llm("x", grammar="root ::= [0-9]")
        with pytest.raises(ValueError, match="not both"):
            llm("x", grammar=LlamaGrammar(), response_format={"type": "json_object"})
        with pytest.raises(ValueError, match="json_schema"):
            llm.create_chat_completion(msgs, response_format={"type": "json_schema"})
        with pytest.raises(ValueError, match="type"):
            llm.create_chat_completion(msgs, response_format={"type": "xml"})
    assert [k for k, _ in calls] == ["grammar", "schema", "schema", "schema", "grammar", "schema"]
    assert calls[1][1] == schema and calls[3][1] is None  # json_object without a schema: any object
    assert tok_holder["tok"] is llm._tokenizer


def test_session_push_records_rows_from_decode_batch(smollm2_path):
    """A server slot: its Session records tokens evaluated by decode_batch, then prefix reuse still works."""
    with Engine(str(smollm2_path), n_ctx=256, n_seq_max=2) as engine:
        vocab_size = engine.n_vocab
        s = Session(engine, n_vocab=vocab_size, n_ctx=engine.n_ctx_seq, n_batch=engine.n_batch, seq_id=1)
        s.prepare([1, 504, 3458, 282])
        row = engine.decode_batch([30], [4], [1], [0])[0]
        s.push(30, row)
        assert s.tokens.tolist() == [1, 504, 3458, 282, 30] and np.array_equal(s.logits, row)
        assert s.prepare([1, 504, 3458, 282, 30]) == 5  # all of it cached with its logits: nothing evaluated
        with Engine(str(smollm2_path), n_ctx=128) as alone:
            alone.decode([1, 504, 3458, 282], np.arange(4))
            ref = alone.decode([30], [4])[0]  # the same split: prompt, then one token
        np.testing.assert_allclose(row, ref, atol=1e-4)


def test_step_state_events_on_a_fake_row():
    """Limits, stop tokens, stop strings and the finished state, with hand-made logits rows."""

    class Tok:
        def detokenize(self, tokens, special=False):
            return b"".join(b"<e>" if t == 9 else bytes([97 + t]) for t in tokens)  # 0 -> a, 1 -> b, ...

        def is_eog(self, t):
            return t == 9

    def row(t: int) -> np.ndarray:
        r = np.zeros(10, dtype=np.float32)
        r[t] = 10.0
        return r

    st = greedy_state([0], Vocab(Tok()), max_tokens=2)
    assert st.step(row(1)) == TokenEvent(1, "b", None, None)
    assert st.step(row(2)) == TokenEvent(2, "c", None, "length")
    with pytest.raises(RuntimeError, match="finished"):
        st.step(row(3))
    st = greedy_state([0], Vocab(Tok()), stop=["cd"], stop_tokens=[5])
    assert [st.step(row(t)).text for t in (1, 2)] == ["b", ""]  # "c" may start "cd"
    assert st.step(row(3)) == TokenEvent(3, "", None, "stop") and st.completion_tokens == [1, 2, 3]
    st = greedy_state([0], Vocab(Tok()), stop=["cd"], stop_tokens=[5], logprobs=1, text_offset=1)
    st.step(row(2))
    ev = st.step(row(5))  # a stop token: not shown, the held "c" released with its logprob
    assert (ev.token, ev.text, ev.finish_reason) == (None, "c", "stop")
    assert ev.logprobs["tokens"] == ["c"] and ev.logprobs["text_offset"] == [1]
    st = greedy_state([0], Vocab(Tok()), max_tokens=0)
    assert st.step(row(1)) == TokenEvent(None, "", None, "length")
    st = greedy_state([0], Vocab(Tok()))
    assert st.step(row(9)).finish_reason == "stop" and st.completion_tokens == []
    assert greedy_state([0], Vocab(Tok()), stop_at_eog=False).step(row(9)).token == 9


# ---- the sampler options through the Llama API (the small fake model of test_llama.py) -------------------------


def test_llama_sampler_options():
    from test_llama import greedy_text, make_llama

    script = b"abc" * 30
    llm, _ = make_llama(script, add_bos=False)
    plain = llm("abc", max_tokens=15, temperature=0)["choices"][0]["text"]
    assert plain == greedy_text(script, 3, 15)
    # DRY: the model wants to repeat "abc" forever; the penalty grows with the repeat until another token wins
    dry_text = llm("abc", max_tokens=15, temperature=0, dry_multiplier=2.0, dry_allowed_length=2)["choices"][0]["text"]
    assert dry_text != plain and not dry_text.startswith("abcabcabc")
    # top-n-sigma 1: only the favoured token is within one sigma of the max, whatever the temperature
    sigma = llm("abc", max_tokens=15, temperature=1.5, top_k=0, top_p=1, min_p=0, top_n_sigma=1.0, seed=3)
    assert sigma["choices"][0]["text"] == plain
    # mirostat: seeded, reproducible, and another seed draws otherwise (a weak model)
    weak, _ = make_llama(b"The quick brown fox jumps over the lazy dog. " * 2, strength=1.0)
    kw = dict(max_tokens=20, temperature=1.0, mirostat_mode=2, mirostat_tau=8.0, mirostat_eta=0.2)
    a = weak("The", seed=5, **kw)["choices"][0]["text"]
    assert a == weak("The", seed=5, **kw)["choices"][0]["text"]
    assert a != weak("The", seed=6, **kw)["choices"][0]["text"]
    v1 = {**kw, "mirostat_mode": 1}
    assert weak("The", seed=5, **v1)["choices"][0]["text"] == weak("The", seed=5, **v1)["choices"][0]["text"]
    # XTC and a custom order are accepted everywhere; chat and generate too
    order = "penalties;top_k;xtc;temperature"
    msgs = [{"role": "user", "content": "x"}]
    out = llm.create_chat_completion(msgs, max_tokens=4, xtc_probability=0.5, xtc_threshold=0.1, samplers=order)
    assert out["usage"]["completion_tokens"] == 4
    gen = llm.generate(llm.tokenize(b"abc", add_bos=False), temp=0, dry_multiplier=2.0, samplers=["dry", "top_k"])
    assert bytes(next(gen) for _ in range(3)) == b"abc"  # repeats this short cost less than the model's preference
    gen.close()
    assert isinstance(llm.sample(temp=0.5, min_keep=3, top_n_sigma=2.0), int)
    with pytest.raises(ValueError, match="unknown sampler"):
        llm("abc", samplers="top_k;bogus")
    with pytest.raises(TypeError, match="nope"):
        llm.generate([1], nope=1)
    with pytest.raises(ValueError, match="xtc_probability"):
        llm("abc", xtc_probability=2.0, stream=True)
