"""The model runner: a GGUF model's compiled graph, its KV cache, and one C++ call per forward pass.

    from llamacore.engine import Engine
    with Engine("model.gguf", n_ctx=4096) as e:
        logits = e.decode(tokens, positions)          # float32 [n_vocab] row of the last token, shape [1, n_vocab]
        e.kv_truncate(0, n_keep)                      # forget positions >= n_keep of sequence 0

Contract (stable; llamacore.llama and the server build on it):

Engine(model_path, *, n_ctx=4096, n_batch=512, n_threads=None, type_k="f16", type_v="f16", n_seq_max=1,
       verbose=False)
    n_ctx: KV cells in all (0: the model's training context); each of the n_seq_max sequences owns
    n_ctx // n_seq_max of them, so a sequence holds positions [0, n_ctx // n_seq_max). n_batch: the most tokens one
    forward call carries (longer inputs are split; at most n_ctx). n_threads: None = physical cores. type_k/type_v:
    KV cache element type, "f16" (default; also for None), "q8_0" or "f32" (or GGML type ids 1, 8, 0).
Attributes: metadata (dict), arch (str), n_vocab, n_ctx, n_ctx_train, n_embd, n_batch, n_seq_max, params
    (the architecture's hyperparameters).

decode(tokens, positions, seq_id=0, logits_all=False) -> float32 [n_rows, n_vocab]
    Runs the tokens (any length; split into n_batch chunks) of one sequence at the given positions, storing their
    keys/values in the cache. Returns every row's logits if logits_all, else only the last token's (one row).
decode_batch(tokens, positions, seq_ids, output_rows) -> float32 [len(output_rows), n_vocab]
    Tokens of several sequences at their own positions in one forward call (at most n_batch tokens);
    output_rows are indices into the batch whose logits are wanted, in the order given.
Both raise ValueError for token ids outside the vocabulary, positions outside [0, n_ctx // n_seq_max), unknown
    sequence ids, or a (sequence, position) given twice in one call; nothing is changed when they raise.
    Writing a position a sequence already holds replaces it.
kv_clear(seq_id=-1)               forget a sequence (-1: all)
kv_truncate(seq_id, n_keep)       forget positions >= n_keep (-1: all sequences); prefix reuse is truncate + decode
kv_copy(src_seq, dst_seq)         dst becomes a copy of src (shared prompts, n_seq_max > 1)
kv_n_past(seq_id)                 1 + the highest position the sequence holds (0 when empty)
close(); usable as a context manager.

The arrays returned are fresh (the caller may keep them). Calls on one Engine must not overlap (the GIL is
released during the forward pass; guard an Engine shared between threads with a lock).

KV cache layout: per-sequence regions of cells, cell = position (see csrc/include/llamacore/graph.h).

Above the Engine (the generation core Llama, the CLI and the server share): Session (session.py: one sequence's
tokens, longest-prefix reuse, its logits) and GenerationState (generation.py: one sequence's sampler chain,
constraint, stop detection and streaming text, stepped on a logits row without owning the forward pass).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .. import _core
from ..errors import ModelNotFoundError
from ..graph import KV_TYPES
from .generation import GenerationState, TokenEvent, Vocab, stream_generate
from .session import Session

__all__ = ["Engine", "GenerationState", "Session", "TokenEvent", "Vocab", "stream_generate"]

_KV_IDS = {v: k for k, v in KV_TYPES.items()}


def _kv_type(t) -> str:
    if t is None:
        return "f16"
    if isinstance(t, (int, np.integer)) and int(t) in _KV_IDS:
        return _KV_IDS[int(t)]
    if isinstance(t, str) and t.lower() in KV_TYPES:
        return t.lower()
    raise ValueError(f"unsupported KV cache type {t!r}: use one of {', '.join(KV_TYPES)}")


_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


def _i32(a, name: str) -> np.ndarray:
    """a as a contiguous 1-D int32 array; ValueError for non-integers or values outside int32 (never truncates)."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        if arr.ndim != 0:
            raise ValueError(f"{name} must be a 1-D sequence of integers")
        arr = arr.reshape(1)
    if arr.dtype != np.int32:
        if arr.size and arr.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integers, not {arr.dtype}")
        if arr.size and (arr.min() < _I32_MIN or arr.max() > _I32_MAX):
            raise ValueError(f"{name} has values outside int32")
        arr = arr.astype(np.int32)
    return np.ascontiguousarray(arr)


_KV_BYTES_PER_VALUE = {"f32": 4.0, "f16": 2.0, "q8_0": 34 / 32}  # q8_0: 32 values in 34 bytes


