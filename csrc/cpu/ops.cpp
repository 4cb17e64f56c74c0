// llamacore/ops.h: argument checks, the (ith, nth) work split, and dispatch to the kernel table of the current level.
#include "llamacore/ops.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/ops_util.h"
#include "llamacore/threadpool.h"
#include "quant/blocks.h"

namespace lc::ops {
namespace {

using cpu::Kernels;

// The quantizer of an activation type (or a copy_rows destination), as a table entry.
cpu::QuantizeFn act_quantizer(const Kernels& kt, DType at) {
    switch (at) {
        case DType::Q8_0: return kt.quantize_q8_0;
        case DType::Q8_1: return kt.quantize_q8_1;
        case DType::Q8_K: return kt.quantize_q8_K;
        case DType::F16: return kt.to_f16;
        case DType::BF16: return kt.to_bf16;
        default: return nullptr;  // F32: plain copy
    }
}

}  // namespace

void split_range(int64_t n, int ith, int nth, int64_t* begin, int64_t* end, int64_t align) {
    if (align < 1) align = 1;
    const int64_t units = (n + align - 1) / align;
    const int64_t per = units / nth, rem = units % nth;
    const int64_t u0 = ith * per + std::min<int64_t>(ith, rem);
    const int64_t u1 = u0 + per + (ith < rem ? 1 : 0);
    *begin = std::min(n, u0 * align);
    *end = std::min(n, u1 * align);
}

// ---------------------------------------------------------------------------------------------------------------
// matmul
// ---------------------------------------------------------------------------------------------------------------

bool matmul_supported(DType w) {
    const DTypeTraits* t = dtype_traits(tid(w));
    return t && t->matmul;
}

DType act_type(DType w) {
    if (!matmul_supported(w)) throw std::invalid_argument("matmul: weight type " + type_name(w) + " is not supported");
    return traits(w).vec_dot_type;
}

size_t act_row_bytes(DType w, int64_t k) {
    const DTypeTraits* t = dtype_traits(tid(act_type(w)));
    return static_cast<size_t>(row_bytes(*t, k));
}

size_t matmul_wsize(DType w, int64_t n, int64_t k) { return align64(act_row_bytes(w, k) * static_cast<size_t>(n)); }

void check_matmul(DType w, int64_t k) {
    if (!matmul_supported(w)) throw std::invalid_argument("matmul: weight type " + type_name(w) + " is not supported");
    const DTypeTraits* t = dtype_traits(tid(w));
    if (k <= 0 || k % t->block_size != 0) {
        throw std::invalid_argument("matmul: k = " + std::to_string(k) + " must be a positive multiple of " +
                                    std::to_string(t->block_size) + " for " + type_name(w));
    }
}

void matmul_quantize(DType w, const float* x, int64_t x_stride, int64_t n, int64_t k, void* wdata, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    const DType at = act_type(w);
    const DTypeTraits* tr = dtype_traits(tid(at));
    const int64_t qk = tr->block_size, nb = k / qk;
    const size_t rb = static_cast<size_t>(nb * tr->type_size);
    const cpu::QuantizeFn q = act_quantizer(kt, at);
    // Split the n * nb blocks evenly, so one long row (decode) is shared by all threads too.
    int64_t b0, b1;
    split_range(n * nb, ith, nth, &b0, &b1, qk == 1 ? 16 : 1);
    while (b0 < b1) {
        const int64_t t = b0 / nb, j0 = b0 % nb, j1 = std::min(nb, j0 + (b1 - b0));
        const float* src = x + t * x_stride + j0 * qk;
        uint8_t* dst = static_cast<uint8_t*>(wdata) + t * rb + j0 * tr->type_size;
        if (q) {
            q(src, dst, (j1 - j0) * qk);
        } else {
            std::memcpy(dst, src, (j1 - j0) * qk * sizeof(float));
        }
        b0 += j1 - j0;
    }
}

void matmul_compute(DType w, const void* wp, size_t w_stride, int64_t nrows, int64_t k, const void* xq, int64_t n,
                    float* y, int64_t y_stride, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    const size_t xs = act_row_bytes(w, k);
    const cpu::GemmFn g = kt.gemm[tid(w)];
    // Split the weight rows: each thread streams its own part of W once, and every thread sees all n tokens, so the
    // kernel chosen (it depends on n) and therefore the rounding do not depend on the thread count.
    int64_t r0, r1;
    split_range(nrows, ith, nth, &r0, &r1, nrows >= 16 * nth ? 16 : 1);
    if (r1 > r0) g(static_cast<const uint8_t*>(wp) + r0 * w_stride, w_stride, r1 - r0, k, xq, xs, n, y + r0, y_stride);
}

void matmul(ThreadPool& pool, DType w, const void* wp, size_t w_stride, int64_t nrows, int64_t k, const float* x,
            int64_t x_stride, int64_t n, float* y, int64_t y_stride, void* wdata) {
    check_matmul(w, k);
    std::vector<uint8_t> own;
    if (!wdata) {
        own.resize(matmul_wsize(w, n, k));
        wdata = own.data();
    }
    pool.run([&](int ith, int nth) {
        matmul_quantize(w, x, x_stride, n, k, wdata, ith, nth);
        pool.barrier();
        matmul_compute(w, wp, w_stride, nrows, k, wdata, n, y, y_stride, ith, nth);
    });
}

void quantize_row_q8_0(const float* x, void* y, int64_t k) { cpu::kernels().quantize_q8_0(x, y, k); }
void quantize_row_q8_1(const float* x, void* y, int64_t k) { cpu::kernels().quantize_q8_1(x, y, k); }
void quantize_row_q8_K(const float* x, void* y, int64_t k) { cpu::kernels().quantize_q8_K(x, y, k); }

// ---------------------------------------------------------------------------------------------------------------
// get_rows
// ---------------------------------------------------------------------------------------------------------------

void check_get_rows(DType t, int64_t n_cols, const int32_t* ids, int64_t n_ids, int64_t n_rows) {
    const DTypeTraits* tr = dtype_traits(tid(t));
    if (!tr || !tr->get_rows) {
        throw std::invalid_argument("get_rows: type " + type_name(t) + " cannot be dequantized");
    }
    if (n_cols <= 0 || n_cols % tr->block_size != 0) {
        throw std::invalid_argument("get_rows: row length " + std::to_string(n_cols) + " must be a multiple of " +
                                    std::to_string(tr->block_size) + " for " + type_name(t));
    }
    for (int64_t i = 0; i < n_ids; ++i) {
        if (ids[i] < 0 || ids[i] >= n_rows) {
            throw std::invalid_argument("get_rows: id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                                        " is outside [0, " + std::to_string(n_rows) + ")");
        }
    }
}

void dequantize_row(DType t, const void* x, float* y, int64_t k) { cpu::kernels().dequantize[tid(t)](x, y, k); }

void get_rows(DType t, const void* table, size_t row_stride, int64_t n_cols, const int32_t* ids, int64_t n_ids,
              float* out, int64_t out_stride, int ith, int nth) {
    const cpu::DequantizeFn dq = cpu::kernels().dequantize[tid(t)];
    int64_t i0, i1;
    split_range(n_ids, ith, nth, &i0, &i1);
    for (int64_t i = i0; i < i1; ++i) {
        dq(static_cast<const uint8_t*>(table) + static_cast<size_t>(ids[i]) * row_stride, out + i * out_stride, n_cols);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// norms, rope, softmax
// ---------------------------------------------------------------------------------------------------------------

void rms_norm(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float eps, const float* weight,
              float* y, int64_t y_stride, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    int64_t r0, r1;
    split_range(n_rows, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) kt.rms_norm(x + r * x_stride, n_cols, eps, weight, y + r * y_stride);
}

void layer_norm(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float eps, const float* weight,
                const float* bias, float* y, int64_t y_stride, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    int64_t r0, r1;
    split_range(n_rows, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) kt.layer_norm(x + r * x_stride, n_cols, eps, weight, bias, y + r * y_stride);
}

namespace {
constexpr int kMaxRopeDims = 4096;

// ggml's YaRN helpers (ggml_rope_yarn_corr_dims, rope_yarn_ramp, rope_yarn), same float operations.
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return n_dims * std::log(n_ctx_orig / (n_rot * 2 * 3.14159265358979323846f)) / (2 * std::log(base));
}

float yarn_ramp(float low, float high, int64_t i0) {
    const float y = (i0 / 2 - low) / std::max(0.001f, high - low);
    return 1 - std::min(1.0f, std::max(0.0f, y));
}

// cs[2i], cs[2i+1] = cos, sin of pair i at position pos.
void rope_cache(const RopeParams& p, float pos, float* cs) {
    float corr[2] = {0, 0};
    if (p.ext_factor != 0.0f) {
        const float start = std::floor(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_fast, p.freq_base));
        const float end = std::ceil(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_slow, p.freq_base));
        corr[0] = std::max(0.0f, start);
        corr[1] = std::min(static_cast<float>(p.n_dims - 1), end);
    }
    const float theta_scale = std::pow(p.freq_base, -2.0f / p.n_dims);
    float theta = pos;
    for (int i0 = 0; i0 < p.n_dims; i0 += 2) {
        const float ff = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0f;
        const float extrap = theta / ff;
        const float interp = p.freq_scale * extrap;
        float th = interp, mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
            const float mix = yarn_ramp(corr[0], corr[1], i0) * p.ext_factor;
            th = interp * (1 - mix) + extrap * mix;
            mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
        }
        cs[i0] = std::cos(th) * mscale;
        cs[i0 + 1] = std::sin(th) * mscale;
        theta *= theta_scale;
    }
}
}  // namespace

