"""Random-weight Llama GGUF files of realistic shapes, for speed measurements anyone can reproduce without downloads.

    PYTHONPATH=python python benchmarks/make_models.py --size 1b --types Q4_K_M,Q8_0
    PYTHONPATH=python python benchmarks/make_models.py --size 8b --types Q4_K_M --out /tmp/models

Sizes (Llama-3 shapes, rope base 500000, GQA 32/8 heads):
  1b : 16 layers x 2048 dim x 8192 ffn, head dim 64, tied embeddings (no output.weight), 49152 vocab (--vocab to change)
  8b : 32 layers x 4096 dim x 14336 ffn, head dim 128, separate output.weight, 128256 vocab
Types are llama-quantize's file types with its tensor mix (llama_tensor_get_type, no importance matrix):
  Q4_K_M / Q5_K_M : Q4_K / Q5_K; attn_v and ffn_down Q6_K on the use_more_bits layers; output Q6_K
  Q4_0, Q6_K, Q8_0 : one type; output Q6_K (Q8_0 keeps Q8_0)
  IQ4_XS          : IQ4_XS; attn_v Q5_K (GQA >= 4), ffn_down of the first n_layer/8 layers Q5_K; output Q6_K
With tied embeddings token_embd is quantized as the output is. Norms are F32 ones.

Weights are N(0, 0.02). Quantizing 8B floats with the reference quantizers (a scale search per block for the K and IQ
formats) would take an hour on one core, so each (type, row length) gets a pool of rows quantized with
llamacore.quants once, and every tensor draws its rows from the pool at random: the bytes are exactly those of real
quantized rows, every row of the file has its own memory, only row contents repeat (invisible to speed). --pool 0
quantizes every row instead. Tensors are staged in a scratch file next to the output so that an 8B file never has to
fit in RAM. The tokenizer (byte-level BPE) is SmolLM2's from the test models, padded with unreachable normal tokens
to the vocabulary size, so the files load in llamacore and in llama.cpp.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llamacore import quants
from llamacore.gguf import GGMLType, GGUFFile, GGUFWriter

TOKENIZER_SOURCE = Path.home() / ".cache" / "llamacore" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_OUT = Path.home() / ".cache" / "llamacore" / "bench-models"


@dataclass(frozen=True)
class Shape:
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    n_vocab: int
    tied: bool

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


SIZES = {
    "1b": Shape(n_layer=16, n_embd=2048, n_ff=8192, n_head=32, n_head_kv=8, n_vocab=49152, tied=True),
    "8b": Shape(n_layer=32, n_embd=4096, n_ff=14336, n_head=32, n_head_kv=8, n_vocab=128256, tied=False),
}

# llama_ftype ids (general.file_type) and the base tensor type of each file type
FILE_TYPES = {
    "Q4_0": (2, GGMLType.Q4_0),
    "Q8_0": (7, GGMLType.Q8_0),
    "Q4_K_M": (15, GGMLType.Q4_K),
    "Q5_K_M": (17, GGMLType.Q5_K),
    "Q6_K": (18, GGMLType.Q6_K),
    "IQ4_XS": (30, GGMLType.IQ4_XS),
}


def use_more_bits(i: int, n: int) -> bool:
    """llama-quantize's choice of the layers that get more bits in the _M mixes."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def tensor_type(ftype: str, name: str, layer: int, n_layer: int, n_gqa: int) -> GGMLType:
    """The type llama-quantize gives a 2-D weight of a Llama model (no importance matrix)."""
    base = FILE_TYPES[ftype][1]
    if name == "output":  # also token_embd when the embeddings are tied
        return GGMLType.Q8_0 if base == GGMLType.Q8_0 else GGMLType.Q6_K
    if name == "attn_v":
        if ftype == "IQ4_XS" and n_gqa >= 4:
            return GGMLType.Q5_K
        if ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, n_layer):
            return GGMLType.Q6_K
    if name == "ffn_down":
        if ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, n_layer):
            return GGMLType.Q6_K
        if ftype == "IQ4_XS" and layer < n_layer // 8:
            return GGMLType.Q5_K
    return base


def tensors(s: Shape) -> list[tuple[str, str, int, tuple[int, int] | tuple[int]]]:
    """(GGUF name, role for the type mix, layer, GGUF shape ne[0] first) in llama.cpp's usual order."""
    kv = s.n_head_kv * s.head_dim
    out: list = [("token_embd.weight", "output" if s.tied else "token_embd", 0, (s.n_embd, s.n_vocab))]
    for i in range(s.n_layer):
        b = f"blk.{i}."
        out += [
            (b + "attn_norm.weight", "norm", i, (s.n_embd,)),
            (b + "attn_q.weight", "attn_q", i, (s.n_embd, s.n_embd)),
            (b + "attn_k.weight", "attn_k", i, (s.n_embd, kv)),
            (b + "attn_v.weight", "attn_v", i, (s.n_embd, kv)),
            (b + "attn_output.weight", "attn_output", i, (s.n_embd, s.n_embd)),
            (b + "ffn_norm.weight", "norm", i, (s.n_embd,)),
            (b + "ffn_gate.weight", "ffn_gate", i, (s.n_embd, s.n_ff)),
            (b + "ffn_up.weight", "ffn_up", i, (s.n_embd, s.n_ff)),
            (b + "ffn_down.weight", "ffn_down", i, (s.n_ff, s.n_embd)),
        ]
    out.append(("output_norm.weight", "norm", 0, (s.n_embd,)))
    if not s.tied:
        out.append(("output.weight", "output", 0, (s.n_embd, s.n_vocab)))
    return out


