"""Hugging Face model folder -> GGUF, as llama.cpp's convert_hf_to_gguf.py does it, without torch.

    from llamacore.convert import convert
    paths = convert("path/to/SmolLM2-135M-Instruct", "smollm2-f16.gguf", outtype="f16")

Architectures: llama (and mistral), qwen2, qwen3, gemma3, phi3, bert (see archs.py). Tensors are read from memory-mapped
safetensors one at a time, converted and written, so memory stays near the size of the largest tensor; the output
goes to a temporary file in the destination folder that is renamed only once everything is written, so a failed or
interrupted run leaves nothing behind. Bad input raises ConvertError (a ValueError) with the file and the reason.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import quants
from ..gguf import GGMLType, GGUFValueType, GGUFWriter
from ..gguf.writer import _to_bf16
from .archs import ARCHS, F32_TENSORS, Arch, find_arch, pooling, supported, text_config
from .errors import ConvertError
from .safetensors import FLOAT_DTYPES, ModelWeights, SafetensorsFile
from .vocab import read_json, read_vocab

__all__ = ["ARCHS", "ConvertError", "OUTTYPES", "SafetensorsFile", "convert", "parse_size", "supported"]

# --outtype -> (the type of the weights that get it, general.file_type: llama_ftype)
OUTTYPES = {
    "f32": (GGMLType.F32, 0),
    "f16": (GGMLType.F16, 1),
    "bf16": (GGMLType.BF16, 32),
    "q8_0": (GGMLType.Q8_0, 7),
}
GGML_QUANT_VERSION = 2
_LAYER_ID = re.compile(r"^blk\.(\d+)\.")


@dataclass
class _Planned:
    name: str  # GGUF name
    shape: tuple[int, ...]  # GGUF order (ne[0] first)
    type: GGMLType
    nbytes: int
    produce: Callable[[], np.ndarray]


def parse_size(text: str | int) -> int:
    """--split-max-size as llama.cpp reads it: a number of bytes, optionally with K, M or G (powers of 1000)."""
    if isinstance(text, int):
        n = text
    else:
        s = text.strip()
        mult = {"K": 1000, "M": 1000**2, "G": 1000**3}.get(s[-1:].upper(), 1) if s else 1
        digits = s[:-1] if mult > 1 else s
        if not digits.isdigit():
            raise ConvertError(f"invalid split size {text!r}: a number, optionally followed by K, M or G")
        n = int(digits) * mult
    if n < 0:
        raise ConvertError(f"invalid split size {text!r}: must be positive")
    return n


def resolve_folder(model: str | os.PathLike) -> Path:
    """A local folder, or hf:ORG/REPO downloaded (config, tokenizer and safetensors files) with huggingface_hub."""
    text = os.fspath(model)
    if text.startswith("hf:"):
        repo = text[3:].strip("/")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ConvertError(f"'{text}': Hugging Face models are named hf:ORG/REPO")
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise ConvertError(f"'{text}' needs the huggingface_hub package: pip install 'llamacore[hf]'") from None
        patterns = ["*.json", "*.safetensors", "tokenizer.model", "*.jinja", "vocab.txt", "merges.txt", "*/config.json"]
        try:
            return Path(snapshot_download(repo_id=repo, allow_patterns=patterns))
        except Exception as e:  # network, 404, gated: huggingface_hub raises many kinds
            raise ConvertError(f"{text}: {type(e).__name__}: {e}") from e
    path = Path(text).expanduser()
    if not path.is_dir():
        raise ConvertError(f"{path} is not a folder (a Hugging Face model folder, or hf:ORG/REPO)")
    return path


def _tensor_type(name: str, ndim: int, ne0: int, weight_type: GGMLType) -> GGMLType:
    """The type llama.cpp's converter stores a tensor in (prepare_tensors)."""
    if ndim <= 1 or name.endswith("_norm.weight"):
        return GGMLType.F32
    if name in F32_TENSORS or not name.endswith(".weight"):
        return GGMLType.F32
    if weight_type == GGMLType.Q8_0 and ne0 % 32:
        return GGMLType.F16  # llama.cpp: QuantError, falling back to F16
    return weight_type


def _encode(a: np.ndarray, t: GGMLType) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float32)
    if t == GGMLType.F32:
        return a
    if t == GGMLType.F16:
        return a.astype(np.float16)
    if t == GGMLType.BF16:
        return _to_bf16(a)
    return quants.quantize(a, t)