void check_rope(const RopeParams& p, int64_t head_dim) {
    if (p.n_dims <= 0 || p.n_dims % 2 != 0 || p.n_dims > head_dim || p.n_dims > kMaxRopeDims) {
        throw std::invalid_argument("rope: n_dims = " + std::to_string(p.n_dims) +
                                    " must be even, positive, <= " + "head_dim (" + std::to_string(head_dim) +
                                    ") and <= " + std::to_string(kMaxRopeDims));
    }
    if (p.mode != ROPE_NORMAL && p.mode != ROPE_NEOX) {
        throw std::invalid_argument("rope: mode " + std::to_string(p.mode) + " is not supported (0 normal, 2 neox)");
    }
    if (!(p.freq_base > 0.0f) || !(p.freq_scale > 0.0f)) {
        throw std::invalid_argument("rope: freq_base and freq_scale must be positive");
    }
    if (p.ext_factor != 0.0f && p.n_ctx_orig <= 0) {
        throw std::invalid_argument("rope: YaRN (ext_factor != 0) needs n_ctx_orig > 0");
    }
}

void rope(const float* x, int64_t token_stride, int64_t head_stride, int64_t n_tokens, int64_t n_heads,
          int64_t head_dim, const int32_t* pos, const RopeParams& p, float* y, int64_t y_token_stride,
          int64_t y_head_stride, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    float cs[kMaxRopeDims];
    int64_t i0, i1;
    split_range(n_tokens * n_heads, ith, nth, &i0, &i1);
    int64_t cached = -1;
    const int64_t n_pairs = p.n_dims / 2;
    const int64_t s0 = p.mode == ROPE_NEOX ? 1 : 2, off = p.mode == ROPE_NEOX ? n_pairs : 1;
    for (int64_t i = i0; i < i1; ++i) {
        const int64_t t = i / n_heads, h = i % n_heads;
        if (t != cached) {
            rope_cache(p, static_cast<float>(pos[t]), cs);
            cached = t;
        }
        const float* src = x + t * token_stride + h * head_stride;
        float* dst = y + t * y_token_stride + h * y_head_stride;
        kt.rope_rotate(src, dst, cs, n_pairs, s0, off);
        if (dst != src && head_dim > p.n_dims) std::memcpy(dst + p.n_dims, src + p.n_dims, (head_dim - p.n_dims) * 4);
    }
}