def physical_memory_bytes() -> int | None:
    """This machine's RAM (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _per_layer(v, n_layer: int) -> list[int]:
    return [int(x) for x in v] if isinstance(v, (tuple, list)) else [int(v)] * n_layer


def _check_kv_fits(hp, n_ctx: int, type_k: str, type_v: str) -> None:
    """Refuse, before anything is allocated, a context whose KV cache alone exceeds the machine's memory (a typo'd
    n_ctx, or a file's absurd context length asked for with n_ctx=0), naming the bytes it would need."""
    n_layer = int(hp.n_layer)
    kv_heads = _per_layer(hp.n_head_kv, n_layer)
    k_dim = _per_layer(getattr(hp, "head_dim", 0), n_layer)
    v_dim = _per_layer(getattr(hp, "head_dim_v", None) or getattr(hp, "head_dim", 0), n_layer)
    per_cell = sum(h * (k * _KV_BYTES_PER_VALUE[type_k] + v * _KV_BYTES_PER_VALUE[type_v])
                   for h, k, v in zip(kv_heads, k_dim, v_dim, strict=True))  # fmt: skip
    need = per_cell * n_ctx
    have = physical_memory_bytes()
    if have is not None and need > have:
        raise ValueError(
            f"n_ctx={n_ctx} needs {need:,.0f} bytes ({need / 2**30:,.1f} GiB) of KV cache ({type_k}/{type_v}), more "
            f"than this machine's {have / 2**30:,.1f} GiB of memory: ask for a smaller n_ctx"
        )


