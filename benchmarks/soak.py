"""Soak: thousands of completions and tokenize calls in one process, resident memory sampled as they run.

A bounded benchmark, not a test: it prints the RSS curve and the growth between the first and the last quarter of
the run, so a leak in the C++ core or in the Python layers (KV cache, detokenizer, sampler state, result dicts)
shows up as a steady climb instead of a plateau.

    PYTHONPATH=python python benchmarks/soak.py --completions 2000 --tokenize 20000
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time


def rss_mib() -> float:
    """Current resident set size (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


WORDS = "the a model token cache river blue sky why how light scatter night star 東京 🙂 naïve".split()


def random_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--completions", type=int, default=2000)
    ap.add_argument("--tokenize", type=int, default=20000)
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--samples", type=int, default=20, help="RSS samples over each phase")
    args = ap.parse_args(argv)

    from llamacore import Llama

    rng = random.Random(0)
    llm = Llama(args.model, n_ctx=512, verbose=False)
    print(f"model {args.model}; start RSS {rss_mib():.1f} MiB", flush=True)

    def phase(name: str, n: int, step) -> None:
        every = max(1, n // args.samples)
        curve: list[float] = []
        t0 = time.perf_counter()
        for i in range(n):
            step(i)
            if (i + 1) % every == 0:
                gc.collect()
                curve.append(rss_mib())
        dt = time.perf_counter() - t0
        q = max(1, len(curve) // 4)
        first, last = sum(curve[:q]) / q, sum(curve[-q:]) / q
        print(f"{name}: {n} calls in {dt:.1f} s; RSS MiB " + " ".join(f"{v:.0f}" for v in curve))
        print(f"{name}: growth first quarter -> last quarter {last - first:+.2f} MiB", flush=True)

    def complete(i: int) -> None:
        prompt = random_text(rng, rng.randint(1, 40))
        kw = dict(max_tokens=args.max_tokens, temperature=rng.choice([0.0, 0.8]), seed=i)
        if i % 3 == 0:
            for _ in llm.create_completion(prompt, stream=True, **kw):
                pass
        elif i % 3 == 1:
            llm.create_chat_completion([{"role": "user", "content": prompt}], **kw)
        else:
            llm.create_completion(prompt, logprobs=2, stop=["."], **kw)

    def tokenize(i: int) -> None:
        text = random_text(rng, rng.randint(1, 200))
        ids = llm.tokenize(text.encode(), add_bos=bool(i % 2), special=bool(i % 3))
        llm.detokenize(ids)

    phase("tokenize", args.tokenize, tokenize)
    phase("completions", args.completions, complete)
    print(f"end RSS {rss_mib():.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
