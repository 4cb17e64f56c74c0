"""Graph builder: model code that reads like eager code records nodes; the C++ runtime plans and runs them.

    g = Graph()
    x = g.get_rows(w("token_embd.weight"), g.tokens)          # [tokens, n_embd]
    h = g.rms_norm(x, w("blk.0.attn_norm.weight"), eps)
    q = g.matmul(w("blk.0.attn_q.weight"), h)                   # [tokens, n_head * head_dim]
    ...
    g.set_output(g.matmul(w("output.weight"), g.select_rows(x)))  # [outputs, n_vocab]
    program = g.compile(max_tokens=512, n_ctx=4096)              # llamacore._core.Program

A graph is recorded once per model. Activations are float32 [rows, cols] where rows is symbolic: "tokens" (the
rows of a call's batch) or "outputs" (the rows whose logits were asked for, picked by select_rows), so one compiled
program serves every batch size up to max_tokens. Per-call inputs are the tokens and positions tensors (plus the
sequence ids and output rows given to Program.run); they never cause a rebuild.

Weights are registered zero-copy: the uint8 (or float) numpy view over the GGUF mmap is handed to C++, which reads
it in place; the program keeps those arrays alive.

The C++ side checks every node when compiling (shapes, types, kernel support) and raises ValueError naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core

__all__ = ["Glu", "Graph", "RopeConfig", "Tensor", "Unary", "KV_TYPES", "ROPE_NEOX", "ROPE_NORMAL"]


# The enums shared with the C++ runtime are defined once, in C++ (csrc/bindings/bind_enums.cpp), and imported.
_Kind = _core.TensorKind
_Rows = _core.Rows
_Op = _core.Op
Glu = _core.Glu  # act(gate) * up; geglu uses gelu's tanh approximation
Unary = _core.Unary

# GGML type ids of the KV-cache formats, by lower-case name: the format table's rows the attention kernels read.
KV_TYPES = {name.lower(): t["id"] for name, t in _core.dtype_traits().items() if t["kv"]}

ROPE_NORMAL, ROPE_NEOX = int(_core.RopeMode.NORMAL), int(_core.RopeMode.NEOX)


@dataclass(frozen=True)
class RopeConfig:
    """ggml's rope parameters. mode ROPE_NORMAL rotates adjacent pairs, ROPE_NEOX halves of the first n_dims."""

    n_dims: int
    mode: int = ROPE_NORMAL
    freq_base: float = 10000.0
    freq_scale: float = 1.0
    ext_factor: float = 0.0
    attn_factor: float = 1.0
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    n_ctx_orig: int = 0


@dataclass(eq=False)
class Tensor:
    """A node's output, a weight, an input or a view. rows: "tokens", "outputs" or an int (weights)."""

    graph: Graph
    id: int
    rows: str | int
    cols: int
    name: str = ""

    def __add__(self, other: Tensor) -> Tensor:
        return self.graph.add(self, other)

    def __mul__(self, other: Tensor) -> Tensor:
        return self.graph.mul(self, other)

    def __repr__(self) -> str:
        return f"Tensor({self.name or self.id}, [{self.rows}, {self.cols}])"


@dataclass
class _Node:
    op: _core.Op
    inputs: list[int]
    out: int
    params: dict[str, int | float] = field(default_factory=dict)  # the fields of the op's table row, by name


_ROWS = {"tokens": _Rows.tokens, "outputs": _Rows.outputs}


