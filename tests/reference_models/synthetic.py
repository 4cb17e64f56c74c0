"""Small random GGUF models of any architecture llamacore declares, written with llamacore's GGUF writer and quantizers.

write_model(path, arch, seed=0, **sizes) writes a file llamacore and the float64 references both load. What goes in
it comes from the architecture's declaration (llamacore.models.<arch>.ARCH): the metadata keys of its
hyperparameters and its tensors with their declared shapes; nothing here is written per architecture. The
reference models (the other modules of this package) do not read the declaration: they are the independent check.

Weights mix several GGML types (F32, F16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K), so the runtime's matmuls meet the formats of
real files; the reference dequantizes the same bytes, so only the arithmetic differs.
"""

from __future__ import annotations

import numpy as np

from llamacore.gguf import GGMLType, GGUFWriter
from llamacore.models import Architecture, lookup
from llamacore.quants import quantize

# Sizes (hyperparameter names): head_dim 32 keeps a q8_0 KV cache possible; n_ff 256 allows K-quants for ffn_down.
BASE = dict(
    n_vocab=320,
    n_embd=128,
    n_ff=256,
    n_layer=3,
    n_head=4,
    n_head_kv=2,
    head_dim=32,
    n_ctx_train=512,
    eps=1e-6,
    rope_freq_base=10000.0,
)

# Cycled over the matrices (a type is skipped when the row length is not a multiple of its block).
TYPES = [GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.F16, GGMLType.Q5_0, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.F32]
BLOCK = {GGMLType.Q4_K: 256, GGMLType.Q6_K: 256, GGMLType.F16: 1, GGMLType.F32: 1}


def _tensor(w: GGUFWriter, name: str, a: np.ndarray, qtype: GGMLType) -> None:
    a = np.ascontiguousarray(a, dtype=np.float32)
    if qtype == GGMLType.F32:
        w.add_tensor(name, a)
    elif qtype == GGMLType.F16:
        w.add_tensor(name, a.astype(np.float16))
    else:
        rows = a.reshape(-1, a.shape[-1])
        w.add_tensor(name, quantize(rows, int(qtype)), type=qtype, shape=tuple(reversed(a.shape)))


class _Filler:
    """Random contents by the declared kind of tensor. Large embeddings and lm_head give peaked next-token
    distributions, so top-1 agreement means something."""

    def __init__(self, w: GGUFWriter, rng: np.random.Generator, values: dict):
        self.w, self.rng, self.values = w, rng, values
        self.k = 0  # next index into TYPES
        self.n_factors = 0

    def __call__(self, name: str, spec, shape: tuple[int, ...]) -> None:
        cols = shape[-1]
        if spec.kind == "norm":
            return _tensor(self.w, name, 1.0 + 0.2 * self.rng.standard_normal(shape), GGMLType.F32)
        if spec.kind == "bias":
            return _tensor(self.w, name, 0.5 * self.rng.standard_normal(shape), GGMLType.F32)
        if spec.kind == "factors":  # rope frequency divisors, 1 for high frequencies up to 8, 16, ... for low ones
            self.n_factors += 1
            return _tensor(self.w, name, np.linspace(1.0, 8.0 * self.n_factors, cols), GGMLType.F32)
        std = spec.std_for(self.values)
        if std is None:
            std = {"embedding": 1.0, "output": 4.0 * cols**-0.5}.get(spec.kind, cols**-0.5)
        while True:
            qtype = TYPES[self.k % len(TYPES)]
            self.k += 1
            if cols % BLOCK.get(qtype, 32) == 0:
                break
        _tensor(self.w, name, self.rng.standard_normal(shape) * std, qtype)


def _hparams(arch: Architecture, sizes: dict) -> tuple[dict, dict]:
    """(every hyperparameter's value, the metadata keys to write). Given values (BASE, the declaration's examples,
    the caller's sizes) are written unless the file would derive the same value without them."""
    given = {**BASE, **{h.name: h.example for h in arch.all_hparams if h.example is not None}, **sizes}
    values, keys = {}, {}
    for h in arch.all_hparams:
        n_layer = values.get("n_layer")
        if h.name in given:
            v = h.convert(given[h.name], h.name, n_layer)
            if h.key and (h.derive is None or v != h.convert(h.derived(values), h.name, n_layer)):
                keys[h.key] = list(v) if isinstance(v, tuple) else v
        else:
            v = h.derived(values) if h.derive else h.default
            v = None if v is None else h.convert(v, h.name, n_layer)
        values[h.name] = v
    return values, keys


def write_model(
    path, arch: str | Architecture, seed: int = 0, *, omit=(), metadata=None, all_tensors=False, **sizes
) -> dict:
    """Writes a random model of `arch` (a declared architecture or alias, or a declaration); returns the
    hyperparameters' values. sizes: hyperparameters by name (n_embd=64, sliding_window=4, ...). omit: tensors to
    leave out ("output.weight"; a per-layer name such as "ffn_up.weight" for every layer, or "blk.1.ffn_up.weight").
    metadata: keys to add or replace (None: remove) after the declared ones. all_tensors: also the optional tensors
    that synthetic models leave out by default (example=False)."""
    spec = arch if isinstance(arch, Architecture) else lookup(arch)
    name = arch if isinstance(arch, str) else spec.name
    unknown = set(sizes) - {h.name for h in spec.all_hparams}
    if unknown:
        raise TypeError(f"{spec.name} has no hyperparameter(s) {', '.join(sorted(unknown))}")
    values, keys = _hparams(spec, sizes)
    kv = {"general.architecture": name, "general.name": f"synthetic {name}"}
    kv.update({f"{name}.{k}": v for k, v in keys.items()})
    kv.update(metadata or {})
    kv = {k: v for k, v in kv.items() if v is not None}  # metadata={key: None} removes a key
    w = GGUFWriter(path)
    for k, v in kv.items():
        w.add(k, v)
    fill = _Filler(w, np.random.default_rng(seed), values)
    for t, i, tname in spec.expected(values):
        if (t.optional and not t.example and not all_tensors) or tname in omit or (i is not None and t.name in omit):
            continue
        fill(tname, t, t.shape_for(values, i))
    w.write()
    return values
