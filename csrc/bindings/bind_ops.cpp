// Eager bindings of the CPU kernels (llamacore/ops.h) for tests and benchmarks: numpy in, numpy out, on a module-
// level thread pool, GIL released. The graph runtime does not go through these.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/registry.h"
#include "llamacore/ops.h"
#include "llamacore/threadpool.h"

namespace py = pybind11;

namespace {

using lc::DType;
using f32arr = py::array_t<float, py::array::c_style | py::array::forcecast>;
using i32arr = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
using u8arr = py::array_t<uint8_t, py::array::c_style>;

std::mutex g_pool_mutex;
std::unique_ptr<lc::ThreadPool> g_pool;
int g_threads = 0;  // 0: physical cores

lc::ThreadPool& pool(int n_threads) {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    const int want = n_threads > 0 ? n_threads : g_threads;
    if (!g_pool || (want > 0 && g_pool->n_threads() != want)) g_pool = std::make_unique<lc::ThreadPool>(want);
    return *g_pool;
}

DType dtype_of(int id) {
    if (!lc::dtype_traits(id)) throw std::invalid_argument("unknown ggml type id " + std::to_string(id));
    return static_cast<DType>(id);
}

template <class F>
void run_pool(int n_threads, F&& f) {
    lc::ThreadPool& p = pool(n_threads);
    py::gil_scoped_release nogil;
    p.run(f);
}

int64_t rows_of(const py::buffer_info& b) {
    int64_t r = 1;
    for (int i = 0; i + 1 < b.ndim; ++i) r *= b.shape[i];
    return r;
}

}  // namespace

