"""Tokenizer speed, llamacore vs llama.cpp (llama-cpp-python in ../shared/tools/peer.sh's venv), on ~1 MB of mixed
text (English prose and Python code from the standard library, Korean, Chinese, Japanese, emoji).

    PYTHONPATH=python python benchmarks/bench_tokenizer.py [MODEL.gguf ...] [--size BYTES] [--repeat N]

For each model: the time to load the tokenizer from the file (llamacore: Tokenizer.from_gguf; llama.cpp:
Llama(path, vocab_only=True)) and to tokenize the corpus (best of N runs each; wall and CPU time), MB/s, the ratio,
and whether the ids are equal.
llama.cpp runs in a subprocess with the peer's Python. Figures on a shared machine are noisy: take the best of runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tokenizer_corpus import mixed_corpus  # noqa: E402

MODELS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llamacore" / "models"
DEFAULT_MODELS = [MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf", MODELS / "gemma-3-270m-q4_k_m.gguf"]

PEER_SCRIPT = r"""
import hashlib, json, sys, time
from llama_cpp import Llama
path, corpus, repeat = sys.argv[1], open(sys.argv[2], "rb").read(), int(sys.argv[3])
load = float("inf")
for _ in range(repeat):
    t0 = time.perf_counter()
    llm = Llama(model_path=path, vocab_only=True, verbose=False)
    load = min(load, time.perf_counter() - t0)
best = cpu = float("inf")
for _ in range(repeat):
    t0, c0 = time.perf_counter(), time.process_time()
    ids = llm.tokenize(corpus, add_bos=False, special=False)
    best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
print(json.dumps({"load": load, "tokenize": best, "cpu": cpu, "n": len(ids),
                  "digest": hashlib.sha256(json.dumps(ids).encode()).hexdigest()}))
"""


def peer_python() -> str | None:
    script = Path(__file__).resolve().parents[2] / "shared" / "tools" / "peer.sh"
    venv = Path(os.environ.get("LLAMACORE_PEER", Path.home() / ".cache" / "llamacore-peer"))
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import llama_cpp"], capture_output=True).returncode == 0:
        return str(py)
    if script.exists():
        print("(the peer is not built; ../shared/tools/peer.sh builds it)", file=sys.stderr)
    return None


def load_ours(path: Path):
    from llamacore.tokenizer import Tokenizer

    return Tokenizer.from_gguf(path)


def bench_ours(path: Path, corpus: bytes, repeat: int) -> dict:
    load = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tok = load_ours(path)
        load = min(load, time.perf_counter() - t0)
    best = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        ids = tok.tokenize(corpus, add_bos=False)
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    digest = hashlib.sha256(json.dumps(ids).encode()).hexdigest()
    return {"load": load, "tokenize": best, "cpu": cpu, "n": len(ids), "digest": digest}


def bench_peer(py: str, path: Path, corpus_file: str, repeat: int) -> dict | None:
    r = subprocess.run([py, "-c", PEER_SCRIPT, str(path), corpus_file, str(repeat)], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"llama.cpp failed on {path.name}: {r.stderr.strip()[-400:]}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--size", type=int, default=1_000_000, help="corpus size in bytes (default 1 MB)")
    ap.add_argument("--repeat", type=int, default=3, help="tokenize runs per side; the best counts")
    args = ap.parse_args()
    corpus = mixed_corpus(args.size)
    import llamacore.tokenizer  # noqa: F401  (imports are not load time)

    peer = peer_python()
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        f.write(corpus)
        corpus_file = f.name
    print(f"corpus: {len(corpus) / 1e6:.2f} MB of mixed text; best of {args.repeat}")
    print(f"{'model':34} {'side':10} {'load s':>8} {'tokenize s':>11} {'cpu s':>7} {'tokens':>9} {'MB/s':>7}  ratio")
    try:
        for path in args.models or DEFAULT_MODELS:
            ours = bench_ours(path, corpus, args.repeat)
            theirs = bench_peer(peer, path, corpus_file, args.repeat) if peer else None
            for side, r in (("llamacore", ours), ("llama.cpp", theirs)):
                if r is None:
                    continue
                mbs = len(corpus) / 1e6 / r["tokenize"]
                print(
                    f"{path.name[:34]:34} {side:10} {r['load']:8.3f} {r['tokenize']:11.3f} {r['cpu']:7.3f} "
                    f"{r['n']:9d} {mbs:7.2f}"
                )
            if theirs:
                ratio, cpu_ratio = theirs["tokenize"] / ours["tokenize"], theirs["cpu"] / ours["cpu"]
                same = "same ids" if theirs["digest"] == ours["digest"] else "IDS DIFFER"
                print(
                    f"{'':34} {'':10} {'':8} {'':11} {'':7} {'':9} {'':7}  {ratio:.1f}x (cpu {cpu_ratio:.1f}x), {same}"
                )
    finally:
        os.unlink(corpus_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
