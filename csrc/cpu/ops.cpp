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
#include "llamacore/threadpool.h"
#include "quant/blocks.h"

namespace lc::ops {
namespace {

using cpu::Kernels;

std::string type_name(DType t) {
    const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
    return tr ? tr->name : "type id " + std::to_string(static_cast<int>(t));
}

int tid(DType t) { return static_cast<int>(t); }

// "F32, F16, Q8_0": the KV-cache formats, for error messages.
std::string kv_type_list() {
    std::string s;
    for (int i = 0; i < kNumDTypes; ++i) {
        const DTypeTraits* t = dtype_traits(i);
        if (t && t->kv_slot >= 0) s += (s.empty() ? "" : ", ") + std::string(t->name);
    }
    return s;
}

inline size_t align64(size_t n) { return (n + 63) & ~size_t(63); }

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
// attention
// ---------------------------------------------------------------------------------------------------------------

namespace {
constexpr int64_t kAttnBlock = 64;  // KV cells per block: scores for a block, then one rescale of the accumulator

int64_t attn_group(const AttentionParams& p) { return p.n_head / p.n_head_kv; }

// Work items: (token, kv head, sub-group of query heads). Sub-groups only when there are too few (token, kv head)
// pairs for an even split (decode: 3 KV heads on 2 threads would leave one thread a third idle); each sub-group
// streams its KV head again, so no more than needed for about 4 items per thread.
int64_t attn_subgroups(const AttentionParams& p, int nth) {
    const int64_t pairs = p.n_tokens * p.n_head_kv;
    if (nth <= 1 || pairs >= 4 * static_cast<int64_t>(nth) || pairs % nth == 0) return 1;
    return std::min(attn_group(p), (4 * static_cast<int64_t>(nth) + pairs - 1) / pairs);
}

// Calls of kAttnTiledMinTokens tokens or more (prefill) take the tiled path: a tile of 16 query tokens x the query
// heads of one KV head (the rows) against blocks of 64 cells. K and V are converted to f32 once per block for all rows;
// the level kernel attn_block keeps the rows in the vector lanes (scores, visibility and the online softmax vectorise
// over rows). Its float rounding differs from the one-token path's, so a token's output depends (in the last bits)
// on whether it came in a call of >= 64 tokens; smaller calls are computed token by token, bit-identical to decode.
constexpr int64_t kAttnTileTokens = 16, kAttnTiledMinTokens = 64;

bool attn_tiled(const AttentionParams& p) { return p.n_tokens >= kAttnTiledMinTokens && attn_group(p) <= 64; }

size_t attn_tile_floats(const AttentionParams& p) {
    const int64_t R = kAttnTileTokens * attn_group(p), d = p.head_dim, dv = p.head_dim_v;
    // q^T [d, R], scores [64, R], mask offsets [64, R], out rows [R, dv], max, sum and positions [R] each,
    // K block [64, d], V block [64, dv]; each piece rounded up to 16 floats
    return static_cast<size_t>(R * d + 2 * 64 * R + R * dv + 3 * R + 64 * d + 64 * dv + 8 * 16);
}

size_t attn_thread_floats(const AttentionParams& p) {
    const int64_t g = attn_group(p);
    // scores [g, block] + accumulators [g, dv] + running max and sum [g] each + visibility offsets [block]
    const size_t one = static_cast<size_t>(g * kAttnBlock + g * p.head_dim_v + 2 * g + kAttnBlock + 16);
    return attn_tiled(p) ? std::max(one, attn_tile_floats(p)) : one;
}

inline float* carve(float*& at, int64_t n) {  // 64-byte aligned pieces of a thread's work area
    float* r = at;
    at += (n + 15) & ~int64_t(15);
    return r;
}

void attention_tiled(const AttentionParams& p, const float* q, const void* k, const void* v, float* out, float* ws,
                     int ith, int nth) {
    const Kernels& kt = cpu::kernels();
    const int64_t G = attn_group(p), d = p.head_dim, dv = p.head_dim_v, TQ = kAttnTileTokens, R = TQ * G;
    const cpu::DequantizeFn kdeq = kt.dequantize[tid(p.k_type)], vdeq = kt.dequantize[tid(p.v_type)];
    float* at = ws;
    float* QT = carve(at, R * d);
    float* S = carve(at, 64 * R);
    float* offs = carve(at, 64 * R);
    float* O = carve(at, R * dv);
    float* mrun = carve(at, R);
    float* lrun = carve(at, R);
    int32_t* qpos = reinterpret_cast<int32_t*>(carve(at, R));
    float* KF = carve(at, 64 * d);
    float* VF = carve(at, 64 * dv);
    const auto* kb = static_cast<const uint8_t*>(k);
    const auto* vb = static_cast<const uint8_t*>(v);
    const float sc = p.softcap > 0.0f ? p.scale / p.softcap : p.scale;

    const int64_t n_tiles = (p.n_tokens + TQ - 1) / TQ;
    int64_t i0, i1;
    split_range(n_tiles * p.n_head_kv, ith, nth, &i0, &i1);
    for (int64_t item = i0; item < i1; ++item) {
        const int64_t tile = item / p.n_head_kv, hk = item % p.n_head_kv;
        const int64_t t0 = tile * TQ, tn = std::min(TQ, p.n_tokens - t0);
        // rows r = t * G + g; rows of tokens past tn are padding that sees nothing
        int32_t qmin = INT32_MAX, qmax = INT32_MIN;
        for (int64_t t = 0; t < TQ; ++t) {
            const bool real = t < tn;
            const int32_t qp = real && p.q_pos ? p.q_pos[t0 + t] : INT32_MIN;
            if (real && p.q_pos) qmin = std::min(qmin, qp), qmax = std::max(qmax, qp);
            for (int64_t g = 0; g < G; ++g) {
                const int64_t r = t * G + g;
                qpos[r] = qp;
                const float* src = q + (t0 + t) * p.q_token_stride + (hk * G + g) * p.q_head_stride;
                for (int64_t i = 0; i < d; ++i) QT[i * R + r] = real ? src[i] * sc : 0.0f;
            }
        }
        std::memset(O, 0, R * dv * sizeof(float));
        for (int64_t r = 0; r < R; ++r) mrun[r] = -INFINITY, lrun[r] = 0.0f;
        const size_t khead = static_cast<size_t>(hk) * p.k_head_stride;
        const size_t vhead = static_cast<size_t>(hk) * p.v_head_stride;
        for (int64_t j0 = 0; j0 < p.n_kv; j0 += kAttnBlock) {
            const int64_t nb = std::min(kAttnBlock, p.n_kv - j0);
            if (p.mask) {
                bool any = false;
                for (int64_t j = 0; j < nb; ++j) {
                    for (int64_t t = 0; t < TQ; ++t) {
                        const float o = t < tn ? p.mask[(t0 + t) * p.mask_stride + j0 + j] : -INFINITY;
                        any |= o != -INFINITY;
                        for (int64_t g = 0; g < G; ++g) offs[j * R + t * G + g] = o;
                    }
                }
                if (!any) continue;
            } else {  // skip blocks no token of the tile can see (future cells, cells behind the window, empty)
                int32_t kmin = INT32_MAX, kmax = INT32_MIN;
                for (int64_t j = 0; j < nb; ++j) {
                    const int32_t kp = p.kv_pos[j0 + j];
                    if (kp >= 0) kmin = std::min(kmin, kp), kmax = std::max(kmax, kp);
                }
                if (kmin == INT32_MAX || kmin > qmax) continue;
                if (p.sliding_window > 0 && static_cast<int64_t>(qmin) - kmax >= p.sliding_window) continue;
            }
            for (int64_t j = 0; j < nb; ++j) kdeq(kb + (j0 + j) * p.k_cell_stride + khead, KF + j * d, d);
            for (int64_t j = 0; j < nb; ++j) vdeq(vb + (j0 + j) * p.v_cell_stride + vhead, VF + j * dv, dv);
            kt.attn_block(QT, R, d, KF, VF, dv, nb, p.softcap, qpos, p.kv_pos ? p.kv_pos + j0 : nullptr,
                          p.sliding_window, p.mask ? offs : nullptr, S, mrun, lrun, O);
        }
        for (int64_t t = 0; t < tn; ++t) {
            for (int64_t g = 0; g < G; ++g) {
                const int64_t r = t * G + g;
                float* o = out + (t0 + t) * p.out_token_stride + (hk * G + g) * p.out_head_stride;
                const float inv = lrun[r] > 0.0f ? 1.0f / lrun[r] : 0.0f;
                for (int64_t i = 0; i < dv; ++i) o[i] = O[r * dv + i] * inv;
            }
        }
    }
}
}  // namespace

void check_attention(const AttentionParams& p) {
    auto bad = [](const std::string& m) { throw std::invalid_argument("attention: " + m); };
    if (p.n_tokens < 0 || p.n_kv < 0 || p.n_head <= 0 || p.n_head_kv <= 0 || p.head_dim <= 0 || p.head_dim_v <= 0) {
        bad("shapes must be positive");
    }
    if (p.n_head % p.n_head_kv != 0) {
        bad("n_head (" + std::to_string(p.n_head) + ") must be a multiple of n_head_kv (" +
            std::to_string(p.n_head_kv) + ")");
    }
    for (DType t : {p.k_type, p.v_type}) {
        if (cpu::kv_slot(t) < 0)
            bad("cache type " + type_name(t) + " is not a KV-cache format (" + kv_type_list() + ")");
    }
    const int64_t kb = traits(p.k_type).block_size, vb = traits(p.v_type).block_size;
    if (p.head_dim % kb || p.head_dim_v % vb) {
        bad("the head dims must be multiples of the cache types' blocks (" + std::to_string(kb) + ", " +
            std::to_string(vb) + ")");
    }
    if (!p.mask && p.n_tokens > 0 && p.n_kv > 0 && (!p.q_pos || !p.kv_pos)) {
        bad("without a mask, q_pos and kv_pos are required");
    }
    if (p.softcap < 0.0f) bad("softcap must be >= 0");
}

size_t attention_wsize(const AttentionParams& p, int nth) {
    return align64(attn_thread_floats(p) * sizeof(float)) * static_cast<size_t>(nth) + 64;
}

void attention(const AttentionParams& p, const float* q, const void* k, const void* v, float* out, void* wdata, int ith,
               int nth) {
    const Kernels& kt = cpu::kernels();
    if (attn_tiled(p)) {
        const uintptr_t base = (reinterpret_cast<uintptr_t>(wdata) + 63) & ~uintptr_t(63);
        attention_tiled(p, q, k, v, out,
                        reinterpret_cast<float*>(base + align64(attn_thread_floats(p) * sizeof(float)) * ith), ith,
                        nth);
        return;
    }
    const auto scores_fn = kt.attn_scores[cpu::kv_slot(p.k_type)];
    const auto accum_fn = kt.attn_accum[cpu::kv_slot(p.v_type)];
    const int64_t G = attn_group(p), nsub = attn_subgroups(p, nth);
    const int64_t per_sub = (G + nsub - 1) / nsub;
    const int64_t dv = p.head_dim_v;

    uintptr_t base = (reinterpret_cast<uintptr_t>(wdata) + 63) & ~uintptr_t(63);
    float* ws = reinterpret_cast<float*>(base + align64(attn_thread_floats(p) * sizeof(float)) * ith);
    float* scores = ws;                    // [G, block]
    float* acc = scores + G * kAttnBlock;  // [G, dv]
    float* mrun = acc + G * dv;            // [G]
    float* srun = mrun + G;                // [G]
    float* offs = srun + G;                // [block]: 0 visible, -inf hidden (position mode)

    const auto* kb = static_cast<const uint8_t*>(k);
    const auto* vb = static_cast<const uint8_t*>(v);
    const float sc = p.softcap > 0.0f ? p.scale / p.softcap : p.scale;  // softcap * tanh(scale * qk / softcap)

    int64_t i0, i1;
    split_range(p.n_tokens * p.n_head_kv * nsub, ith, nth, &i0, &i1);
    for (int64_t item = i0; item < i1; ++item) {
        const int64_t t = item / (p.n_head_kv * nsub);
        const int64_t hk = (item / nsub) % p.n_head_kv;
        const int64_t sub = item % nsub;
        const int64_t h0 = hk * G + sub * per_sub, h1 = std::min(hk * G + G, h0 + per_sub);
        const int64_t ng = h1 - h0;
        if (ng <= 0) continue;
        for (int64_t g = 0; g < ng; ++g) {
            mrun[g] = -INFINITY;
            srun[g] = 0.0f;
            std::memset(acc + g * dv, 0, dv * sizeof(float));
        }
        const float* mask_row = p.mask ? p.mask + t * p.mask_stride : nullptr;
        const size_t khead = static_cast<size_t>(hk) * p.k_head_stride;
        const size_t vhead = static_cast<size_t>(hk) * p.v_head_stride;
        const int32_t qp = p.q_pos ? p.q_pos[t] : 0;
        for (int64_t j0 = 0; j0 < p.n_kv; j0 += kAttnBlock) {
            const int64_t nb = std::min(kAttnBlock, p.n_kv - j0);
            // visibility of the block's cells to token t
            bool any = false;
            for (int64_t j = 0; j < nb; ++j) {
                float o;
                if (mask_row) {
                    o = mask_row[j0 + j];
                } else {
                    const int32_t kp = p.kv_pos[j0 + j];
                    const bool vis = kp >= 0 && kp <= qp && (p.sliding_window <= 0 || qp - kp < p.sliding_window);
                    o = vis ? 0.0f : -INFINITY;
                }
                offs[j] = o;
                any |= o != -INFINITY;
            }
            if (!any) continue;
            const float* qh = q + t * p.q_token_stride + h0 * p.q_head_stride;
            scores_fn(qh, p.q_head_stride, static_cast<int>(ng), kb + j0 * p.k_cell_stride + khead, p.k_cell_stride,
                      offs, nb, p.head_dim, sc, p.softcap, scores, kAttnBlock);
            // online softmax: rescale each head's accumulator to the block's new running max, then weights
            for (int64_t g = 0; g < ng; ++g) {
                float* s = scores + g * kAttnBlock;
                float bmax = -INFINITY;
                for (int64_t j = 0; j < nb; ++j) bmax = std::max(bmax, s[j]);
                if (bmax == -INFINITY) {
                    std::memset(s, 0, nb * sizeof(float));  // nothing visible to this head in the block
                    continue;
                }
                if (bmax > mrun[g]) {
                    if (mrun[g] != -INFINITY) {
                        const float r = std::exp(mrun[g] - bmax);
                        kt.vscale(acc + g * dv, r, dv);
                        srun[g] *= r;
                    }
                    mrun[g] = bmax;
                }
                srun[g] += kt.exp_sum(s, mrun[g], s, nb);
            }
            accum_fn(scores, kAttnBlock, static_cast<int>(ng), vb + j0 * p.v_cell_stride + vhead, p.v_cell_stride, nb,
                     dv, acc);
        }
        for (int64_t g = 0; g < ng; ++g) {
            float* o = out + t * p.out_token_stride + (h0 + g) * p.out_head_stride;
            const float inv = srun[g] > 0.0f ? 1.0f / srun[g] : 0.0f;
            for (int64_t d = 0; d < dv; ++d) o[d] = acc[g * dv + d] * inv;
        }
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
