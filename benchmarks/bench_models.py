"""llamacore against llama.cpp on the same GGUF files, side by side: load time, pp512 and tg128 tokens/s, peak RSS.

    python benchmarks/bench_models.py [--threads 2] [--reps 3] [--models smollm2 gemma3] [--peer PYTHON]

Each measurement runs in a fresh subprocess (so load time and peak RSS are the process's own), alternating
llamacore and llama.cpp (llama-cpp-python 0.3.36 from ../shared/tools/peer.sh) repetition by repetition; the best
of the repetitions is reported with the ratio llamacore / llama.cpp (> 1: llamacore is faster, or for RSS uses more).
  load  : model file to ready-to-decode (mmap, graph, KV cache of n_ctx 1024)
  pp512 : one 512-token prompt in one batch (n_batch 512), from an empty cache
  tg128 : 128 single-token decodes from an empty cache, the logits of each token computed
Both engines keep weights memory-mapped, f16 KV, the same thread count. Prints figures; asserts nothing.
Also printed: tokens per CPU-second of the process (time.process_time), which a loaded machine disturbs less than
wall time; with --threads 1 it measures the work per token (no threads spinning at barriers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": "gemma-3-270m-q4_k_m.gguf",
}

_COMMON = """
import json, resource, sys, time
import numpy as np
path, threads = sys.argv[1], int(sys.argv[2])
def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rng = np.random.default_rng(0)
"""

LLAMACORE = (
    _COMMON
    + """
from llamacore.engine import Engine
t0 = time.perf_counter()
e = Engine(path, n_ctx=1024, n_batch=512, n_threads=threads)
load = time.perf_counter() - t0
prompt = rng.integers(100, e.n_vocab - 100, 512)
e.decode(prompt[:8], np.arange(8)); e.kv_clear()  # warm-up
t0, c0 = time.perf_counter(), time.process_time()
e.decode(prompt, np.arange(512))
pp, pp_cpu = 512 / (time.perf_counter() - t0), 512 / (time.process_time() - c0)
e.kv_clear()
toks = rng.integers(100, e.n_vocab - 100, 128)
t0, c0 = time.perf_counter(), time.process_time()
for i in range(128):
    e.decode(toks[i:i + 1], [i])
tg, tg_cpu = 128 / (time.perf_counter() - t0), 128 / (time.process_time() - c0)
print(json.dumps({"load_s": load, "pp512": pp, "tg128": tg, "rss_mib": rss_mib(), "pp512_cpu": pp_cpu,
                  "tg128_cpu": tg_cpu}))
"""
)

LLAMA_CPP = (
    _COMMON
    + """
import ctypes, llama_cpp
t0 = time.perf_counter()
llm = llama_cpp.Llama(path, n_ctx=1024, n_batch=512, n_ubatch=512, n_threads=threads, n_threads_batch=threads,
                      verbose=False)
load = time.perf_counter() - t0
ctx = llm._ctx.ctx
mem = llama_cpp.llama_get_memory(ctx)
n_vocab = llm.n_vocab()
def decode(ids):
    arr = (llama_cpp.llama_token * len(ids))(*[int(t) for t in ids])
    if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(ids))) != 0:
        raise RuntimeError("llama_decode failed")
prompt = rng.integers(100, n_vocab - 100, 512)
decode(prompt[:8]); llama_cpp.llama_memory_clear(mem, True)  # warm-up
t0, c0 = time.perf_counter(), time.process_time()
decode(prompt)
pp, pp_cpu = 512 / (time.perf_counter() - t0), 512 / (time.process_time() - c0)
llama_cpp.llama_memory_clear(mem, True)
toks = rng.integers(100, n_vocab - 100, 128)
t0, c0 = time.perf_counter(), time.process_time()
for i in range(128):
    decode(toks[i:i + 1])
tg, tg_cpu = 128 / (time.perf_counter() - t0), 128 / (time.process_time() - c0)
print(json.dumps({"load_s": load, "pp512": pp, "tg128": tg, "rss_mib": rss_mib(), "pp512_cpu": pp_cpu,
                  "tg128_cpu": tg_cpu}))
"""
)


def run(python: str, script: str, path: Path, threads: int, env: dict) -> dict:
    out = subprocess.run(
        [python, "-c", textwrap.dedent(script), str(path), str(threads)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(results: list[dict]) -> dict:
    out = {"load_s": min(r["load_s"] for r in results), "rss_mib": min(r["rss_mib"] for r in results)}
    for k in ("pp512", "tg128", "pp512_cpu", "tg128_cpu"):
        out[k] = max(r[k] for r in results)
    return out


def peer_python(arg: str | None) -> str:
    if arg:
        return arg
    venv = Path(os.environ.get("LLAMACORE_PEER", Path.home() / ".cache" / "llamacore-peer"))
    py = venv / "bin" / "python"
    if not py.exists():
        sys.exit(f"llama.cpp peer not found at {py}: run ../shared/tools/peer.sh first (or pass --peer)")
    return str(py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--model-dir", default=str(Path.home() / ".cache" / "llamacore" / "models"))
    ap.add_argument("--peer", help="python of a venv with llama_cpp (default: ~/.cache/llamacore-peer)")
    ap.add_argument("--only", choices=["llamacore", "llama.cpp"], help="run one side only")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    peer = peer_python(args.peer) if args.only != "llamacore" else None
    print(f"{args.threads} threads, best of {args.reps} (fresh process each; machine may be shared)")
    for name in args.models:
        path = Path(args.model_dir) / MODELS[name]
        ours, theirs = [], []
        for _ in range(args.reps):
            if args.only != "llama.cpp":
                ours.append(run(sys.executable, LLAMACORE, path, args.threads, env))
            if args.only != "llamacore":
                theirs.append(run(peer, LLAMA_CPP, path, args.threads, env))
        print(f"\n{name} ({path.name})")
        print(
            f"  {'':10} {'load s':>8} {'pp512 t/s':>10} {'tg128 t/s':>10} {'peak RSS MiB':>13}   "
            f"{'pp512 t/cpu-s':>14} {'tg128 t/cpu-s':>14}"
        )
        rows = []
        if ours:
            rows.append(("llamacore", best(ours)))
        if theirs:
            rows.append(("llama.cpp", best(theirs)))
        for label, r in rows:
            print(
                f"  {label:10} {r['load_s']:8.3f} {r['pp512']:10.1f} {r['tg128']:10.1f} {r['rss_mib']:13.1f}   "
                f"{r['pp512_cpu']:14.1f} {r['tg128_cpu']:14.1f}"
            )
        if ours and theirs:
            a, b = best(ours), best(theirs)
            print(
                f"  {'ratio':10} {a['load_s'] / b['load_s']:8.2f} {a['pp512'] / b['pp512']:10.2f} "
                f"{a['tg128'] / b['tg128']:10.2f} {a['rss_mib'] / b['rss_mib']:13.2f}   "
                f"{a['pp512_cpu'] / b['pp512_cpu']:14.2f} {a['tg128_cpu'] / b['tg128_cpu']:14.2f}"
            )


if __name__ == "__main__":
    main()