def _auto_outtype(weights: ModelWeights, names: list[str]) -> str:
    """convert_hf_to_gguf's guess: the first matrix's dtype (bf16 -> bf16, f16 -> f16), else f16."""
    for n in names:
        info = weights.info(n)
        if len(info.shape) >= 2:
            return {"BF16": "bf16", "F16": "f16"}.get(info.dtype, "f16")
    return "f16"


def _plan(arch: Arch, config: dict, weights: ModelWeights, weight_type: GGMLType, n_vocab: int) -> list[_Planned]:
    plan: list[_Planned] = []
    seen: dict[str, str] = {}
    n_layer = config["num_hidden_layers"]

    def add(name: str, src: str, shape_np: tuple[int, ...], load: Callable[[], np.ndarray]) -> None:
        if name in seen:
            raise ConvertError(f"tensors '{seen[name]}' and '{src}' both map to '{name}'")
        seen[name] = src
        if (m := _LAYER_ID.match(name)) and int(m.group(1)) >= n_layer:
            raise ConvertError(f"tensor '{src}' is for layer {m.group(1)}, but config.json has {n_layer} layers")
        if any(d == 0 for d in shape_np):
            raise ConvertError(f"tensor '{src}' has an empty shape {shape_np}")
        t = _tensor_type(name, len(shape_np), shape_np[-1], weight_type)
        shape = tuple(reversed(shape_np))
        bs, ts = {GGMLType.F32: (1, 4), GGMLType.F16: (1, 2), GGMLType.BF16: (1, 2), GGMLType.Q8_0: (32, 34)}[t]
        nbytes = int(np.prod(shape, dtype=object)) // bs * ts

        def produce() -> np.ndarray:
            a = load()
            if a.shape != shape_np:
                raise ConvertError(f"tensor '{src}': shape {a.shape} after conversion, expected {shape_np}")
            try:
                return _encode(a, t)
            except ConvertError:
                raise
            except ValueError as e:  # e.g. NaN weights, which the block quantizers refuse
                raise ConvertError(f"tensor '{src}' cannot be stored as {t.name}: {e}") from None

        plan.append(_Planned(name, shape, t, nbytes, produce))

    for name, a in arch.extra_tensors(config):
        add(name, "(generated)", a.shape, lambda a=a: a)
    for hf in weights.names():
        name = arch.gguf_name(hf)
        if name is None:
            continue
        info = weights.info(hf)
        if info.dtype not in FLOAT_DTYPES:
            raise ConvertError(f"tensor '{hf}' is {info.dtype}; only floating-point weights can be converted")
        shape = info.shape
        rows = None
        if arch.name == "gemma3" and name == "token_embd.weight" and shape and shape[0] > n_vocab:
            rows, shape = n_vocab, (n_vocab, *shape[1:])  # Gemma 3: drop the embedding rows past the vocabulary

        def load(hf=hf, rows=rows) -> np.ndarray:
            a = weights.float32(hf)
            if rows is not None:
                a = a[:rows]
            return arch.transform(hf, a, config)

        add(name, hf, shape, load)
    if not plan:
        raise ConvertError(f"{weights.folder}: no tensors to convert")
    return plan


def _size_label(n: int) -> str:
    """gguf-py's model_weight_count_rounded_notation with two significant digits: 1.5M, 22M, 135M, 7.2B."""
    for limit, scale, suffix in ((1e12, 1e-12, "T"), (1e9, 1e-9, "B"), (1e6, 1e-6, "M"), (0, 1e-3, "K")):
        if n > limit or suffix == "K":
            x = n * scale
            fix = max(2 - len(str(round(x)).lstrip("0")), 0)
            return f"{x:.{fix}f}{suffix}"
    raise AssertionError


def _insert_after(d: dict, after: str, key: str, value) -> dict:
    out = {}
    for k, v in d.items():
        out[k] = v
        if k == after:
            out[key] = value
    return out


def _shards(plan: list[_Planned], max_size: int) -> list[list[_Planned]]:
    """gguf-py's split rule: a new shard when the next tensor would take the current one over max_size bytes."""
    shards: list[list[_Planned]] = [[]]
    for p in plan:
        if max_size and shards[-1] and sum(q.nbytes for q in shards[-1]) + p.nbytes > max_size:
            shards.append([])
        shards[-1].append(p)
    return shards


