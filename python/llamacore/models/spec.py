"""What an architecture file declares: its hyperparameters, its tensors and its graph.

    ARCH = Architecture(
        name="newarch",                       # = general.architecture and the file name
        build=build,                          # build(g, hp, w, n_ctx): records one batch's forward pass
        rope_mode=ROPE_NEOX,
        hparams=(HParam("sliding_window", "attention.sliding_window", default=0),),  # beyond COMMON
        tensors=(EMBEDDING, *OUTPUT),         # file-level tensors
        layer=(*ATTENTION, *QK_NORM, *FFN),   # tensors of every layer, named without the "blk.{i}." prefix
    )

Shapes and derived values are Python expressions over the hyperparameters' names, checked when the declaration is
made: "n_head * head_dim, n_embd". Shapes are in numpy order ([rows, cols], GGUF's ne reversed). The same
declaration serves llamacore.models (reading a file: read_params, check_tensors, and Weights, which only hands out
declared tensors) and the tests (tests/reference_models/synthetic.py writes a small random file of any declared
architecture; tests/test_models.py runs every declared one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import GGUFError
from ..graph import RopeConfig

_FUNCTIONS = {"sqrt": math.sqrt}  # what expressions may call besides shape(name) (derived hyperparameters only)


def _compile(expr: str, what: str):
    try:
        return compile(expr, f"<{what}>", "eval")
    except SyntaxError as e:
        raise ValueError(f"{what}: bad expression {expr!r}: {e.msg}") from None


def _no_file(name: str):
    raise ValueError(f"shape({name!r}) needs a model file")


def _evaluate(code, names: Mapping[str, Any]):
    return eval(code, {"__builtins__": {}, **_FUNCTIONS}, dict(names))  # declarations are code, not file input


@dataclass(frozen=True)
class HParam:
    """One hyperparameter: the attribute `name` of Params, read from the GGUF key `{architecture}.{key}`.

    When the file lacks the key: an error if `required`, else the value of `derive` (an expression over the
    hyperparameters declared before this one, and shape("tensor name")), else `default`. per_layer: the file may
    hold one value per layer (an array) or one for all; the value is then a tuple of n_layer values. minimum: the
    smallest value a file may hold (sizes: 1, so that nothing divides by zero or builds an empty model). example: the
    value small synthetic test models use (None: the test writer's size table, else left out of the file)."""

    name: str
    key: str | None
    type: type = int
    default: Any = None
    derive: str | None = None
    required: bool = False
    per_layer: bool = False
    minimum: int | float | None = None
    example: Any = None

    def __post_init__(self):
        if self.type not in (int, float, str, bool):
            raise ValueError(f"hyperparameter {self.name}: type must be int, float, str or bool")
        object.__setattr__(self, "_code", _compile(self.derive, self.name) if self.derive else None)

    def derived(self, names: Mapping[str, Any], shape: Callable[[str], tuple[int, ...]] | None = None):
        """The value of `derive` given the hyperparameters before this one (shape(name): a file's tensor shape)."""
        return _evaluate(self._code, {**names, "shape": shape or _no_file})

    def convert(self, value, key: str, n_layer: int | None):
        """The file's value as this parameter's type (a tuple of n_layer values if per_layer); GGUFError if not."""
        if isinstance(value, (list, tuple, np.ndarray)):
            if not self.per_layer:
                raise GGUFError(f"{key} holds {len(value)} values (one per layer?); llamacore reads one value here")
            if len(value) != n_layer:
                raise GGUFError(f"{key} holds {len(value)} values for {n_layer} layers")
            return tuple(self._scalar(v, key) for v in value)
        v = self._scalar(value, key)
        return (v,) * n_layer if self.per_layer and n_layer is not None else v

    def _scalar(self, v, key: str):
        if isinstance(v, np.generic):
            v = v.item()
        if self.type is str:
            if not isinstance(v, str):
                raise GGUFError(f"{key} must be a string, not {type(v).__name__}")
            return v
        if self.type is bool:
            if isinstance(v, bool) or v in (0, 1):
                return bool(v)
            raise GGUFError(f"{key} must be a bool, not {v!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise GGUFError(f"{key} must be a number, not {type(v).__name__}")
        if self.type is int and v != int(v):
            raise GGUFError(f"{key} must be a whole number, not {v}")
        if self.minimum is not None and v < self.minimum:
            raise GGUFError(f"{key} is {v}; it must be at least {self.minimum}")
        return self.type(v)


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: its GGUF name (per-layer ones without "blk.{i}."), its shape as expressions over the
    hyperparameters, in numpy order, and whether the file may lack it.

    tied: the tensor used instead when the file lacks this one (output.weight -> token_embd.weight); implies
    optional. when: for per-layer tensors, an expression over the hyperparameters and the layer index i telling
    which layers have it (None: all). kind says what the tensor is, which is how a synthetic test model fills it:
    weight (a matrix), embedding, output (the lm_head), norm, bias, factors (rope frequency divisors).
    example: synthetic models include it (optional tensors); example_std: their random weights' spread."""

    name: str
    shape: str
    kind: str = "weight"
    optional: bool = False
    tied: str | None = None
    when: str | None = None
    example: bool = True
    example_std: str | None = None

    KINDS = ("weight", "embedding", "output", "norm", "bias", "factors")

    def __post_init__(self):
        if self.kind not in self.KINDS:
            raise ValueError(f"tensor {self.name}: kind must be one of {', '.join(self.KINDS)}")
        if self.tied:
            object.__setattr__(self, "optional", True)
        object.__setattr__(self, "_shape", _compile(f"({self.shape},)", f"shape of {self.name}"))
        object.__setattr__(self, "_when", _compile(self.when, f"when of {self.name}") if self.when else None)
        std = self.example_std
        object.__setattr__(self, "_std", _compile(std, f"example_std of {self.name}") if std else None)

    def shape_for(self, names: Mapping[str, Any], i: int | None = None) -> tuple[int, ...]:
        """The shape for these hyperparameters (per-layer tensors: of layer i, for per-layer hyperparameters)."""
        return tuple(int(d) for d in _evaluate(self._shape, names if i is None else {**names, "i": i}))

    def in_layer(self, names: Mapping[str, Any], i: int) -> bool:
        return self._when is None or bool(_evaluate(self._when, {**names, "i": i}))

    def std_for(self, names: Mapping[str, Any]) -> float | None:
        """example_std's value (None when not declared)."""
        return None if self._std is None else float(_evaluate(self._std, names))

    def codes(self):
        return [c for c in (self._shape, self._when, self._std) if c is not None]


def optional(*specs: TensorSpec, example: bool = False) -> tuple[TensorSpec, ...]:
    """The specs as optional tensors (by default left out of synthetic test models)."""
    return tuple(replace(s, optional=True, example=example) for s in specs)


# The hyperparameters every architecture reads, with llama.cpp's keys and defaults.
COMMON = (
    HParam("n_vocab", None, derive="shape('token_embd.weight')[0]"),
    HParam("n_ctx_train", "context_length", default=2048, minimum=1),
    HParam("n_embd", "embedding_length", required=True, minimum=1),
    HParam("n_layer", "block_count", required=True, minimum=1),
    HParam("n_ff", "feed_forward_length", required=True, minimum=1),
    HParam("n_head", "attention.head_count", required=True, minimum=1),
    HParam("n_head_kv", "attention.head_count_kv", derive="n_head", minimum=1),
    HParam("head_dim", "attention.key_length", derive="n_embd // n_head", minimum=1),
    HParam("head_dim_v", "attention.value_length", derive="head_dim", minimum=1),
    HParam("eps", "attention.layer_norm_rms_epsilon", float, default=1e-5),
    HParam("n_rot", "rope.dimension_count", derive="head_dim", minimum=1),
    HParam("rope_freq_base", "rope.freq_base", float, default=10000.0),
    HParam("rope_scaling", "rope.scaling.type", str, default="none"),
    HParam("rope_scaling_factor", "rope.scaling.factor", float, default=0.0),
    HParam("rope_attn_factor", "rope.scaling.attn_factor", float, default=1.0),
    HParam("n_ctx_orig", "rope.scaling.original_context_length", derive="n_ctx_train"),
)


class Params:
    """A model file's hyperparameters: one attribute per declared HParam, plus arch (general.architecture) and
    rope (the ggml rope parameters for the architecture's rope mode)."""

    arch: str
    rope: RopeConfig

    def __init__(self, arch: str, values: dict, rope_mode: int):
        self.__dict__.update(values)
        self.arch = arch
        self.rope = rope_config(values, rope_mode)

    def names(self) -> dict:
        """The hyperparameters by name (what declaration expressions see)."""
        return {k: v for k, v in vars(self).items() if k not in ("arch", "rope")}

    def __repr__(self) -> str:
        return f"Params({self.arch}: " + ", ".join(f"{k}={v}" for k, v in self.names().items()) + ")"


def rope_config(v: Mapping[str, Any], mode: int) -> RopeConfig:
    """ggml rope parameters from rope.freq_base and rope.scaling.* (linear, yarn); llama3's scaling comes as the
    rope_freqs.weight tensor instead, phi3's LongRoPE as rope_factors_{short,long}.weight."""
    kind = v["rope_scaling"] or "none"
    freq_scale = 1.0 / (v["rope_scaling_factor"] or 1.0) if kind in ("linear", "yarn") else 1.0
    return RopeConfig(
        n_dims=v["n_rot"],
        mode=mode,
        freq_base=v["rope_freq_base"],
        freq_scale=freq_scale,
        ext_factor=1.0 if kind == "yarn" else 0.0,
        attn_factor=v["rope_attn_factor"],
        n_ctx_orig=v["n_ctx_orig"],
    )


@dataclass(frozen=True)
class Architecture:
    """An architecture's declaration (see the module docstring); one per file under models/, named ARCH."""

    name: str
    build: Callable[..., None]  # build(g: Graph, hp: Params, w: Weights, n_ctx: int) -> None
    rope_mode: int
    hparams: tuple[HParam, ...] = ()
    tensors: tuple[TensorSpec, ...] = ()
    layer: tuple[TensorSpec, ...] = ()
    aliases: tuple[str, ...] = ()
    all_hparams: tuple[HParam, ...] = field(init=False, repr=False)
    _specs: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        merged = {h.name: h for h in COMMON}
        merged.update({h.name: h for h in self.hparams})  # same name: the architecture's replaces the common one
        object.__setattr__(self, "all_hparams", tuple(merged.values()))
        reserved = {"arch", "rope", "names", "i", "shape", *_FUNCTIONS}  # Params' own, and what expressions see
        if set(merged) & reserved:
            raise ValueError(f"{self.name}: hyperparameter names must differ from {', '.join(sorted(reserved))}")
        known = set(merged) | set(_FUNCTIONS) | {"shape"}
        for i, h in enumerate(self.all_hparams):
            self._check_names(h._code, set(list(merged)[:i]) | set(_FUNCTIONS) | {"shape"}, f"hparam {h.name}")
        for s in self.tensors + self.layer:
            for code in s.codes():
                self._check_names(code, known | ({"i"} if s in self.layer else set()), f"tensor {s.name}")
        specs = {s.name: s for s in self.tensors} | {f"blk.{s.name}": s for s in self.layer}
        if len(specs) != len(self.tensors) + len(self.layer):
            raise ValueError(f"{self.name}: a tensor is declared twice")
        object.__setattr__(self, "_specs", specs)

    def _check_names(self, code, allowed: set, what: str) -> None:
        if code is not None and not set(code.co_names) <= allowed:
            unknown = ", ".join(sorted(set(code.co_names) - allowed))
            raise ValueError(f"{self.name} {what}: unknown name(s) {unknown} (hyperparameters declared before it)")

    # ---- reading a file ----
    def read_params(self, metadata: Mapping, tensors: Mapping) -> Params:
        """The hyperparameters of a file (keys prefixed by its general.architecture, which may be an alias);
        GGUFError naming every required key it lacks, or a value of the wrong type."""
        arch = str(metadata.get("general.architecture", self.name))

        def shape(name: str) -> tuple[int, ...]:
            t = tensors.get(name)
            if t is None:
                raise GGUFError(f"{arch} model lacks tensor {name}")
            return tuple(int(s) for s in reversed(t.shape))

        values: dict[str, Any] = {}
        missing = []
        for h in self.all_hparams:
            key = f"{arch}.{h.key}" if h.key else None
            raw = metadata.get(key) if key else None
            if raw is not None:
                values[h.name] = h.convert(raw, key, values.get("n_layer"))
            elif h.required:
                missing.append(key)
                values[h.name] = None
            elif missing:  # derivations may depend on what is missing; the error below names it
                values[h.name] = None
            else:
                v = h.derived(values, shape) if h.derive else h.default
                what = f"{h.name} = {h.derive}" if h.derive else h.name
                values[h.name] = h.convert(v, what, values.get("n_layer")) if v is not None else None
        if missing:
            raise GGUFError(f"{arch} model metadata lacks {', '.join(missing)}")
        if values["n_head"] % values["n_head_kv"]:
            raise GGUFError(f"head_count {values['n_head']} is not a multiple of head_count_kv {values['n_head_kv']}")
        return Params(arch, values, self.rope_mode)

    def expected(self, names: Mapping[str, Any]):
        """(spec, layer or None, GGUF name) of every tensor the declaration has for these hyperparameters."""
        for s in self.tensors:
            yield s, None, s.name
        for i in range(names["n_layer"]):
            for s in self.layer:
                if s.in_layer(names, i):
                    yield s, i, f"blk.{i}.{s.name}"

    def check_tensors(self, hp: Params, tensors: Mapping) -> None:
        """GGUFError naming the architecture and every required tensor the file lacks or whose shape differs from
        the declaration."""
        names = hp.names()
        missing: dict[str, list] = {}
        wrong = []
        for s, i, name in self.expected(names):
            t = tensors.get(name)
            if t is None:
                if not s.optional:
                    missing.setdefault(s.name, []).append(i)
                continue
            have, want = tuple(int(d) for d in reversed(t.shape)), s.shape_for(names, i)
            if have != want:
                wrong.append(f"{name} has shape {list(have)}, declared [{s.shape}] = {list(want)}")
        problems = []
        if missing:
            problems.append("lacks " + ", ".join(_missing(n, layers, hp.n_layer) for n, layers in missing.items()))
        problems += wrong[:6] + ([f"{len(wrong) - 6} more tensors have other shapes"] if len(wrong) > 6 else [])
        if problems:
            raise GGUFError(f"{hp.arch} model file does not match the {self.name} architecture: " + "; ".join(problems))

    def spec(self, name: str) -> TensorSpec | None:
        """The declaration of a GGUF tensor name ("blk.3.attn_q.weight" -> the layer's attn_q.weight)."""
        if name.startswith("blk."):
            name = "blk." + name[4:].partition(".")[2]
        return self._specs.get(name)


def _missing(name: str, layers: list, n_layer: int) -> str:
    if layers == [None]:
        return name
    if len(layers) == n_layer:
        return f"blk.*.{name} (all {n_layer} layers)"
    if len(layers) == 1:
        return f"blk.{layers[0]}.{name}"
    shown = ", ".join(str(i) for i in layers[:8]) + (", ..." if len(layers) > 8 else "")
    return f"blk.{{{shown}}}.{name}"