class RowPool:
    """Quantized random rows per (type, row length), drawn at random to fill tensors."""

    def __init__(self, pool_elements: int, rng: np.random.Generator):
        self.pool_elements, self.rng, self.pools = pool_elements, rng, {}

    def _random(self, nrows: int, k: int) -> np.ndarray:
        return self.rng.standard_normal((nrows, k), dtype=np.float32) * np.float32(0.02)

    def rows(self, qtype: GGMLType, nrows: int, k: int) -> np.ndarray:
        """nrows quantized rows of k elements: uint8 (nrows, row bytes)."""
        if self.pool_elements <= 0:  # every row quantized, in chunks of ~16M elements
            step = max(1, (1 << 24) // k)
            return np.concatenate(
                [quants.quantize(self._random(min(step, nrows - r), k), qtype) for r in range(0, nrows, step)]
            )
        key = (qtype, k)
        if key not in self.pools:
            self.pools[key] = quants.quantize(self._random(max(64, self.pool_elements // k), k), qtype)
        pool = self.pools[key]
        return pool[self.rng.integers(0, pool.shape[0], nrows)]


def tokenizer_metadata(n_vocab: int) -> list[tuple[str, object, object]]:
    """SmolLM2's tokenizer keys (key, value, type), its token list padded to n_vocab with unreachable tokens."""
    src = GGUFFile(TOKENIZER_SOURCE)
    out = []
    for key, value in src.metadata.items():
        if not key.startswith("tokenizer.") or key == "tokenizer.chat_template":
            continue
        if key == "tokenizer.ggml.tokens":
            if len(value) > n_vocab:
                raise ValueError(f"vocabulary {n_vocab} is smaller than the tokenizer's {len(value)} tokens")
            value = list(value) + [f"<pad{i}>" for i in range(len(value), n_vocab)]
        elif key == "tokenizer.ggml.token_type":
            value = np.concatenate([np.asarray(value, np.int32), np.ones(n_vocab - len(value), np.int32)])
        out.append((key, value, src.metadata_types[key]))
    return out


def make(size: str, ftype: str, out_dir: Path, n_vocab: int | None, pool: int, seed: int) -> Path:
    s = SIZES[size]
    if n_vocab:
        s = Shape(**{**s.__dict__, "n_vocab": n_vocab})
    path = out_dir / f"llama-{size}-{ftype}.gguf"
    scratch = path.with_suffix(".scratch")
    rng = np.random.default_rng(seed)
    rows = RowPool(pool, rng)
    t0 = time.perf_counter()
    w = GGUFWriter(path)
    for key, value in [
        ("general.architecture", "llama"),
        ("general.name", f"random Llama {size} {ftype} (benchmarks/make_models.py)"),
        ("llama.block_count", s.n_layer),
        ("llama.context_length", 131072),
        ("llama.embedding_length", s.n_embd),
        ("llama.feed_forward_length", s.n_ff),
        ("llama.attention.head_count", s.n_head),
        ("llama.attention.head_count_kv", s.n_head_kv),
        ("llama.rope.freq_base", 500000.0),
        ("llama.attention.layer_norm_rms_epsilon", 1e-5),
        ("llama.vocab_size", s.n_vocab),
        ("llama.rope.dimension_count", s.head_dim),
        ("general.file_type", FILE_TYPES[ftype][0]),
        ("general.quantization_version", 2),
    ]:
        w.add(key, value)
    for key, value, vtype in tokenizer_metadata(s.n_vocab):
        w.add(key, value, vtype)
    # stage the tensor bytes in a scratch file, then hand the writer memory-mapped slices of it
    layout = []
    with open(scratch, "wb") as f:
        for name, role, layer, shape in tensors(s):
            if role == "norm":
                data, qtype = np.ones(shape[0], np.float32).view(np.uint8), GGMLType.F32
            else:
                qtype = tensor_type(ftype, role, layer, s.n_layer, s.n_head // s.n_head_kv)
                data = rows.rows(qtype, shape[1], shape[0])
            layout.append((name, qtype, shape, f.tell(), data.nbytes))
            f.write(np.ascontiguousarray(data).tobytes())
    try:
        mm = np.memmap(scratch, np.uint8, mode="r")
        for name, qtype, shape, off, nbytes in layout:
            w.add_tensor(name, mm[off : off + nbytes], type=qtype, shape=shape)
        w.write()
        del mm, w
    finally:
        scratch.unlink()
    mix = {}
    for _, qtype, _, _, nbytes in layout:
        mix[qtype.name] = mix.get(qtype.name, 0) + nbytes
    print(
        f"{path}: {path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s; "
        + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in sorted(mix.items(), key=lambda kv: -kv[1]))
    )
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=list(SIZES), default="1b")
    ap.add_argument("--types", default="Q4_K_M", help=f"comma list of {', '.join(FILE_TYPES)}")
    ap.add_argument("--vocab", type=int, default=0, help="vocabulary size (default: the size's)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--pool", type=int, default=1 << 24, help="elements quantized per (type, row length); 0: all")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    types = [t.strip().upper() for t in args.types.split(",") if t.strip()]
    bad = [t for t in types if t not in FILE_TYPES]
    if bad:
        sys.exit(f"unknown file type(s) {bad}; choose from {', '.join(FILE_TYPES)}")
    if not TOKENIZER_SOURCE.exists():
        sys.exit(f"tokenizer source {TOKENIZER_SOURCE} missing: run `llamacore pull smollm2-135m-instruct`")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for t in types:
        make(args.size, t, out, args.vocab or None, args.pool, args.seed)
        os.sync()


if __name__ == "__main__":
    main()
