"""Where a decode step's time goes: the runtime's per-step timer (Program.set_profiling) over N single-token decodes,
summed per op kind and per matmul weight type, with the weight bytes each matmul reads and the GB/s it reaches.

    PYTHONPATH=python python benchmarks/profile_decode.py ~/.cache/llamacore/bench-models/llama-1b-Q4_K_M.gguf
        [--threads 2] [--tokens 64] [--depth 0] [--top 15]

A step's time is thread 0's, from the end of the previous step to the end of this one's barrier: it includes the
wait for the slower thread (load imbalance, a descheduled thread on a shared machine). "matmul" steps carry their
fused prologues/epilogues (rms_norm, residual, glu, KV store). Also printed: the machine's streaming read bandwidth
with the same thread count, measured just before, and the plan's barrier count. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict

import numpy as np

from llamacore import _core
from llamacore.engine import Engine
from llamacore.gguf import GGUFFile

STEP = re.compile(r"^(\d+): (\w+) -> '([^']*)' \[(\d+)\].*?<-(.*)$")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--depth", type=int, default=0, help="tokens in the cache before the timed decodes")
    ap.add_argument("--top", type=int, default=15, help="slowest steps to list")
    args = ap.parse_args()

    bw = _core.ops_read_bandwidth(512 << 20, args.threads, 10) / 1e9
    gg = GGUFFile(args.model)
    weights = {name: (t.type.name, t.nbytes) for name, t in gg.tensors.items()}
    n_ctx = max(1024, args.depth + args.tokens + 16)
    e = Engine(args.model, n_ctx=n_ctx, n_batch=512, n_threads=args.threads)
    prog = e._require()
    rng = np.random.default_rng(0)
    for start in range(0, args.depth, 512):
        n = min(512, args.depth - start)
        e.decode(rng.integers(100, e.n_vocab - 100, n), np.arange(start, start + n))
    e.decode([100], [args.depth])  # warm-up (also the first decode of the graph)
    prog.set_profiling(True)
    t0 = time.perf_counter()
    for i in range(args.tokens):
        e.decode([int(rng.integers(100, 1000))], [args.depth + 1 + i])
    wall = (time.perf_counter() - t0) / args.tokens
    prof = np.asarray(prog.profile()) / args.tokens
    prog.set_profiling(False)

    steps = []
    for line, secs in zip(prog.describe().splitlines(), prof, strict=True):
        m = STEP.match(line)
        if not m:
            continue
        op, inputs = m.group(2), re.findall(r"'([^']*)'", m.group(5))
        wname = next((x for x in inputs if x in weights), None)
        steps.append((line, op, wname, secs))

    total = prof.sum()
    barriers = sum("(no barrier)" not in line for line, _, _, _ in steps)
    print(f"{args.model}\n{_core.cpu_level()} level, {args.threads} threads, depth {args.depth}, {args.tokens} tokens")
    print(f"machine streaming read ({args.threads} thr): {bw:.1f} GB/s")
    print(
        f"per token: wall {wall * 1e3:.2f} ms ({1 / wall:.1f} t/s), steps timed {total * 1e3:.2f} ms; "
        f"{len(steps)} steps, {barriers} barriers"
    )
    by_op, by_type = defaultdict(float), defaultdict(lambda: [0.0, 0, 0])
    mm_bytes = 0
    for _, op, wname, secs in steps:
        by_op[op] += secs
        if op == "matmul" and wname:
            t, nb = weights[wname]
            by_type[t][0] += secs
            by_type[t][1] += nb
            by_type[t][2] += 1
            mm_bytes += nb
    print("\nper op kind (ms per token, share):")
    for op, secs in sorted(by_op.items(), key=lambda kv: -kv[1]):
        print(f"  {op:16} {secs * 1e3:8.3f}  {100 * secs / total:5.1f}%")
    print("\nmatmuls per weight type: ms per token, MB read, GB/s (% of streaming read)")
    for t, (secs, nb, cnt) in sorted(by_type.items(), key=lambda kv: -kv[1][0]):
        gbs = nb / secs / 1e9
        print(f"  {t:7} x{cnt:<4} {secs * 1e3:8.3f} ms {nb / 1e6:8.1f} MB {gbs:6.1f} GB/s ({100 * gbs / bw:4.0f}%)")
    mm_secs = sum(v[0] for v in by_type.values())
    print(
        f"  all matmuls: {mm_secs * 1e3:.2f} ms for {mm_bytes / 1e6:.0f} MB = {mm_bytes / mm_secs / 1e9:.1f} GB/s; "
        f"whole token: {mm_bytes / wall / 1e9:.1f} GB/s of weights ({100 * mm_bytes / wall / 1e9 / bw:.0f}% of read)"
    )
    print(f"\nslowest {args.top} steps:")
    for line, _, wname, secs in sorted(steps, key=lambda s: -s[3])[: args.top]:
        extra = ""
        if wname:
            extra = f"  [{weights[wname][0]}, {weights[wname][1] / secs / 1e9:.1f} GB/s]"
        print(f"  {secs * 1e6:8.1f} us  {line[:110]}{extra}")


if __name__ == "__main__":
    main()