void softmax(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float scale, const float* mask,
             int64_t mask_stride, int64_t causal_offset, float* y, int64_t y_stride, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    int64_t r0, r1;
    split_range(n_rows, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t vis = n_cols;
        if (causal_offset >= 0) vis = std::max<int64_t>(0, std::min(n_cols, r + causal_offset + 1));
        kt.softmax(x + r * x_stride, n_cols, scale, mask ? mask + r * mask_stride : nullptr, vis, y + r * y_stride);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// element-wise
// ---------------------------------------------------------------------------------------------------------------

namespace {
// Calls f(row, col0, col1) for thread ith's share: whole rows when there are enough, else column ranges.
template <class F>
void for_share(int64_t n_rows, int64_t n_cols, int ith, int nth, F&& f) {
    if (n_rows >= nth) {
        int64_t r0, r1;
        split_range(n_rows, ith, nth, &r0, &r1);
        for (int64_t r = r0; r < r1; ++r) f(r, 0, n_cols);
    } else {
        int64_t c0, c1;
        split_range(n_cols, ith, nth, &c0, &c1, 64);
        if (c1 > c0) {
            for (int64_t r = 0; r < n_rows; ++r) f(r, c0, c1);
        }
    }
}
}  // namespace

void unary(Unary op, const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float* y, int64_t y_stride,
           int ith, int nth) {
    const cpu::UnaryFn fn = cpu::kernels().unary[static_cast<int>(op)];
    for_share(n_rows, n_cols, ith, nth,
              [&](int64_t r, int64_t c0, int64_t c1) { fn(x + r * x_stride + c0, y + r * y_stride + c0, c1 - c0); });
}

void glu(Glu op, const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t n_rows,
         int64_t n_cols, float* y, int64_t y_stride, int ith, int nth) {
    const cpu::GluFn fn = cpu::kernels().glu[static_cast<int>(op)];
    for_share(n_rows, n_cols, ith, nth, [&](int64_t r, int64_t c0, int64_t c1) {
        fn(gate + r * gate_stride + c0, up + r * up_stride + c0, y + r * y_stride + c0, c1 - c0);
    });
}

void add(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n_rows, int64_t n_cols, float* y,
         int64_t y_stride, int ith, int nth) {
    const cpu::BinaryFn fn = cpu::kernels().add;
    for_share(n_rows, n_cols, ith, nth, [&](int64_t r, int64_t c0, int64_t c1) {
        fn(a + r * a_stride + c0, b + r * b_stride + c0, y + r * y_stride + c0, c1 - c0);
    });
}

void mul(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n_rows, int64_t n_cols, float* y,
         int64_t y_stride, int ith, int nth) {
    const cpu::BinaryFn fn = cpu::kernels().mul;
    for_share(n_rows, n_cols, ith, nth, [&](int64_t r, int64_t c0, int64_t c1) {
        fn(a + r * a_stride + c0, b + r * b_stride + c0, y + r * y_stride + c0, c1 - c0);
    });
}

void scale(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float s, float bias, float* y,
           int64_t y_stride, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    for_share(n_rows, n_cols, ith, nth, [&](int64_t r, int64_t c0, int64_t c1) {
        kt.scale(x + r * x_stride + c0, s, bias, y + r * y_stride + c0, c1 - c0);
    });
}

// ---------------------------------------------------------------------------------------------------------------
// copy / convert
// ---------------------------------------------------------------------------------------------------------------

void check_copy_rows(DType t, int64_t n_cols) {
    const DTypeTraits* tr = dtype_traits(tid(t));
    if (!tr || !tr->copy_rows) {
        throw std::invalid_argument("copy_rows: destination type " + type_name(t) +
                                    " is not supported (F32, F16, BF16, Q8_0)");
    }
    if (n_cols % tr->block_size != 0) {
        throw std::invalid_argument("copy_rows: " + type_name(t) + " rows need a multiple of " +
                                    std::to_string(tr->block_size) + " columns, got " + std::to_string(n_cols));
    }
}

void copy_rows(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, DType t, void* dst, size_t dst_stride,
               const int32_t* rows, int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    const DTypeTraits* tr = dtype_traits(tid(t));
    const int64_t qk = tr->block_size;
    const cpu::QuantizeFn q = act_quantizer(kt, t);
    auto* out = static_cast<uint8_t*>(dst);
    for_share(n_rows, n_cols / qk, ith, nth, [&](int64_t r, int64_t b0, int64_t b1) {
        const int64_t dr = rows ? rows[r] : r;
        const float* src = x + r * x_stride + b0 * qk;
        uint8_t* d = out + static_cast<size_t>(dr) * dst_stride + b0 * tr->type_size;
        if (q) {
            q(src, d, (b1 - b0) * qk);
        } else {
            std::memcpy(d, src, (b1 - b0) * qk * sizeof(float));
        }
    });
}

}  // namespace lc::ops
