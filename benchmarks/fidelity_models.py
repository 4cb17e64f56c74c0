"""Where llamacore sits between llama.cpp and exact arithmetic, per CPU level, on the two reference models.

    python benchmarks/fidelity_models.py [--levels avx512,avx2,generic] [--float64] [--models smollm2 gemma3]

For every prompt of ../shared/reference/<model>/forward.npz (teacher-forced, as ../shared/tools/fidelity.py):
  vs llama.cpp  mean KL(llama.cpp || llamacore) over llama.cpp's top-256 tokens, and top-1 agreement
  vs float64    (with --float64) mean KL(float64 || llamacore) over the whole vocabulary, and top-1 agreement, where
                float64 is tests/reference_models on the same dequantized weights (computed once, minutes, and cached
                in ~/.cache/llamacore/float64/)
Figures are means over prompts of per-prompt means, as the reference README reports them. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "tests"))

from llamacore import _core  # noqa: E402
from llamacore.engine import Engine  # noqa: E402

MODELS = {
    "smollm2": ("smollm2-135m-instruct-q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "gemma3": ("gemma3-270m-q4_k_m", "gemma-3-270m-q4_k_m.gguf"),
}
CHUNK = 64


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z -= z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def float64_log_probs(folder: str, path: Path, ref, i: int, cache: Path) -> np.ndarray:
    f = cache / f"{folder}_p{i}.npy"
    if not f.exists():
        from reference_models import load

        model = load(path)
        cache.mkdir(parents=True, exist_ok=True)
        tokens = ref[f"p{i}_tokens"][:-1]
        np.save(f, model.log_probs(model.hidden(tokens)))
    return np.load(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default=",".join(_core.cpu_levels_supported()[::-1]))
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--float64", action="store_true", help="also compare with the float64 reference models")
    ap.add_argument("--reference", default=str(ROOT.parent / "shared" / "reference"))
    ap.add_argument("--model-dir", default=str(Path.home() / ".cache" / "llamacore" / "models"))
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "llamacore" / "float64"))
    args = ap.parse_args()
    for name in args.models:
        folder, fname = MODELS[name]
        ref = np.load(Path(args.reference) / folder / "forward.npz")
        path = Path(args.model_dir) / fname
        n_prompts = sum(k.endswith("_tokens") for k in ref.files)
        f64 = (
            [float64_log_probs(folder, path, ref, i, Path(args.cache)) for i in range(n_prompts)]
            if args.float64
            else None
        )
        for level in args.levels.split(","):
            _core.set_cpu_level(level)
            t0 = time.perf_counter()
            per_ref, per_f64 = [], []
            with Engine(path, n_ctx=1024, n_batch=CHUNK, n_threads=2) as e:
                for i in range(n_prompts):
                    tokens = ref[f"p{i}_tokens"][:-1]
                    ids, lr = ref[f"p{i}_top_ids"], ref[f"p{i}_top_logprobs"].astype(np.float64)
                    e.kv_clear()
                    k1, t1, k2, t2 = [], [], [], []
                    for a in range(0, len(tokens), CHUNK):
                        b = min(len(tokens), a + CHUNK)
                        lp = log_softmax(e.decode(tokens[a:b], np.arange(a, b), logits_all=True))
                        r = lr[a:b]
                        k1.append((np.exp(r) * (r - np.take_along_axis(lp, ids[a:b], -1))).sum(-1))
                        t1.append(lp.argmax(-1) == ids[a:b, 0])
                        if f64 is not None:
                            fr = f64[i][a:b].astype(np.float64)
                            k2.append((np.exp(fr) * (fr - lp)).sum(-1))
                            t2.append(lp.argmax(-1) == fr.argmax(-1))
                    per_ref.append((np.concatenate(k1).mean(), np.concatenate(t1).mean()))
                    if f64 is not None:
                        per_f64.append((np.concatenate(k2).mean(), np.concatenate(t2).mean()))
            a = np.mean(per_ref, 0)
            line = f"{name:8} {level:8} vs llama.cpp: KLD {a[0]:.2e} top-1 {a[1]:.3f}"
            if per_f64:
                b = np.mean(per_f64, 0)
                line += f" | vs float64: KLD {b[0]:.2e} top-1 {b[1]:.3f}"
            print(line + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