class _Progress:
    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc="converting",
                    file=sys.stderr,
                    dynamic_ncols=True,
                )

    def step(self, name: str, n: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def convert(
    model: str | os.PathLike,
    outfile: str | os.PathLike | None = None,
    *,
    outtype: str = "auto",
    vocab_only: bool = False,
    split_max_size: int | str = 0,
    pre: str | None = None,
    progress: bool | None = None,
) -> list[Path]:
    """Convert a Hugging Face model folder (or hf:ORG/REPO) to GGUF; returns the files written (several with
    split_max_size). outtype: f32, f16, bf16, q8_0 or auto (the weights' own 16-bit type). pre: force
    tokenizer.ggml.pre for a BPE vocabulary whose pre-tokenizer is not recognised. progress: a bar on stderr
    (default: when stderr is a terminal)."""
    if outtype not in (*OUTTYPES, "auto"):
        raise ConvertError(f"unknown outtype {outtype!r}; one of {', '.join([*OUTTYPES, 'auto'])}")
    max_size = parse_size(split_max_size)
    folder = resolve_folder(model)
    config = text_config(read_json(folder / "config.json", required=True))
    arch = find_arch(config)
    if not isinstance(config.get("num_hidden_layers"), int) or config["num_hidden_layers"] < 1:
        raise ConvertError(f"config.json lacks a positive 'num_hidden_layers', which a {arch.name} model needs")
    vocab = read_vocab(folder, config, kind=arch.vocab, arch=arch.name, pre=pre)
    weights = None if vocab_only else ModelWeights(folder)
    try:
        if outtype == "auto":
            outtype = _auto_outtype(weights, weights.names()) if weights is not None else "f16"
        weight_type, file_type = OUTTYPES[outtype]
        meta = [
            ("general.architecture", arch.name, GGUFValueType.STRING),
            ("general.type", "model", GGUFValueType.STRING),
            ("general.name", folder.name, GGUFValueType.STRING),
            *arch.metadata(config),
            *pooling(folder, arch),
            ("general.file_type", file_type, GGUFValueType.UINT32),
            ("general.quantization_version", GGML_QUANT_VERSION, GGUFValueType.UINT32),
            *vocab.meta,
        ]
        # a key given twice keeps its first place and its last value, as llama.cpp's writer does
        meta = {key: (value, vtype) for key, value, vtype in meta}
        plan = [] if weights is None else _plan(arch, config, weights, weight_type, vocab.n_tokens)
        if plan:  # llama.cpp's general.size_label: all parameters, rounded (gguf.size_label)
            n_params = sum(int(np.prod(p.shape, dtype=object)) for p in plan)
            meta = _insert_after(
                meta, "general.name", "general.size_label", (_size_label(n_params), GGUFValueType.STRING)
            )
        out = Path(outfile) if outfile is not None else folder / f"{folder.name}-{outtype.upper()}.gguf"
        if out.is_dir():
            out = out / f"{folder.name}-{outtype.upper()}.gguf"
        shards = _shards(plan, max_size) if plan else [[]]
        if progress is None:
            progress = sys.stderr is not None and sys.stderr.isatty()
        return _write(out, meta, shards, progress)
    finally:
        if weights is not None:
            weights.close()


def _write(out: Path, meta: dict, shards: list[list[_Planned]], progress: bool) -> list[Path]:
    n = len(shards)
    names = [out] if n == 1 else [out.with_name(f"{out.stem}-{i + 1:05d}-of-{n:05d}.gguf") for i in range(n)]
    out.parent.mkdir(parents=True, exist_ok=True)
    temps = [p.with_name(f".{p.name}.{os.getpid()}.partial") for p in names]
    bar = _Progress(progress, sum(p.nbytes for s in shards for p in s))
    try:
        n_tensors = sum(len(s) for s in shards)
        for i, (shard, tmp) in enumerate(zip(shards, temps, strict=True)):
            w = GGUFWriter(tmp)
            for key, (value, vtype) in (meta if i == 0 else {}).items():
                w.add(key, value, vtype)
            if n > 1:
                w.add("split.no", i, GGUFValueType.UINT16)
                w.add("split.count", n, GGUFValueType.UINT16)
                w.add("split.tensors.count", n_tensors, GGUFValueType.INT32)
            for p in shard:

                def produce(p=p) -> np.ndarray:
                    data = p.produce()
                    bar.step(p.name, p.nbytes)
                    return data

                w.add_tensor(p.name, produce, type=p.type, shape=p.shape)
            w.write()
        for tmp, final in zip(temps, names, strict=True):
            os.replace(tmp, final)
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    return names
