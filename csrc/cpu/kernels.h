// The per-ISA kernel table behind llamacore/ops.h (internal to csrc/cpu and tests/cpp).
//
// Each level (generic, avx2, avx512, neon) fills a Kernels table: it starts from the generic one and overrides the
// entries it has a faster version of, so every entry is always callable. ops.cpp reads the table of the selected
// level per call. Row kernels here see one row (or one tile) and know nothing of threads; ops.cpp splits the work.
#pragma once

#include <cstddef>
#include <cstdint>

#include "llamacore/cpu.h"
#include "llamacore/dtype.h"
#include "llamacore/ops.h"

namespace lc::cpu {

constexpr int kNumTypes = kNumDTypes;  // tables indexed by DType id

// Y[t * y_stride + r] = dot(W row r, activation row t) for r in [0, nrows), t in [0, n).
// w: weight rows (w_stride bytes apart); xq: activation rows in act_type(wtype) (xq_stride bytes apart).
using GemmFn = void (*)(const void* w, size_t w_stride, int64_t nrows, int64_t k, const void* xq, size_t xq_stride,
                        int64_t n, float* y, int64_t y_stride);
using QuantizeFn = void (*)(const float* x, void* y, int64_t k);    // one activation row
using DequantizeFn = void (*)(const void* x, float* y, int64_t k);  // one row of a weight format
using UnaryFn = void (*)(const float* x, float* y, int64_t n);
using GluFn = void (*)(const float* gate, const float* up, float* y, int64_t n);
using BinaryFn = void (*)(const float* a, const float* b, float* y, int64_t n);
// KV-cache row primitives for attention: q . k (k of a cache type) and y += a * v.
using KDotFn = float (*)(const float* q, const void* k, int64_t n);
using VAxpyFn = void (*)(float a, const void* v, float* y, int64_t n);

struct Kernels {
    CpuLevel level;
    GemmFn gemm[kNumTypes];
    DequantizeFn dequantize[kNumTypes];
    QuantizeFn quantize_q8_0, quantize_q8_1, quantize_q8_K;
    QuantizeFn to_f16, to_bf16;  // y: uint16 rows

    void (*rms_norm)(const float* x, int64_t n, float eps, const float* w, float* y);
    void (*layer_norm)(const float* x, int64_t n, float eps, const float* w, const float* b, float* y);
    // y = softmax(x * scale + mask) over n columns, columns >= n_visible hidden; mask may be null.
    void (*softmax)(const float* x, int64_t n, float scale, const float* mask, int64_t n_visible, float* y);
    // Rotate pairs: for i in [0, n_pairs): (a, b) = (x[i*s0], x[i*s0 + off]) -> (a*c - b*s, a*s + b*c) with
    // c = cs[2i], s = cs[2i+1]. Normal rope: s0 = 2, off = 1; neox: s0 = 1, off = n_dims / 2.
    void (*rope_rotate)(const float* x, float* y, const float* cs, int64_t n_pairs, int64_t s0, int64_t off);

    UnaryFn unary[ops::kNumUnary];  // indexed by ops::Unary (use the setters below)
    GluFn glu[ops::kNumGlu];        // indexed by ops::Glu
    BinaryFn add, mul;
    void (*scale)(const float* x, float s, float b, float* y, int64_t n);

    // attention, indexed by the cache type's kv_slot (DTypeTraits: 0 = F32, 1 = F16, 2 = Q8_0)
    KDotFn kdot[kNumKvSlots];
    VAxpyFn vaxpy[kNumKvSlots];
    // Attention blocks for G query heads sharing one KV head, over n cells of a cache type slot:
    //   scores: s[g * s_stride + j] = cap(scale * q_g . k_j) + offs[j], or -inf where offs[j] is -inf (cell hidden);
    //           cap(x) = softcap * tanh(x / softcap) when softcap > 0 (scale is passed already divided by softcap)
    //   accum:  acc[g * dv + i] += sum_j w[g * w_stride + j] * v_j[i]
    void (*attn_scores[kNumKvSlots])(const float* q, int64_t q_stride, int G, const void* k, size_t cell_stride,
                                     const float* offs, int64_t n, int64_t d, float scale, float softcap, float* s,
                                     int64_t s_stride);
    void (*attn_accum[kNumKvSlots])(const float* w, int64_t w_stride, int G, const void* v, size_t cell_stride,
                                    int64_t n, int64_t dv, float* acc);
    // One block (nb <= 64 cells) of the multi-token (prefill) attention for R query rows, R a multiple of 16:
    //   qt [d, R]: the rows' queries, transposed and pre-scaled; kf [nb, d], vf [nb, dv]: the block's K and V in f32
    //   visibility: offs [nb, R] additive (-inf hidden) when not null, else positions: cell j is visible to row r iff
    //     kvpos[j] >= 0, kvpos[j] <= qpos[r] and (window <= 0 or qpos[r] - kvpos[j] < window)
    //   score = softcap > 0 ? softcap * tanh(qk) : qk, plus the offset
    //   online softmax state per row: m (running max), l (running sum), o [R, dv] (unnormalised output)
    //   s: scratch [64, R]
    void (*attn_block)(const float* qt, int64_t R, int64_t d, const float* kf, const float* vf, int64_t dv, int64_t nb,
                       float softcap, const int32_t* qpos, const int32_t* kvpos, int32_t window, const float* offs,
                       float* s, float* m, float* l, float* o);
    // y *= s over n (rescaling the online-softmax accumulator)
    void (*vscale)(float* y, float s, int64_t n);
    // y[i] = exp(x[i] - m), returns the sum
    float (*exp_sum)(const float* x, float m, float* y, int64_t n);
};

const Kernels& kernels();                  // table of lc::cpu_level()
const Kernels& kernels_for(CpuLevel lvl);  // a level's table (must be supported)

// Level fillers: each takes a copy of the generic table and overrides what it has.
void fill_generic(Kernels& t);
#if defined(LC_HAVE_AVX2)
void fill_avx2(Kernels& t);
#endif
#if defined(LC_HAVE_AVX512)
void fill_avx512(Kernels& t);
#endif
#if defined(LC_HAVE_NEON)
void fill_neon(Kernels& t);
#endif

// The attention-kernel slot of a KV-cache format (-1: not one).
inline int kv_slot(DType t) {
    const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
    return tr ? tr->kv_slot : -1;
}
template <class E>
constexpr int idx(E e) {
    return static_cast<int>(e);
}

}  // namespace lc::cpu
