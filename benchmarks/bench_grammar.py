"""Grammar / JSON-schema constraint cost: per-token mask time, and decode tokens/s with and without a schema, on the
two test models. Prints figures; asserts nothing.

    python benchmarks/bench_grammar.py [--tokens 64] [--runs 3] [--compare]

--compare also times outlines-core (if installed) on the same schema, for the engine choice in README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from llamacore.engine import Engine
from llamacore.sampling.grammar import LlamaGrammar, json_schema_constraint
from llamacore.tokenizer import Tokenizer

MODELS = Path(os.environ.get("LLAMACORE_MODELS", Path.home() / ".cache" / "llamacore" / "models"))
FILES = {"SmolLM2-135M": "SmolLM2-135M-Instruct.Q4_1.gguf", "Gemma-3-270M": "gemma-3-270m-q4_k_m.gguf"}

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 3},
        "when": {"type": "string", "format": "date-time"},
    },
    "required": ["name", "age"],
}
TEXT = '{"name": "Bob", "age": 42, "tags": ["a@b.co"], "when": "2020-01-01T10:00:00Z"}'


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mask_cost(tok: Tokenizer) -> dict:
    """Per-token constraint cost along TEXT: allowed() (mask) + accept(), in microseconds."""
    t0 = time.perf_counter()
    json_schema_constraint(SCHEMA, tok)  # first use: vocabulary + compile
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    json_schema_constraint(SCHEMA, tok)
    again = time.perf_counter() - t0
    ids = tok.tokenize(TEXT, add_bos=False)
    times = []
    for _ in range(5):
        c = json_schema_constraint(SCHEMA, tok)
        c._mask = None  # time the first mask too
        for t in ids:
            s = time.perf_counter()
            c.allowed()
            c.accept(t)
            times.append(time.perf_counter() - s)
    us = np.array(times) * 1e6
    return {
        "setup_s": first,
        "constraint_ms": again * 1e3,
        "median_us": np.median(us),
        "mean_us": us.mean(),
        "p99_us": np.percentile(us, 99),
    }


def decode_rate(engine: Engine, tok: Tokenizer, n_tokens: int, schema: dict | None) -> float:
    """Greedy decode tokens/s of n_tokens after a short prompt; with a schema, constraint masks and accepts are
    included (a finished JSON restarts a fresh constraint so that every step is constrained)."""
    prompt = tok.tokenize("Give a JSON record of a person:\n", add_bos=True)
    engine.kv_clear()
    logits = engine.decode(np.asarray(prompt, np.int32), np.arange(len(prompt)))[0]
    c = json_schema_constraint(schema, tok) if schema is not None else None
    pos = len(prompt)
    t0 = time.perf_counter()
    for _ in range(n_tokens):
        if c is not None:
            if c.is_finished():
                c = json_schema_constraint(schema, tok)
            mask = c.allowed()
            logits = np.where(mask, logits, -np.inf)
        token = int(np.argmax(logits))
        if c is not None:
            c.accept(token)
        logits = engine.decode(np.asarray([token], np.int32), np.asarray([pos]))[0]
        pos += 1
    return n_tokens / (time.perf_counter() - t0)


def compare_outlines(tok: Tokenizer) -> str:
    try:
        from outlines_core import Guide, Index, Vocabulary
        from outlines_core.json_schema import build_regex_from_schema
    except ImportError:
        return "outlines-core not installed"
    eos = tok.token_eos()
    pieces: dict[bytes, list[int]] = {}
    for i in range(tok.n_vocab()):
        if i != eos and not tok.token_attr(i) & (1 | 2 | 8):
            pieces.setdefault(tok.token_to_piece(i, special=True), []).append(i)
    t0 = time.perf_counter()
    index = Index(build_regex_from_schema(json.dumps(SCHEMA)), Vocabulary(eos, pieces))
    build = time.perf_counter() - t0
    guide = Guide(index)
    words = np.zeros((tok.n_vocab() + 31) // 32, dtype=np.int32)
    times = []
    for t in tok.tokenize(TEXT.replace(": ", ":").replace(", ", ","), add_bos=False):
        s = time.perf_counter()
        guide.write_mask_into(words.ctypes.data, words.size, 4)
        times.append(time.perf_counter() - s)
        guide.advance(t)
    return f"outlines-core: index build {build:.1f} s, mask median {np.median(times) * 1e6:.0f} us"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compare", action="store_true")
    args = ap.parse_args()
    import llguidance

    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; llguidance {llguidance.__version__}")
    for label, file in FILES.items():
        path = MODELS / file
        if not path.exists():
            print(f"{label}: {path} missing, skipped")
            continue
        tok = Tokenizer.from_gguf(path)
        m = mask_cost(tok)
        print(
            f"{label} (n_vocab {tok.n_vocab()}): vocabulary+compile {m['setup_s']:.2f} s once; new constraint "
            f"{m['constraint_ms']:.2f} ms; mask+accept per token median {m['median_us']:.0f} us, mean "
            f"{m['mean_us']:.0f} us, p99 {m['p99_us']:.0f} us"
        )
        gbnf = LlamaGrammar.from_file(Path(__file__).parent.parent / "tests" / "data" / "grammars" / "json.gbnf")
        c = gbnf.constraint(tok)
        ids = tok.tokenize(TEXT, add_bos=False)
        s = time.perf_counter()
        for t in ids:
            c.allowed()
            c.accept(t)
        print(
            f"  json.gbnf (GBNF path): mask+accept per token mean {(time.perf_counter() - s) / len(ids) * 1e6:.0f} us"
        )
        with Engine(path, n_ctx=512) as engine:
            decode_rate(engine, tok, 8, None)  # warm-up
            free, constrained = [], []
            for _ in range(args.runs):  # alternate so that machine noise hits both alike
                free.append(decode_rate(engine, tok, args.tokens, None))
                constrained.append(decode_rate(engine, tok, args.tokens, SCHEMA))
        f, c_ = statistics.median(free), statistics.median(constrained)
        print(f"  decode tg{args.tokens}: unconstrained {f:.1f} tok/s, JSON schema {c_:.1f} tok/s, ratio {c_ / f:.2f}")
        if args.compare:
            print("  " + compare_outlines(tok))


if __name__ == "__main__":
    main()
