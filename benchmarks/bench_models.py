"""llamacore against llama.cpp on the same GGUF files, side by side: load time, pp512 and tg128 tokens/s, peak RSS.

    python benchmarks/bench_models.py [--threads 2] [--reps 3] [--models smollm2 gemma3 FILE.gguf ...] [--peer PYTHON]
    python benchmarks/bench_models.py --models ~/.cache/llamacore/bench-models/llama-1b-*.gguf --depth 4096

--models takes the names below or paths to GGUF files (benchmarks/make_models.py makes random-weight Llama files of
1B and 8B shapes).

Each measurement runs in a fresh subprocess (so load time and peak RSS are the process's own), alternating
llamacore and llama.cpp (llama-cpp-python 0.3.36 from ../shared/tools/peer.sh) repetition by repetition; the best
of the repetitions is reported with the ratio llamacore / llama.cpp (> 1: llamacore is faster, or for RSS uses more).
  load  : model file to ready-to-decode (mmap, graph, KV cache of n_ctx 1024)
  pp512 : one 512-token prompt in one batch (n_batch 512), from an empty cache
  tg128 : 128 single-token decodes from an empty cache, the logits of each token computed
  with --depth D: the cache is filled with D tokens (512 per call), then
  pp512@D: one 512-token prompt after them (removed again), tg@D: --tg-depth single-token decodes after them
Both engines keep weights memory-mapped, f16 KV, the same thread count. Prints figures; asserts nothing.
Decode is memory-bound, so each model's table also gives the bytes of weights one token reads (every matmul weight;
the token embedding only when it is also the output matrix, else one row is gathered) plus the f16 KV bytes at the
depth, the GB/s that tg reaches with them, and that as a share of the machine's streaming read bandwidth measured
with the same thread count in this run, just before each model (the machine is shared: it moves).
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
path, threads, depth, n_tg_depth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n_ctx = max(1024, depth + 512 + n_tg_depth + 16)
def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rng = np.random.default_rng(0)
"""

LLAMACORE = (
    _COMMON
    + """
from llamacore.engine import Engine
t0 = time.perf_counter()
e = Engine(path, n_ctx=n_ctx, n_batch=512, n_threads=threads)
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
res = {"load_s": load, "pp512": pp, "tg128": tg, "pp512_cpu": pp_cpu, "tg128_cpu": tg_cpu}
if depth:
    e.kv_clear()
    fill = rng.integers(100, e.n_vocab - 100, depth + 512 + n_tg_depth)
    for s in range(0, depth, 512):
        e.decode(fill[s:min(s + 512, depth)], np.arange(s, min(s + 512, depth)))
    t0 = time.perf_counter()
    e.decode(fill[depth:depth + 512], np.arange(depth, depth + 512))
    res["pp512_d"] = 512 / (time.perf_counter() - t0)
    e.kv_truncate(0, depth)
    t0 = time.perf_counter()
    for i in range(n_tg_depth):
        e.decode(fill[depth + 512 + i:depth + 513 + i], [depth + i])
    res["tg_d"] = n_tg_depth / (time.perf_counter() - t0)
res["rss_mib"] = rss_mib()
print(json.dumps(res))
"""
)

LLAMA_CPP = (
    _COMMON
    + """
import ctypes, llama_cpp
t0 = time.perf_counter()
llm = llama_cpp.Llama(path, n_ctx=n_ctx, n_batch=512, n_ubatch=512, n_threads=threads, n_threads_batch=threads,
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
res = {"load_s": load, "pp512": pp, "tg128": tg, "pp512_cpu": pp_cpu, "tg128_cpu": tg_cpu}
if depth:
    llama_cpp.llama_memory_clear(mem, True)
    fill = rng.integers(100, n_vocab - 100, depth + 512 + n_tg_depth)
    for s in range(0, depth, 512):
        decode(fill[s:min(s + 512, depth)])
    t0 = time.perf_counter()
    decode(fill[depth:depth + 512])
    res["pp512_d"] = 512 / (time.perf_counter() - t0)
    llama_cpp.llama_memory_seq_rm(mem, 0, depth, -1)
    t0 = time.perf_counter()
    for i in range(n_tg_depth):
        decode(fill[depth + 512 + i:depth + 513 + i])
    res["tg_d"] = n_tg_depth / (time.perf_counter() - t0)
res["rss_mib"] = rss_mib()
print(json.dumps(res))
"""
)