class Graph:
    """Records a model's forward pass. Methods return Tensors; nothing is computed until compile().run()."""

    def __init__(self) -> None:
        self._tensors: list[dict] = []
        self._nodes: list[_Node] = []
        self._weights: dict[int, Tensor] = {}  # id(array) -> tensor, so a weight used twice is registered once
        self._output: Tensor | None = None
        self._n_attention = 0
        self.tokens = self._new(
            _Kind.input, "tokens", 1, "tokens", input=_core.Input.tokens
        )  # [tokens] int32 token ids
        self.positions = self._new(
            _Kind.input, "tokens", 1, "positions", input=_core.Input.positions
        )  # [tokens] int32 positions

    # ---- tensors ----
    def _new(self, kind: _core.TensorKind, rows, cols: int, name: str = "", **extra) -> Tensor:
        d = {"kind": kind, "cols": int(cols), "name": name, **extra}
        if isinstance(rows, str):
            d["rows_kind"] = _ROWS[rows]
        else:
            d["rows_kind"], d["rows"] = _Rows.fixed, int(rows)
        self._tensors.append(d)
        return Tensor(self, len(self._tensors) - 1, rows, int(cols), name)

    def weight(self, data: np.ndarray, ggml_type: int, shape: tuple[int, ...], name: str = "") -> Tensor:
        """A weight [rows, cols] (numpy order; a 1-D weight is one row) of GGML type ggml_type over `data`
        (its bytes, zero-copy: uint8 or the matching float dtype, C-contiguous)."""
        key = (id(data), data.__array_interface__["data"][0])
        if key in self._weights:
            return self._weights[key]
        rows, cols = (1, shape[0]) if len(shape) == 1 else (int(np.prod(shape[:-1])), shape[-1])
        t = self._new(_Kind.weight, rows, cols, name, dtype=_core.DType(int(ggml_type)), data=data)
        self._weights[key] = t
        return t

    def _intermediate(self, rows, cols: int, name: str = "") -> Tensor:
        return self._new(_Kind.intermediate, rows, cols, name)

    def _node(self, op: _core.Op, inputs, rows, cols: int, name: str = "", **params) -> Tensor:
        out = self._intermediate(rows, cols, name or f"{op.name}#{len(self._nodes)}")
        self._nodes.append(_Node(op, [t.id if t is not None else -1 for t in inputs], out.id, params))
        return out

    def view(self, x: Tensor, col_offset: int, cols: int, name: str = "") -> Tensor:
        """Columns [col_offset, col_offset + cols) of x (no copy)."""
        return self._new(_Kind.view, x.rows, cols, name, base=x.id, col_offset=int(col_offset))

    # ---- ops ----
    def get_rows(self, table: Tensor, ids: Tensor, name: str = "") -> Tensor:
        """[tokens, cols]: rows `ids` of table (embedding lookup, dequantized to float32)."""
        return self._node(_Op.get_rows, [table, ids], "tokens", table.cols, name)

    def matmul(self, w: Tensor, x: Tensor, bias: Tensor | None = None, name: str = "") -> Tensor:
        """[x.rows, w.rows] = x @ w^T (+ bias)."""
        return self._node(_Op.matmul, [w, x, bias], x.rows, w.rows, name)

    def rms_norm(self, x: Tensor, w: Tensor | None, eps: float, group: int = 0, name: str = "") -> Tensor:
        """x / sqrt(mean(x^2) + eps) * w over each row, or over each run of `group` columns (per-head norms)."""
        return self._node(_Op.rms_norm, [x, w], x.rows, x.cols, name, group=int(group), eps=float(eps))

    def layer_norm(self, x: Tensor, w: Tensor | None, b: Tensor | None, eps: float, name: str = "") -> Tensor:
        """(x - mean(x)) / sqrt(var(x) + eps) * w + b over each row (w, b: optional one-row F32 weights)."""
        return self._node(_Op.layer_norm, [x, w, b], x.rows, x.cols, name, eps=float(eps))

    def rope(
        self, x: Tensor, n_head: int, head_dim: int, cfg: RopeConfig, freq_factors: Tensor | None = None, name: str = ""
    ) -> Tensor:
        """Rotary embedding of each head of x [tokens, n_head * head_dim] at the batch's positions."""
        return self._node(
            _Op.rope,
            [x, self.positions, freq_factors],
            x.rows,
            x.cols,
            name,
            n_head=n_head,
            head_dim=head_dim,
            **{k: v for k, v in vars(cfg).items()},
        )

    def attention(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        *,
        n_head: int,
        n_head_kv: int,
        head_dim: int,
        head_dim_v: int | None = None,
        scale: float,
        sliding_window: int = 0,
        softcap: float = 0.0,
        name: str = "",
    ) -> Tensor:
        """Causal attention over the KV cache: stores this batch's k and v in the cells of each token's sequence,
        then q attends over that sequence's cells (positions <= its own; the last sliding_window positions when
        > 0). Each call adds one KV-cache layer. Returns [tokens, n_head * head_dim_v]."""
        hdv = head_dim if head_dim_v is None else head_dim_v
        layer = self._n_attention
        self._n_attention += 1
        heads = {"n_head": n_head, "n_head_kv": n_head_kv, "head_dim": head_dim, "head_dim_v": hdv}
        scores = {"scale": scale, "softcap": softcap, "sliding_window": sliding_window}
        return self._node(_Op.attention, [q, k, v], q.rows, n_head * hdv, name, layer=layer, **heads, **scores)

    def add(self, a: Tensor, b: Tensor, name: str = "") -> Tensor:
        """a + b; b may be a one-row F32 weight (broadcast)."""
        return self._node(_Op.add, [a, b], a.rows, a.cols, name)

    def mul(self, a: Tensor, b: Tensor, name: str = "") -> Tensor:
        """a * b; b may be a one-row F32 weight (broadcast)."""
        return self._node(_Op.mul, [a, b], a.rows, a.cols, name)

    def scale(self, x: Tensor, s: float, bias: float = 0.0, name: str = "") -> Tensor:
        return self._node(_Op.scale, [x], x.rows, x.cols, name, scale=s, bias=bias)

    def glu(self, kind: Glu, gate: Tensor, up: Tensor, name: str = "") -> Tensor:
        """act(gate) * up."""
        return self._node(_Op.glu, [gate, up], gate.rows, gate.cols, name, kind=int(kind))

    def unary(self, kind: Unary, x: Tensor, name: str = "") -> Tensor:
        return self._node(_Op.unary, [x], x.rows, x.cols, name, kind=int(kind))

    def softcap(self, x: Tensor, cap: float, name: str = "") -> Tensor:
        """cap * tanh(x / cap)."""
        return self._node(_Op.softcap, [x], x.rows, x.cols, name, softcap=cap)

    def select_rows(self, x: Tensor, name: str = "") -> Tensor:
        """[outputs, cols]: the rows of x whose logits the call asked for."""
        return self._node(_Op.select_rows, [x], "outputs", x.cols, name)

    def set_output(self, logits: Tensor) -> None:
        """Marks the logits [outputs, n_vocab]: the last node writes straight into the caller's array."""
        if logits.rows != "outputs":
            raise ValueError("the output needs a row per output: select_rows before the lm_head")
        d = self._tensors[logits.id]
        if d["kind"] != _Kind.intermediate:
            raise ValueError("the output must be a node's result")
        d["kind"] = _Kind.output
        self._output = logits

    def _node_dicts(self) -> list[dict]:
        """The nodes as the runtime reads them: {op, in, out, params (by field name)}."""
        return [{"op": n.op, "in": n.inputs, "out": n.out, "params": n.params} for n in self._nodes]

    @property
    def n_nodes(self) -> int:
        return len(self._nodes)

    def compile(
        self,
        *,
        max_tokens: int = 512,
        n_ctx: int = 4096,
        n_seq: int = 1,
        type_k: str = "f16",
        type_v: str = "f16",
        n_threads: int = 0,
        fuse: bool = True,
    ) -> _core.Program:
        """Plans the graph and allocates its KV cache (n_ctx cells shared out among n_seq sequences).

        fuse=False runs every node as its own step (for tests of the fusions)."""
        if self._output is None:
            raise ValueError("graph has no output: call set_output()")
        for name, t in (("type_k", type_k), ("type_v", type_v)):
            if t not in KV_TYPES:
                raise ValueError(f"{name}={t!r}: KV cache types are {', '.join(KV_TYPES)}")
        nodes = self._node_dicts()
        return _core.Program(
            self._tensors,
            nodes,
            max_tokens,
            n_ctx,
            n_seq,
            _core.DType(KV_TYPES[type_k]),
            _core.DType(KV_TYPES[type_v]),
            n_threads,
            fuse,
        )