LC_BIND(ops) {
    m.def(
        "ops_set_threads", [](int n) { g_threads = n; }, py::arg("n_threads"),
        "Thread count of the eager ops pool (0: physical cores).");
    m.def(
        "ops_act_type", [](int wtype) { return static_cast<int>(lc::ops::act_type(dtype_of(wtype))); },
        py::arg("wtype"));
    m.def(
        "ops_act_row_bytes", [](int wtype, int64_t k) { return lc::ops::act_row_bytes(dtype_of(wtype), k); },
        py::arg("wtype"), py::arg("k"));
    m.def(
        "ops_matmul_supported",
        [](int wtype) { return lc::dtype_traits(wtype) && lc::ops::matmul_supported(dtype_of(wtype)); },
        py::arg("wtype"));

    m.def(
        "ops_quantize_act",
        [](int wtype, f32arr x) {
            const DType w = dtype_of(wtype);
            if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D [n, k]");
            const int64_t n = x.shape(0), k = x.shape(1);
            lc::ops::check_matmul(w, k);
            const size_t rb = lc::ops::act_row_bytes(w, k);
            u8arr out({n, static_cast<int64_t>(rb)});
            const float* xp = x.data();
            uint8_t* op = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                lc::ops::matmul_quantize(w, xp, k, n, k, op, 0, 1);
            }
            return out;
        },
        py::arg("wtype"), py::arg("x"), "Activations [n, k] in the format the weight type's matmul consumes.");

    m.def(
        "ops_matmul",
        [](u8arr w, int wtype, int64_t k, f32arr x, int n_threads) {
            const DType t = dtype_of(wtype);
            lc::ops::check_matmul(t, k);
            if (w.ndim() != 2) throw std::invalid_argument("w must be 2-D [nrows, row_bytes]");
            const int64_t nrows = w.shape(0);
            const size_t rb = static_cast<size_t>(lc::row_bytes(*lc::dtype_traits(wtype), k));
            if (static_cast<size_t>(w.shape(1)) != rb) {
                throw std::invalid_argument("w rows have " + std::to_string(w.shape(1)) + " bytes, expected " +
                                            std::to_string(rb));
            }
            if (x.ndim() != 2 || x.shape(1) != k) throw std::invalid_argument("x must be [n, k]");
            const int64_t n = x.shape(0);
            f32arr y({n, nrows});
            const uint8_t* wp = w.data();
            const float* xp = x.data();
            float* yp = y.mutable_data();
            lc::ThreadPool& p = pool(n_threads);
            py::gil_scoped_release nogil;
            lc::ops::matmul(p, t, wp, rb, nrows, k, xp, k, n, yp, nrows);
            return y;
        },
        py::arg("w"), py::arg("wtype"), py::arg("k"), py::arg("x"), py::arg("n_threads") = 0,
        "Y[n, nrows] = X[n, k] @ W^T with W raw rows of wtype.");

    m.def(
        "ops_matmul_bench",
        [](u8arr w, int wtype, int64_t k, f32arr x, int n_threads, int iters) {
            // Times `iters` matmuls (quantize + compute) on the pool; returns the best seconds per call.
            const DType t = dtype_of(wtype);
            lc::ops::check_matmul(t, k);
            const int64_t nrows = w.shape(0), n = x.shape(0);
            const size_t rb = static_cast<size_t>(lc::row_bytes(*lc::dtype_traits(wtype), k));
            std::vector<float> y(static_cast<size_t>(n * nrows));
            std::vector<uint8_t> wd(lc::ops::matmul_wsize(t, n, k));
            const uint8_t* wp = w.data();
            const float* xp = x.data();
            lc::ThreadPool& p = pool(n_threads);
            py::gil_scoped_release nogil;
            double best = 1e30;
            for (int i = 0; i < iters; ++i) {
                const auto t0 = std::chrono::steady_clock::now();
                lc::ops::matmul(p, t, wp, rb, nrows, k, xp, k, n, y.data(), nrows, wd.data());
                const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (s < best) best = s;
            }
            return best;
        },
        py::arg("w"), py::arg("wtype"), py::arg("k"), py::arg("x"), py::arg("n_threads") = 0, py::arg("iters") = 10);

    m.def(
        "ops_get_rows",
        [](u8arr table, int t, int64_t n_cols, i32arr ids) {
            const DType dt = dtype_of(t);
            if (table.ndim() != 2) throw std::invalid_argument("table must be 2-D [n_rows, row_bytes]");
            lc::ops::check_get_rows(dt, n_cols, ids.data(), ids.size(), table.shape(0));
            const size_t rb = static_cast<size_t>(lc::row_bytes(*lc::dtype_traits(t), n_cols));
            if (static_cast<size_t>(table.shape(1)) != rb) throw std::invalid_argument("table row bytes mismatch");
            f32arr out({static_cast<int64_t>(ids.size()), n_cols});
            const uint8_t* tp = table.data();
            const int32_t* ip = ids.data();
            float* op = out.mutable_data();
            const int64_t n_ids = ids.size();
            run_pool(0,
                     [&](int ith, int nth) { lc::ops::get_rows(dt, tp, rb, n_cols, ip, n_ids, op, n_cols, ith, nth); });
            return out;
        },
        py::arg("table"), py::arg("type"), py::arg("n_cols"), py::arg("ids"));

    m.def(
        "ops_rms_norm",
        [](f32arr x, float eps, std::optional<f32arr> w) {
            auto b = x.request();
            const int64_t n = b.ndim ? b.shape[b.ndim - 1] : 1, rows = rows_of(b);
            if (w && w->size() != n) throw std::invalid_argument("weight must have n_cols elements");
            f32arr y(b.shape);
            const float* xp = x.data();
            const float* wp = w ? w->data() : nullptr;
            float* yp = y.mutable_data();
            run_pool(0, [&](int ith, int nth) { lc::ops::rms_norm(xp, n, rows, n, eps, wp, yp, n, ith, nth); });
            return y;
        },
        py::arg("x"), py::arg("eps"), py::arg("weight") = py::none());

    m.def(
        "ops_layer_norm",
        [](f32arr x, float eps, std::optional<f32arr> w, std::optional<f32arr> bias) {
            auto b = x.request();
            const int64_t n = b.shape[b.ndim - 1], rows = rows_of(b);
            if ((w && w->size() != n) || (bias && bias->size() != n))
                throw std::invalid_argument("weight and bias must have n_cols elements");
            f32arr y(b.shape);
            const float* xp = x.data();
            const float* wp = w ? w->data() : nullptr;
            const float* bp = bias ? bias->data() : nullptr;
            float* yp = y.mutable_data();
            run_pool(0, [&](int ith, int nth) { lc::ops::layer_norm(xp, n, rows, n, eps, wp, bp, yp, n, ith, nth); });
            return y;
        },
        py::arg("x"), py::arg("eps"), py::arg("weight") = py::none(), py::arg("bias") = py::none());

    m.def(
        "ops_rope",
        [](f32arr x, i32arr pos, int n_dims, int mode, float freq_base, float freq_scale, float ext_factor,
           float attn_factor, float beta_fast, float beta_slow, int n_ctx_orig, std::optional<f32arr> freq_factors) {
            if (x.ndim() != 3) throw std::invalid_argument("x must be [n_tokens, n_heads, head_dim]");
            const int64_t T = x.shape(0), H = x.shape(1), D = x.shape(2);
            if (pos.size() != T) throw std::invalid_argument("pos must have n_tokens entries");
            lc::ops::RopeParams p{n_dims,      mode,      freq_base, freq_scale, ext_factor,
                                  attn_factor, beta_fast, beta_slow, n_ctx_orig, nullptr};
            if (freq_factors) {
                if (freq_factors->size() < n_dims / 2)
                    throw std::invalid_argument("freq_factors needs n_dims/2 values");
                p.freq_factors = freq_factors->data();
            }
            lc::ops::check_rope(p, D);
            f32arr y({T, H, D});
            const float* xp = x.data();
            const int32_t* pp = pos.data();
            float* yp = y.mutable_data();
            run_pool(0, [&](int ith, int nth) { lc::ops::rope(xp, H * D, D, T, H, D, pp, p, yp, H * D, D, ith, nth); });
            return y;
        },
        py::arg("x"), py::arg("pos"), py::arg("n_dims"), py::arg("mode") = 0, py::arg("freq_base") = 10000.0f,
        py::arg("freq_scale") = 1.0f, py::arg("ext_factor") = 0.0f, py::arg("attn_factor") = 1.0f,
        py::arg("beta_fast") = 32.0f, py::arg("beta_slow") = 1.0f, py::arg("n_ctx_orig") = 0,
        py::arg("freq_factors") = py::none());

    m.def(
        "ops_softmax",
        [](f32arr x, float scale, std::optional<f32arr> mask, int64_t causal_offset) {
            if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D");
            const int64_t R = x.shape(0), C = x.shape(1);
            if (mask && (mask->ndim() != 2 || mask->shape(0) != R || mask->shape(1) != C))
                throw std::invalid_argument("mask must have x's shape");
            f32arr y({R, C});
            const float* xp = x.data();
            const float* mp = mask ? mask->data() : nullptr;
            float* yp = y.mutable_data();
            run_pool(0, [&](int ith, int nth) {
                lc::ops::softmax(xp, C, R, C, scale, mp, C, causal_offset, yp, C, ith, nth);
            });
            return y;
        },
        py::arg("x"), py::arg("scale") = 1.0f, py::arg("mask") = py::none(), py::arg("causal_offset") = -1);

    m.def(
        "ops_attention",
        [](f32arr q, py::array k, int k_type, py::array v, int v_type, std::optional<i32arr> q_pos,
           std::optional<i32arr> kv_pos, float scale, float softcap, int sliding_window, std::optional<f32arr> mask,
           int n_head_kv, int head_dim_v, int n_threads) {
            // q [T, H, D] f32; k, v: raw cache bytes [n_kv, n_head_kv * row bytes] (uint8 or matching dtype)
            if (q.ndim() != 3) throw std::invalid_argument("q must be [n_tokens, n_head, head_dim]");
            lc::ops::AttentionParams p;
            p.n_tokens = q.shape(0);
            p.n_head = q.shape(1);
            p.head_dim = q.shape(2);
            p.n_head_kv = n_head_kv;
            p.head_dim_v = head_dim_v;
            p.k_type = dtype_of(k_type);
            p.v_type = dtype_of(v_type);
            p.scale = scale;
            p.softcap = softcap;
            p.sliding_window = sliding_window;
            if (!(k.flags() & py::array::c_style) || !(v.flags() & py::array::c_style))
                throw std::invalid_argument("k and v must be C-contiguous");
            p.n_kv = k.ndim() ? k.shape(0) : 0;
            const size_t kb = static_cast<size_t>(lc::row_bytes(*lc::dtype_traits(k_type), p.head_dim));
            const size_t vb = static_cast<size_t>(lc::row_bytes(*lc::dtype_traits(v_type), head_dim_v));
            if (static_cast<size_t>(k.nbytes()) != kb * n_head_kv * p.n_kv || v.ndim() == 0 || v.shape(0) != p.n_kv ||
                static_cast<size_t>(v.nbytes()) != vb * n_head_kv * p.n_kv)
                throw std::invalid_argument("k/v sizes do not match [n_kv, n_head_kv, head_dim] of their types");
            p.k_head_stride = kb;
            p.k_cell_stride = kb * n_head_kv;
            p.v_head_stride = vb;
            p.v_cell_stride = vb * n_head_kv;
            p.q_token_stride = p.n_head * p.head_dim;
            p.q_head_stride = p.head_dim;
            p.out_token_stride = p.n_head * head_dim_v;
            p.out_head_stride = head_dim_v;
            if (mask) {
                if (mask->ndim() != 2 || mask->shape(0) != p.n_tokens || mask->shape(1) != p.n_kv)
                    throw std::invalid_argument("mask must be [n_tokens, n_kv]");
                p.mask = mask->data();
                p.mask_stride = p.n_kv;
            }
            if (q_pos) {
                if (q_pos->size() != p.n_tokens) throw std::invalid_argument("q_pos must have n_tokens entries");
                p.q_pos = q_pos->data();
            }
            if (kv_pos) {
                if (kv_pos->size() != p.n_kv) throw std::invalid_argument("kv_pos must have n_kv entries");
                p.kv_pos = kv_pos->data();
            }
            lc::ops::check_attention(p);
            f32arr out({p.n_tokens, p.n_head, static_cast<int64_t>(head_dim_v)});
            lc::ThreadPool& tp = pool(n_threads);
            std::vector<uint8_t> ws(lc::ops::attention_wsize(p, tp.n_threads()));
            const float* qp = q.data();
            const void* kp = k.data();
            const void* vp = v.data();
            float* op = out.mutable_data();
            py::gil_scoped_release nogil;
            tp.run([&](int ith, int nth) { lc::ops::attention(p, qp, kp, vp, op, ws.data(), ith, nth); });
            return out;
        },
        py::arg("q"), py::arg("k"), py::arg("k_type"), py::arg("v"), py::arg("v_type"), py::arg("q_pos") = py::none(),
        py::arg("kv_pos") = py::none(), py::arg("scale") = 1.0f, py::arg("softcap") = 0.0f,
        py::arg("sliding_window") = 0, py::arg("mask") = py::none(), py::arg("n_head_kv") = 1,
        py::arg("head_dim_v") = 0, py::arg("n_threads") = 0);

    m.def(
        "ops_unary",
        [](int op, f32arr x) {
            if (op < 0 || op >= lc::ops::kNumUnary) throw std::invalid_argument("unknown unary op");
            auto b = x.request();
            const int64_t n = b.ndim ? b.shape[b.ndim - 1] : 1, rows = rows_of(b);
            f32arr y(b.shape);
            const float* xp = x.data();
            float* yp = y.mutable_data();
            run_pool(0, [&](int ith, int nth) {
                lc::ops::unary(static_cast<lc::ops::Unary>(op), xp, n, rows, n, yp, n, ith, nth);
            });
            return y;
        },
        py::arg("op"), py::arg("x"));

    m.def(
        "ops_glu",
        [](int op, f32arr g, f32arr u) {
            if (op < 0 || op >= lc::ops::kNumGlu) throw std::invalid_argument("unknown glu op");
            auto b = g.request();
            if (u.request().shape != b.shape) throw std::invalid_argument("gate and up must have the same shape");
            const int64_t n = b.ndim ? b.shape[b.ndim - 1] : 1, rows = rows_of(b);
            f32arr y(b.shape);
            const float* gp = g.data();
            const float* upp = u.data();
            float* yp = y.mutable_data();
            run_pool(0, [&](int ith, int nth) {
                lc::ops::glu(static_cast<lc::ops::Glu>(op), gp, n, upp, n, rows, n, yp, n, ith, nth);
            });
            return y;
        },
        py::arg("op"), py::arg("gate"), py::arg("up"));

    m.def(
        "ops_binary",
        [](const std::string& op, f32arr a, f32arr bb) {
            auto b = a.request();
            const int64_t n = b.ndim ? b.shape[b.ndim - 1] : 1, rows = rows_of(b);
            int64_t bs;
            if (bb.request().shape == b.shape) {
                bs = n;
            } else if (bb.size() == n) {
                bs = 0;  // broadcast one row
            } else {
                throw std::invalid_argument("b must have a's shape or one row of n_cols");
            }
            if (op != "add" && op != "mul") throw std::invalid_argument("op must be add or mul");
            f32arr y(b.shape);
            const float* ap = a.data();
            const float* bp = bb.data();
            float* yp = y.mutable_data();
            const bool is_add = op == "add";
            run_pool(0, [&](int ith, int nth) {
                if (is_add) {
                    lc::ops::add(ap, n, bp, bs, rows, n, yp, n, ith, nth);
                } else {
                    lc::ops::mul(ap, n, bp, bs, rows, n, yp, n, ith, nth);
                }
            });
            return y;
        },
        py::arg("op"), py::arg("a"), py::arg("b"));

    m.def(
        "ops_scale",
        [](f32arr x, float s, float bias) {
            auto b = x.request();
            const int64_t n = b.ndim ? b.shape[b.ndim - 1] : 1, rows = rows_of(b);
            f32arr y(b.shape);
            const float* xp = x.data();
            float* yp = y.mutable_data();
            run_pool(0, [&](int ith, int nth) { lc::ops::scale(xp, n, rows, n, s, bias, yp, n, ith, nth); });
            return y;
        },
        py::arg("x"), py::arg("s"), py::arg("bias") = 0.0f);

    m.def(
        "ops_copy_rows",
        [](f32arr x, int t, std::optional<i32arr> rows, int64_t n_dst_rows) {
            const DType dt = dtype_of(t);
            if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D");
            const int64_t R = x.shape(0), C = x.shape(1);
            lc::ops::check_copy_rows(dt, C);
            const size_t rb = static_cast<size_t>(lc::row_bytes(*lc::dtype_traits(t), C));
            const int64_t nd = rows ? n_dst_rows : R;
            if (rows) {
                if (rows->size() != R) throw std::invalid_argument("rows must have one entry per row of x");
                for (int64_t i = 0; i < R; ++i)
                    if (rows->data()[i] < 0 || rows->data()[i] >= nd) throw std::invalid_argument("row out of range");
            }
            u8arr out({nd, static_cast<int64_t>(rb)});
            std::fill(out.mutable_data(), out.mutable_data() + out.size(), 0);
            const float* xp = x.data();
            const int32_t* rp = rows ? rows->data() : nullptr;
            uint8_t* op = out.mutable_data();
            run_pool(0, [&](int ith, int nth) { lc::ops::copy_rows(xp, C, R, C, dt, op, rb, rp, ith, nth); });
            return out;
        },
        py::arg("x"), py::arg("type"), py::arg("rows") = py::none(), py::arg("n_dst_rows") = 0);

    m.def(
        "ops_read_bandwidth",
        [](size_t bytes, int n_threads, int iters) {
            // Streaming read of a buffer of `bytes` (split across the pool's threads): best bytes per second. The
            // denominator of the matmul benchmark (what the machine can read, measured the same way).
            std::vector<uint64_t> buf(bytes / 8 + 8, 1);
            const size_t n = bytes / 8;
            lc::ThreadPool& p = pool(n_threads);
            std::vector<uint64_t> sinks(static_cast<size_t>(p.n_threads()) * 8, 0);
            py::gil_scoped_release nogil;
            double best = 1e30;
            for (int it = 0; it < iters; ++it) {
                const auto t0 = std::chrono::steady_clock::now();
                p.run([&](int ith, int nth) {
                    int64_t b, e;
                    lc::ops::split_range(static_cast<int64_t>(n), ith, nth, &b, &e, 64);
                    uint64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                    for (int64_t i = b; i + 8 <= e; i += 8)
                        for (int j = 0; j < 8; ++j) a[j] += buf[i + j];
                    for (int j = 0; j < 8; ++j) sinks[ith * 8] += a[j];
                });
                const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                best = std::min(best, s);
            }
            return static_cast<double>(n * 8) / best;
        },
        py::arg("bytes"), py::arg("n_threads") = 0, py::arg("iters") = 5);

    m.def(
        "threadpool_selftest",
        [](int n_threads, int n_runs, int n_barriers) {
            // Each run: every thread adds its ith+1 to a shared counter between barriers; returns the total, which
            // is exact only if the barriers really separate the phases.
            lc::ThreadPool tp(n_threads);
            std::vector<int64_t> slots(static_cast<size_t>(tp.n_threads()) * 8, 0);
            std::atomic<int64_t> total{0};
            py::gil_scoped_release nogil;
            for (int r = 0; r < n_runs; ++r) {
                tp.run([&](int ith, int nth) {
                    for (int b = 0; b < n_barriers; ++b) {
                        slots[ith * 8] = b * 1000 + ith;
                        tp.barrier();
                        // every thread must see every other thread's value of this phase
                        for (int j = 0; j < nth; ++j) {
                            if (slots[j * 8] != b * 1000 + j) total.fetch_add(1000000000);
                        }
                        tp.barrier();
                    }
                    total.fetch_add(ith + 1);
                });
            }
            return total.load();
        },
        py::arg("n_threads"), py::arg("n_runs"), py::arg("n_barriers"));
}