def run(python: str, script: str, path: Path, threads: int, depth: int, n_tg_depth: int, env: dict) -> dict:
    out = subprocess.run(
        [python, "-c", textwrap.dedent(script), str(path), str(threads), str(depth), str(n_tg_depth)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


RATES = ("pp512", "tg128", "pp512_d", "tg_d", "pp512_cpu", "tg128_cpu")


def best(results: list[dict]) -> dict:
    out = {"load_s": min(r["load_s"] for r in results), "rss_mib": min(r["rss_mib"] for r in results)}
    for k in RATES:
        if k in results[0]:
            out[k] = max(r[k] for r in results)
    return out


def bytes_per_token(path: Path, depth: int) -> tuple[int, int]:
    """(weight bytes a decoded token reads, f16 KV bytes at `depth`) from the file's tensors and hyperparameters."""
    from llamacore.gguf import GGUFFile

    g = GGUFFile(path)
    tied = "output.weight" not in g.tensors
    w = sum(
        t.nbytes
        for name, t in g.tensors.items()
        if len(t.shape) >= 2 and t.shape[1] > 1 and (name != "token_embd.weight" or tied)
    )
    arch = g.metadata.get("general.architecture", "llama")
    md = g.metadata
    n_layer = int(md.get(f"{arch}.block_count", 0))
    n_head = int(md.get(f"{arch}.attention.head_count", 1))
    n_kv = int(md.get(f"{arch}.attention.head_count_kv", n_head))
    head_dim = int(md.get(f"{arch}.attention.key_length", md.get(f"{arch}.embedding_length", 0) // n_head))
    return w, 2 * n_layer * n_kv * head_dim * 2 * depth


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                flags = open("/proc/cpuinfo").read()
                fam = next((ln.split(":")[1].strip() for ln in flags.splitlines() if ln.startswith("cpu family")), "?")
                return f"{line.split(':', 1)[1].strip()} (family {fam}, {os.cpu_count()} CPUs)"
    except OSError:
        pass
    return "unknown CPU"


def read_bandwidth(threads: int) -> float:
    sys.path.insert(0, str(ROOT / "python"))
    from llamacore import _core

    return _core.ops_read_bandwidth(512 << 20, threads, 10) / 1e9


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
    ap.add_argument("--models", nargs="*", default=list(MODELS), help="names (smollm2, gemma3) or GGUF paths")
    ap.add_argument("--model-dir", default=str(Path.home() / ".cache" / "llamacore" / "models"))
    ap.add_argument("--depth", type=int, default=0, help="also pp512 and tg after this many cached tokens")
    ap.add_argument("--tg-depth", type=int, default=32, help="decodes timed at --depth")
    ap.add_argument("--peer", help="python of a venv with llama_cpp (default: ~/.cache/llamacore-peer)")
    ap.add_argument("--only", choices=["llamacore", "llama.cpp"], help="run one side only")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    peer = peer_python(args.peer) if args.only != "llamacore" else None
    print(f"{cpu_name()}; {args.threads} threads, best of {args.reps} (fresh process each; machine may be shared)")
    for name in args.models:
        path = Path(args.model_dir) / MODELS[name] if name in MODELS else Path(name).expanduser()
        if not path.exists():
            sys.exit(f"{path}: no such file")
        bw = read_bandwidth(args.threads)
        ours, theirs = [], []
        for _ in range(args.reps):
            if args.only != "llama.cpp":
                ours.append(run(sys.executable, LLAMACORE, path, args.threads, args.depth, args.tg_depth, env))
            if args.only != "llamacore":
                theirs.append(run(peer, LLAMA_CPP, path, args.threads, args.depth, args.tg_depth, env))
        bw = max(bw, read_bandwidth(args.threads))
        w_bytes, kv_bytes = bytes_per_token(path, args.depth)
        print(f"\n{name if name in MODELS else path.stem} ({path.name}, {path.stat().st_size / 1e9:.2f} GB)")
        print(
            f"  weights read per token {w_bytes / 1e6:.0f} MB (+ {kv_bytes / 1e6:.0f} MB f16 KV at depth {args.depth});"
            f" "
            f"streaming read {bw:.1f} GB/s ({args.threads} thr, best of before/after)"
        )
        cols = [("load s", "load_s", ".3f"), ("pp512", "pp512", ".1f"), ("tg128", "tg128", ".1f")]
        if args.depth:
            cols += [(f"pp512@{args.depth}", "pp512_d", ".1f"), (f"tg@{args.depth}", "tg_d", ".1f")]
        cols += [("RSS MiB", "rss_mib", ".0f"), ("pp/cpu-s", "pp512_cpu", ".1f"), ("tg/cpu-s", "tg128_cpu", ".1f")]
        print(f"  {'':10}" + "".join(f" {c[0]:>11}" for c in cols) + f" {'tg GB/s':>8} {'%read':>6}")
        rows = []
        if ours:
            rows.append(("llamacore", best(ours)))
        if theirs:
            rows.append(("llama.cpp", best(theirs)))
        for label, r in rows:
            gbs = r["tg128"] * w_bytes / 1e9
            print(
                f"  {label:10}"
                + "".join(f" {format(r[c[1]], c[2]):>11}" for c in cols)
                + f" {gbs:8.1f} {100 * gbs / bw:5.0f}%"
            )
        if ours and theirs:
            a, b = best(ours), best(theirs)
            print(f"  {'ratio':10}" + "".join(f" {a[c[1]] / b[c[1]]:11.2f}" for c in cols))


if __name__ == "__main__":
    main()
