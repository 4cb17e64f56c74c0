"""CPU matmul kernels: GB/s of weight bytes for the matrix-vector product and GFLOP/s for the matrix-matrix product,
per weight format and thread count, beside this machine's streaming-read bandwidth and beside llama.cpp's ggml
kernels when the peer venv (../shared/tools/peer.sh) is installed.

    PYTHONPATH=python python benchmarks/bench_kernels.py                # best level, 1 and 2 threads
    PYTHONPATH=python python benchmarks/bench_kernels.py --levels all --formats Q4_0,Q8_0,Q4_K

The matrix-vector product reads a weight matrix of k = 4096 columns and, by default, enough rows for 256 MiB of
weights in every format (several times the last-level cache, so the weights come from DRAM on every run), so its GB/s
is comparable with the machine's read bandwidth, measured the same way (a streaming read of 512 MiB, same threads).
Every figure is the best of several runs (other work on the machine only ever slows a run down). llama.cpp is driven
through ctypes on its own ggml library: ggml_mul_mat on the same bytes with a persistent ggml thread pool; that is its
generic (non-repacked) CPU path, what llama.cpp runs for formats it does not repack.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from llamacore import _core, ops  # noqa: E402

# Figures from ../shared/notes/kernels-and-speed.md (2 cores, Zen 5), printed as the compute roofs.
ROOF_FP32_GFLOPS = {1: 231, 2: 464}
ROOF_INT8_GOPS = {1: 917, 2: 1670}

READ_BYTES = 512 << 20  # streaming-read buffer: far larger than any last-level cache
GEMV_BYTES = 256 << 20  # default matrix-vector weight bytes per format

DEFAULT_FORMATS = ["Q4_0", "Q4_1", "Q5_0", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "F16", "BF16", "F32"]


def random_weights(wtype: str, nrows: int, k: int, rng: np.random.Generator) -> np.ndarray:
    from test_ops import random_weights as rw  # tests/test_ops.py: random blocks with sane scales

    return rw(wtype, nrows, k, rng)


# ------------------------------------------------------------------------------------------------------------------
# llama.cpp's ggml through ctypes
# ------------------------------------------------------------------------------------------------------------------


class _InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


class _Cplan(ctypes.Structure):
    _fields_ = [
        ("work_size", ctypes.c_size_t),
        ("work_data", ctypes.c_void_p),
        ("n_threads", ctypes.c_int),
        ("threadpool", ctypes.c_void_p),
        ("abort_callback", ctypes.c_void_p),
        ("abort_callback_data", ctypes.c_void_p),
    ]


class _TpParams(ctypes.Structure):
    _fields_ = [
        ("cpumask", ctypes.c_bool * 512),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
        ("strict_cpu", ctypes.c_bool),
        ("paused", ctypes.c_bool),
    ]


class Ggml:
    """ggml_mul_mat(W, X) on llama.cpp's CPU backend (the peer's libggml)."""

    def __init__(self):
        libdir = None
        for d in glob.glob(os.path.expanduser("~/.cache/llamacore-peer/lib/python3*/site-packages/llama_cpp/lib")):
            libdir = d
        if libdir is None:
            raise OSError("peer venv with llama_cpp not found (../shared/tools/peer.sh builds it)")
        mode = ctypes.RTLD_GLOBAL
        self.base = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"), mode=mode)
        self.cpu = ctypes.CDLL(os.path.join(libdir, "libggml-cpu.so"), mode=mode)
        b, c = self.base, self.cpu
        b.ggml_init.restype = ctypes.c_void_p
        b.ggml_init.argtypes = [_InitParams]
        b.ggml_new_tensor_2d.restype = ctypes.c_void_p
        b.ggml_new_tensor_2d.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        b.ggml_mul_mat.restype = ctypes.c_void_p
        b.ggml_mul_mat.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        b.ggml_new_graph.restype = ctypes.c_void_p
        b.ggml_new_graph.argtypes = [ctypes.c_void_p]
        b.ggml_build_forward_expand.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        b.ggml_get_data.restype = ctypes.c_void_p
        b.ggml_get_data.argtypes = [ctypes.c_void_p]
        b.ggml_free.argtypes = [ctypes.c_void_p]
        if hasattr(c, "ggml_cpu_init"):
            c.ggml_cpu_init()
        c.ggml_threadpool_params_default.restype = _TpParams
        c.ggml_threadpool_params_default.argtypes = [ctypes.c_int]
        c.ggml_threadpool_new.restype = ctypes.c_void_p
        c.ggml_threadpool_new.argtypes = [ctypes.POINTER(_TpParams)]
        c.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
        c.ggml_graph_plan.restype = _Cplan
        c.ggml_graph_plan.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        c.ggml_graph_compute.restype = ctypes.c_int
        c.ggml_graph_compute.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Cplan)]

    def bench(self, w: np.ndarray, wtype: str, x: np.ndarray, n_threads: int, reps: int) -> tuple[float, np.ndarray]:
        b, c = self.base, self.cpu
        n, k = x.shape
        nrows = w.shape[0]
        ctx = b.ggml_init(_InitParams(w.nbytes + x.nbytes + n * nrows * 4 + (64 << 20), None, False))
        try:
            tw = b.ggml_new_tensor_2d(ctx, ops.type_id(wtype), k, nrows)
            tx = b.ggml_new_tensor_2d(ctx, 0, k, n)
            ctypes.memmove(b.ggml_get_data(tw), w.ctypes.data, w.nbytes)
            ctypes.memmove(b.ggml_get_data(tx), x.ctypes.data, x.nbytes)
            ty = b.ggml_mul_mat(ctx, tw, tx)
            graph = b.ggml_new_graph(ctx)
            b.ggml_build_forward_expand(graph, ty)
            tpp = c.ggml_threadpool_params_default(n_threads)
            tp = c.ggml_threadpool_new(ctypes.byref(tpp))
            try:
                plan = c.ggml_graph_plan(graph, n_threads, tp)
                work = np.empty(max(plan.work_size, 1), np.uint8)
                plan.work_data = work.ctypes.data
                best = float("inf")
                for _ in range(reps):
                    t0 = time.perf_counter()
                    c.ggml_graph_compute(graph, ctypes.byref(plan))
                    best = min(best, time.perf_counter() - t0)
                y = np.ctypeslib.as_array((ctypes.c_float * (n * nrows)).from_address(b.ggml_get_data(ty))).copy()
            finally:
                c.ggml_threadpool_free(tp)
        finally:
            b.ggml_free(ctx)
        return best, y.reshape(n, nrows)


# ------------------------------------------------------------------------------------------------------------------


def best_matmul(w, wtype, x, threads, reps) -> float:
    return _core.ops_matmul_bench(w, ops.type_id(wtype), x.shape[1], x, threads, reps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--formats", default=",".join(DEFAULT_FORMATS))
    ap.add_argument("--levels", default="best", help="best, all, or a comma list (generic,avx2,avx512,neon)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rows", type=int, default=0, help="matrix-vector: weight rows (k = 4096); 0: 256 MiB of weights")
    ap.add_argument("--gemm", default="2048,4096,128", help="matrix-matrix: rows,k,tokens")
    ap.add_argument("--reps", type=int, default=5, help="runs per figure (the best is kept)")
    ap.add_argument("--no-llama", action="store_true", help="skip llama.cpp's ggml")
    args = ap.parse_args()

    supported = _core.cpu_levels_supported()
    if args.levels == "best":
        levels = [supported[-1]]
    elif args.levels == "all":
        levels = supported
    else:
        levels = [lv for lv in args.levels.split(",") if lv in supported]
    formats = args.formats.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    k = 4096
    g_rows, g_k, g_n = (int(v) for v in args.gemm.split(","))
    ggml = None
    if not args.no_llama:
        try:
            ggml = Ggml()
        except OSError as e:
            print(f"(llama.cpp not measured: {e})")

    print(llamacore_info())
    rng = np.random.default_rng(0)
    bw = {}
    for t in threads:
        bw[t] = _core.ops_read_bandwidth(READ_BYTES, t, max(10, args.reps)) / 1e9
    print("machine: streaming read " + ", ".join(f"{t} thr {bw[t]:.1f} GB/s" for t in threads))
    print(
        "roofs (notes, 2-core Zen 5): fp32 FMA "
        + ", ".join(f"{t} thr {ROOF_FP32_GFLOPS.get(t, '?')}" for t in threads)
        + " GFLOP/s; int8 VNNI "
        + ", ".join(f"{t} thr {ROOF_INT8_GOPS.get(t, '?')}" for t in threads)
        + " Gop/s\n"
    )

    hdr = f"{'format':7} {'level':7} {'thr':>3} | {'GEMV ms':>8} {'GB/s':>6} {'%read':>6} {'llama GB/s':>10} |"
    hdr += f" {'GEMM ms':>8} {'GFLOP/s':>8} {'llama GFLOP/s':>13}"
    rows_txt = f"{args.rows}" if args.rows else "256 MiB /"
    print(f"GEMV: {rows_txt} x {k} weights, 1 token; GEMM: {g_rows} x {g_k} weights, {g_n} tokens")
    print(hdr)
    print("-" * len(hdr))
    old = _core.cpu_level()
    try:
        for f in formats:
            rows = args.rows or -(-GEMV_BYTES // ops.row_bytes(f, k))
            w = random_weights(f, rows, k, rng)
            wg = w[:g_rows] if g_k == k else random_weights(f, g_rows, g_k, rng)
            x1 = rng.standard_normal((1, k)).astype(np.float32)
            xg = rng.standard_normal((g_n, g_k)).astype(np.float32)
            llama = {}
            if ggml is not None:
                for t in threads:
                    try:
                        s1, y1 = ggml.bench(w, f, x1, t, args.reps)
                        sg, _ = ggml.bench(wg, f, xg, t, max(2, args.reps // 2))
                        llama[t] = (w.nbytes / s1 / 1e9, 2 * g_rows * g_k * g_n / sg / 1e9)
                        if t == threads[0]:  # sanity: same numbers as ours
                            ours = ops.matmul(w[:256], f, x1)
                            err = np.abs(ours - y1[:, :256]).max() / (np.abs(y1[:, :256]).max() + 1e-30)
                            if err > 1e-2:
                                print(f"  (warning: llama.cpp's {f} result differs from ours by {err:.2e})")
                    except Exception as e:  # noqa: BLE001 - a missing symbol only skips the comparison
                        print(f"  (llama.cpp {f}: {e})")
                        break
            for lv in levels:
                _core.set_cpu_level(lv)
                for t in threads:
                    s1 = best_matmul(w, f, x1, t, args.reps * 4)
                    sg = best_matmul(wg, f, xg, t, max(2, args.reps // 2))
                    gbs = w.nbytes / s1 / 1e9
                    gfl = 2 * g_rows * g_k * g_n / sg / 1e9
                    lg = f"{llama[t][0]:10.1f}" if t in llama else f"{'-':>10}"
                    lf = f"{llama[t][1]:13.1f}" if t in llama else f"{'-':>13}"
                    print(
                        f"{f:7} {lv:7} {t:3d} | {s1 * 1e3:8.2f} {gbs:6.1f} {100 * gbs / bw[t]:5.0f}% {lg} |"
                        f" {sg * 1e3:8.2f} {gfl:8.1f} {lf}",
                        flush=True,
                    )
    finally:
        _core.set_cpu_level(old)


def llamacore_info() -> str:
    import llamacore

    return llamacore.system_info()


if __name__ == "__main__":
    main()