class Engine:
    """A loaded model ready to run forward passes (see the module docstring for the contract)."""

    def __init__(
        self,
        model_path,
        *,
        n_ctx: int = 4096,
        n_batch: int = 512,
        n_threads: int | None = None,
        type_k="f16",
        type_v="f16",
        n_seq_max: int = 1,
        verbose: bool = False,
    ):
        from ..gguf import GGUFFile
        from ..models import build_graph

        path = Path(os.fspath(model_path))
        if not path.is_file():
            raise ModelNotFoundError(f"model file not found: {path}")
        if n_batch < 1:
            raise ValueError("n_batch must be >= 1")
        if n_seq_max < 1:
            raise ValueError("n_seq_max must be >= 1")
        if n_threads is not None and n_threads < 0:
            raise ValueError("n_threads must be >= 0 (None or 0: physical cores)")
        self._program = None
        self._no_rows = np.empty(0, dtype=np.int32)
        self._file = GGUFFile(path)
        try:
            self.metadata = dict(self._file.metadata)
            self.arch = str(self.metadata.get("general.architecture"))
            graph, hp = build_graph(self._file, n_ctx=n_ctx)
            self.params = hp
            self.n_ctx_train = hp.n_ctx_train
            self.n_ctx = int(n_ctx) if n_ctx and n_ctx > 0 else hp.n_ctx_train
            if self.n_ctx < n_seq_max:
                raise ValueError(f"n_ctx ({self.n_ctx}) must be at least n_seq_max ({n_seq_max})")
            self.n_vocab = hp.n_vocab
            self.n_embd = hp.n_embd
            self.n_batch = min(int(n_batch), self.n_ctx)  # as llama.cpp: a batch never exceeds the context
            self.n_seq_max = int(n_seq_max)
            self.n_threads = int(n_threads or _core.physical_core_count())
            _check_kv_fits(hp, self.n_ctx, _kv_type(type_k), _kv_type(type_v))
            self._program = graph.compile(
                max_tokens=self.n_batch,
                n_ctx=self.n_ctx,
                n_seq=self.n_seq_max,
                type_k=_kv_type(type_k),
                type_v=_kv_type(type_v),
                n_threads=self.n_threads,
            )
            self.n_ctx_seq = self._program.n_ctx_seq
        except BaseException:
            self.close()
            raise
        if verbose:
            s = self._program.stats()
            print(
                f"llamacore engine: {self.arch}, {hp.n_layer} layers, n_ctx {self.n_ctx}, n_batch {self.n_batch}, "
                f"{self.n_threads} threads, {s['n_nodes']} nodes in {s['n_steps']} steps, {s['n_barriers']} barriers, "
                f"arena {s['arena_bytes'] / 2**20:.1f} MiB, KV {s['kv_bytes'] / 2**20:.1f} MiB ({_core.system_info()})",
                file=sys.stderr,
            )

    # ---- forward passes ----
    def decode(self, tokens, positions, seq_id: int = 0, logits_all: bool = False) -> np.ndarray:
        p = self._require()
        tokens, positions = _i32(tokens, "tokens"), _i32(positions, "positions")
        n = tokens.shape[0]
        if n == 0:
            raise ValueError("decode: no tokens")
        if positions.shape[0] != n:
            raise ValueError(f"decode: {n} tokens but {positions.shape[0]} positions")
        out = np.empty((n if logits_all else 1, self.n_vocab), dtype=np.float32)
        seq_id = int(seq_id)
        if n <= self.n_batch:  # one call: the C++ side checks everything before it changes anything
            seqs = None if seq_id == 0 else np.full(n, seq_id, dtype=np.int32)
            rows = np.arange(n, dtype=np.int32) if logits_all else np.array([n - 1], dtype=np.int32)
            p.run(tokens, positions, seqs, rows, out)
            return out
        self._check(tokens, positions, np.full(1, seq_id, dtype=np.int64))
        seqs = np.full(self.n_batch, seq_id, dtype=np.int32)
        for a in range(0, n, self.n_batch):
            b = min(n, a + self.n_batch)
            if logits_all:
                rows, dst = np.arange(b - a, dtype=np.int32), out[a:b]
            else:
                last = b == n
                rows, dst = (np.array([b - a - 1], dtype=np.int32) if last else self._no_rows), out
            p.run(tokens[a:b], positions[a:b], seqs[: b - a], rows, dst)
        return out

    def decode_batch(self, tokens, positions, seq_ids, output_rows) -> np.ndarray:
        p = self._require()
        tokens, positions = _i32(tokens, "tokens"), _i32(positions, "positions")
        seq_ids, rows = _i32(seq_ids, "seq_ids"), _i32(output_rows, "output_rows")
        n = tokens.shape[0]
        if n == 0:
            raise ValueError("decode_batch: no tokens")
        if not (positions.shape[0] == seq_ids.shape[0] == n):
            raise ValueError("decode_batch: tokens, positions and seq_ids must have the same length")
        if n > self.n_batch:
            raise ValueError(f"decode_batch: {n} tokens, more than n_batch = {self.n_batch}")
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ValueError("decode_batch: output_rows must be indices into the batch")
        out = np.empty((rows.shape[0], self.n_vocab), dtype=np.float32)
        p.run(tokens, positions, seq_ids, rows, out)
        return out

    def _check(self, tokens, positions, seq_ids) -> None:
        """What the C++ side would reject, checked before the first of several calls so that nothing changes on
        error (a single call is checked by the C++ side before it touches the cache)."""
        if tokens.min() < 0 or tokens.max() >= self.n_vocab:
            bad = tokens[(tokens < 0) | (tokens >= self.n_vocab)][0]
            raise ValueError(f"token id {bad} is outside the vocabulary [0, {self.n_vocab})")
        if positions.min() < 0 or positions.max() >= self.n_ctx_seq:
            raise ValueError(
                f"position {int(positions.max() if positions.max() >= 0 else positions.min())} is "
                f"outside the context [0, {self.n_ctx_seq}) (n_ctx {self.n_ctx}, {self.n_seq_max} "
                "sequences)"
            )
        if seq_ids.min() < 0 or seq_ids.max() >= self.n_seq_max:
            raise ValueError(f"sequence id outside [0, {self.n_seq_max}) (n_seq_max)")
        keys = positions.astype(np.int64) + (seq_ids.astype(np.int64) << 32 if seq_ids.size > 1 else 0)
        if np.unique(keys).size != keys.size:
            raise ValueError("a (sequence, position) pair appears twice in one call")

    # ---- KV cache ----
    def kv_clear(self, seq_id: int = -1) -> None:
        self._require().kv_clear(int(seq_id))

    def kv_truncate(self, seq_id: int, n_keep: int) -> None:
        self._require().kv_truncate(int(seq_id), int(n_keep))

    def kv_copy(self, src_seq: int, dst_seq: int) -> None:
        self._require().kv_copy(int(src_seq), int(dst_seq))

    def kv_n_past(self, seq_id: int = 0) -> int:
        return self._require().kv_n_past(int(seq_id))

    def stats(self) -> dict:
        """The plan: nodes, barriers, arena, work and KV bytes."""
        return dict(self._require().stats())

    # ---- lifetime ----
    def _require(self):
        if self._program is None:
            raise ValueError("the engine is closed")
        return self._program

    def close(self) -> None:
        self._program = None  # releases the weight views before the mmap closes
        f, self._file = getattr(self, "_file", None), None
        if f is not None:
            f.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
