"""The generation loop's cost outside the forward pass, and decode tokens/s through the Llama API.

    python benchmarks/bench_generate.py [--threads 2] [--tokens 128] [--reps 3] [--models smollm2 gemma3]

Per model:
  step us/token : GenerationState.step on real logits rows (recorded from a generation; no forward pass in the
                  timing) for several sampler settings: the sampler chain, stop detection, text streaming, logprobs.
  forward ms    : one single-token Engine.decode (the forward pass itself), for scale.
  Llama tg t/s  : create_completion(max_tokens=N) end to end (prompt cached, end-of-generation tokens banned so every
                  run makes N tokens), and the time per token spent outside Engine.decode during it (the calls
                  are timed as they happen): what the API adds around the forward pass.
Prints figures (best of --reps); asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from llamacore.engine.generation import GenerationState, stream_generate
from llamacore.llama import Llama
from llamacore.sampling import Sampler, SamplingParams, make_rng

MODELS = {"smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf", "gemma3": "gemma-3-270m-q4_k_m.gguf"}
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."

SETTINGS: dict[str, dict] = {
    "greedy (temp 0)": dict(temp=0.0),
    "default chain (top_k 40, top_p .95, min_p .05, temp .8)": dict(),
    "+ repeat/freq/presence penalties": dict(repeat_penalty=1.1, frequency_penalty=0.2, presence_penalty=0.2),
    "+ DRY (multiplier .8, whole context)": dict(dry_multiplier=0.8),
    "top_k 0 (whole vocabulary to top_p)": dict(top_k=0),
    "top_n_sigma 1 + XTC (p .5, t .1)": dict(top_n_sigma=1.0, xtc_probability=0.5, xtc_threshold=0.1),
    "mirostat v2": dict(mirostat=2),
    "mirostat v1": dict(mirostat=1),
}


class TimedEngine:
    """An Engine whose decode calls add up their wall time."""

    def __init__(self, engine):
        self.engine, self.seconds = engine, 0.0

    def decode(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.engine.decode(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def kv_truncate(self, *args):
        self.engine.kv_truncate(*args)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def record_rows(llm: Llama, prompt: list[int], n: int) -> tuple[list[int], np.ndarray]:
    """n greedy tokens after the prompt and the logits row before each: float32[n, n_vocab]."""
    rows = []
    gen = llm.generate(prompt, temp=0, logits_processor=[lambda ids, r: rows.append(r.copy()) or r])
    tokens = [next(gen) for _ in range(n)]
    gen.close()
    return tokens, np.stack(rows[:n])


def time_steps(llm: Llama, prompt: list[int], rows: np.ndarray, params: dict, logprobs, reps: int) -> float:
    """Best microseconds per GenerationState.step over the recorded rows."""
    best = float("inf")
    for r in range(reps):
        sampler = Sampler(SamplingParams(**params), make_rng(r), llm._tokenizer)
        state = GenerationState(prompt, sampler, llm._vocab, max_tokens=rows.shape[0], stop_at_eog=False,
                                stop=["\n\nTHE END"], logprobs=logprobs)  # fmt: skip
        t0 = time.perf_counter()
        for row in rows:
            state.step(row)
        best = min(best, (time.perf_counter() - t0) / rows.shape[0] * 1e6)
    return best


def bench_model(name: str, path: Path, threads: int, n: int, reps: int) -> None:
    llm = Llama(str(path), n_ctx=1024, n_threads=threads, verbose=False)
    engine = llm._engine
    prompt = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    _, rows = record_rows(llm, prompt, n)
    print(f"\n{name}: {path.name}, n_vocab {llm.n_vocab()}, {threads} threads, {n} tokens")
    print("  step us/token (GenerationState.step on recorded rows, no forward pass):")
    Sampler(SamplingParams(dry_multiplier=0.8), make_rng(0), llm._tokenizer)  # DRY's breaker table: once per model
    for label, params in SETTINGS.items():
        print(f"    {label:58s} {time_steps(llm, prompt, rows, params, None, reps):8.1f}")
    print(f"    {'default chain + logprobs=5':58s} {time_steps(llm, prompt, rows, {}, 5, reps):8.1f}")

    # the forward pass alone, and the bare decode loop's rate
    pos0 = len(prompt)
    best_fwd = float("inf")
    for _ in range(reps):
        engine.kv_truncate(0, pos0)
        t0 = time.perf_counter()
        for i in range(n):
            engine.decode([100 + i], [pos0 + i])
        best_fwd = min(best_fwd, (time.perf_counter() - t0) / n)
    llm.reset()
    print(f"  forward pass: {best_fwd * 1e3:.2f} ms/token (bare Engine.decode loop: {1 / best_fwd:.1f} tokens/s)")

    # end to end through the API, prompt cached (the first call evaluates it); the engine's decode calls are timed
    # on the way, so what the API adds per token is measured directly (a loaded machine slows both alike)
    timed = TimedEngine(engine)
    llm._session.engine = timed
    ban = {int(t): -float("inf") for t in llm._tokenizer.eog_tokens()}
    for label, kw in (("greedy", dict(temperature=0)), ("default chain", dict(temperature=0.8, seed=1))):
        best, best_over = 0.0, float("inf")
        llm(PROMPT, max_tokens=1, logit_bias=ban)
        for _ in range(reps):
            timed.seconds = 0.0
            t0 = time.perf_counter()
            out = llm(PROMPT, max_tokens=n, logit_bias=ban, **kw)
            dt = time.perf_counter() - t0
            assert out["usage"]["completion_tokens"] == n
            best = max(best, n / dt)
            best_over = min(best_over, (dt - timed.seconds) / n * 1e6)
        print(f"  Llama create_completion {label:14s}: {best:6.1f} tokens/s, {best_over:6.0f} us/token outside decode")
    llm._session.engine = engine

    # the same loop driven directly on the session (what a server slot would do)
    best = 0.0
    for r in range(reps):
        sampler = Sampler(SamplingParams(temp=0.8), make_rng(r), llm._tokenizer)
        state = GenerationState(prompt, sampler, llm._vocab, max_tokens=n, stop_at_eog=False)
        llm._session.prepare(prompt)
        t0 = time.perf_counter()
        for _ in stream_generate(llm._session, state):
            pass
        best = max(best, n / (time.perf_counter() - t0))
    print(f"  stream_generate on the Session, default chain : {best:6.1f} tokens/s")
    llm.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = ap.parse_args()
    from llamacore import _core, hub

    print(f"CPU: {cpu_name()}; {_core.system_info()}")
    for name in args.models:
        path = hub.resolve({"smollm2": "smollm2-135m-instruct", "gemma3": "gemma3-270m"}[name], download=True)
        bench_model(name, Path(path), args.threads, args.tokens, args.reps)


if __name__ == "__main__":
    main()
