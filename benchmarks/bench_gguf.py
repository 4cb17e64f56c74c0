"""Time to open a GGUF model (metadata, including the whole vocabulary, and the tensor table), side by side:

    llamacore   llamacore.gguf.GGUFFile(path)
    gguf        the PyPI `gguf` package: GGUFReader(path), then every field's contents() (its Python values)
    llama.cpp   the peer (llama-cpp-python, see ../shared/tools/peer.sh): Llama(path, vocab_only=True), and the
                model load itself (llama_model_load_from_file, weights mmapped, no context)

Runs alternate within one invocation; each figure is the best of --repeat runs (the machine may be shared).
usage: python benchmarks/bench_gguf.py [MODEL ...] [--repeat 3] [--no-gguf] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from llamacore import hub  # noqa: E402
from llamacore.gguf import GGUFFile  # noqa: E402

PEER_SCRIPT = r"""
import json, sys, time, llama_cpp
path, what = sys.argv[1], sys.argv[2]
llama_cpp.llama_backend_init()
t0 = time.perf_counter()
if what == "vocab":
    llm = llama_cpp.Llama(path, vocab_only=True, verbose=False)
    t = time.perf_counter() - t0
    del llm
else:
    params = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(path.encode(), params)
    t = time.perf_counter() - t0
    assert model, "load failed"
    llama_cpp.llama_model_free(model)
print(json.dumps(t))
"""


def peer_python() -> str | None:
    script = Path(__file__).resolve().parents[2] / "shared" / "tools" / "peer.sh"
    venv = Path(os.environ.get("LLAMACORE_PEER", Path.home() / ".cache" / "llamacore-peer"))
    py = venv / "bin" / "python"
    if not py.exists() and script.exists():
        return None  # not built yet: building takes ~10 minutes, not done from a benchmark
    ok = py.exists() and subprocess.run([str(py), "-c", "import llama_cpp"], capture_output=True).returncode == 0
    return str(py) if ok else None


def time_llamacore(path: Path) -> float:
    t0 = time.perf_counter()
    with GGUFFile(path) as f:
        assert f.tensors and f.metadata
    return time.perf_counter() - t0


def time_gguf_package(path: Path) -> tuple[float, float]:
    import gguf

    t0 = time.perf_counter()
    r = gguf.GGUFReader(path)
    t1 = time.perf_counter()
    for field in r.fields.values():
        field.contents()
    return t1 - t0, time.perf_counter() - t0


def time_peer(py: str, path: Path, what: str) -> float:
    out = subprocess.run([py, "-c", PEER_SCRIPT, str(path), what], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def keep_best(best: dict[str, float], key: str, t: float) -> None:
    best[key] = min(best.get(key, t), t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=["smollm2-135m-instruct", "gemma3-270m"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-gguf", action="store_true", help="skip the gguf package (it takes 5-20 s per model)")
    ap.add_argument("--no-peer", action="store_true", help="skip llama.cpp")
    args = ap.parse_args()
    peer = None if args.no_peer else peer_python()
    if not args.no_peer and peer is None:
        print("(llama.cpp peer not built: run ../shared/tools/peer.sh first; skipping it)")
    for name in args.models:
        path = hub.resolve(name)
        best: dict[str, float] = {}

        time_llamacore(path)  # warm the page cache
        for _ in range(args.repeat):
            keep_best(best, "llamacore GGUFFile", time_llamacore(path))
            if peer:
                keep_best(best, "llama.cpp vocab_only", time_peer(peer, path, "vocab"))
                keep_best(best, "llama.cpp model load", time_peer(peer, path, "model"))
        if not args.no_gguf:
            construct, total = time_gguf_package(path)  # once: it is slow
            best["gguf GGUFReader()"] = construct
            best["gguf GGUFReader() + contents()"] = total
        ours = best["llamacore GGUFFile"]
        print(f"{name} ({path.stat().st_size / 1e6:.0f} MB), best of {args.repeat}:")
        for key, t in best.items():
            ratio = "" if key.startswith("llamacore") else f"   {t / ours:6.1f}x llamacore's time"
            print(f"  {key:32} {t * 1000:9.1f} ms{ratio}")


if __name__ == "__main__":
    main()
