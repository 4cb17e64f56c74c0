// llamacore/ops.h attention: the KV-cache attention (one-token path and the tiled prefill path) over the level
// kernels' row primitives.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cpu/kernels.h"
#include "cpu/ops_util.h"
#include "llamacore/ops.h"

namespace lc::ops {
namespace {

using cpu::Kernels;

// "F32, F16, Q8_0": the KV-cache formats, for error messages.
std::string kv_type_list() {
    std::string s;
    for (int i = 0; i < kNumDTypes; ++i) {
        const DTypeTraits* t = dtype_traits(i);
        if (t && t->kv_slot >= 0) s += (s.empty() ? "" : ", ") + std::string(t->name);
    }
    return s;
}

}  // namespace

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

}  // namespace lc::ops
