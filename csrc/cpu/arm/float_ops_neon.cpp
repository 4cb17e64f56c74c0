// NEON level: activation quantizers (bit-identical to the generic level), the float kernels of float_ops_impl.h over
// 4-lane vectors (shared with the x86 levels) plus NEON-only ones (rope, relu/neg/sqr/sqrt, Q8_0 cache rows), and the
// table filler. Tails shorter than a vector run the scalar formula.
#include <arm_neon.h>
#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/arm/neon.h"
#include "quant/blocks.h"

namespace lc::cpu::neon {
namespace {

#include "cpu/arm/neon_util.h"  // h2f, f2h

// ---------------------------------------------------------------------------------------------------------------
// activation quantizers
// ---------------------------------------------------------------------------------------------------------------

// 16 int32 lanes (values within int8 range) -> 16 int8.
inline int8x16_t narrow16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
    const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b)), cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
    return vcombine_s8(vmovn_s16(ab), vmovn_s16(cd));
}

// One 32-block as the generic quantize_q8_0: d = amax / 127 (stored fp16), q = roundf(x / d) (vcvtaq: ties away
// from zero, as roundf). Returns sum(q); *dout = d before its fp16 rounding.
inline int q8_block(const float* x, uint16_t* dd, int8_t* qs, float* dout) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < 8; ++j) {
        v[j] = vld1q_f32(x + 4 * j);
        m = vmaxnmq_f32(m, vabsq_f32(v[j]));  // maxNum: as std::fmax
    }
    const float amax = vmaxnmvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    *dd = f2h(d);
    *dout = d;
    int32x4_t q[8];
    for (int j = 0; j < 8; ++j) q[j] = vcvtaq_s32_f32(vmulq_n_f32(v[j], id));
    vst1q_s8(qs, narrow16(q[0], q[1], q[2], q[3]));
    vst1q_s8(qs + 16, narrow16(q[4], q[5], q[6], q[7]));
    int32x4_t sum = vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]));
    sum = vaddq_s32(sum, vaddq_s32(vaddq_s32(q[4], q[5]), vaddq_s32(q[6], q[7])));
    return vaddvq_s32(sum);
}

void quantize_q8_0(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_0*>(vy);
    float d;
    for (int64_t i = 0; i < k / QK8_0; ++i) q8_block(x + i * QK8_0, &y[i].d, y[i].qs, &d);
}

void quantize_q8_1(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < k / QK8_1; ++i) {
        float d;
        const int sum = q8_block(x + i * QK8_1, &y[i].d, y[i].qs, &d);
        y[i].s = f2h(static_cast<float>(sum) * d);  // the float d, before its fp16 rounding (as the reference)
    }
}

// As the generic quantize_q8_K: max = the first element of largest magnitude (with its sign), iscale = -127 / max,
// q = min(127, round-half-even(iscale * x)) (vcvtnq), d = 1 / iscale, bsums = sums of 16.
void quantize_q8_K(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int j = 0; j < QK_K; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
        const float amax = vmaxnmvq_f32(m);
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        float max = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            if (std::fabs(x[j]) == amax) {
                max = x[j];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const int32x4_t top = vdupq_n_s32(127);
        for (int g = 0; g < QK_K / 16; ++g) {
            int32x4_t q[4];
            for (int j = 0; j < 4; ++j) {
                q[j] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * j), iscale)), top);
            }
            vst1q_s8(y[i].qs + 16 * g, narrow16(q[0], q[1], q[2], q[3]));
            y[i].bsums[g] = static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
        }
        y[i].d = 1.0f / iscale;
    }
}

void to_f16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < k; ++i) y[i] = f2h(x[i]);
}

// Round to nearest even on the top 16 bits; nan stays a quiet nan ((bits >> 16) | 64), as the generic level.
void to_bf16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
        const uint32x4_t u = vreinterpretq_u32_f32(vld1q_f32(x + i));
        const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
        const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(u, vaddq_u32(lsb, vdupq_n_u32(0x7FFF))), 16);
        const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(64));
        const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7FFFFFFF)), vdupq_n_u32(0x7F800000));
        vst1_u16(y + i, vmovn_u32(vbslq_u32(nan, quiet, rounded)));
    }
    for (; i < k; ++i) {
        uint32_t u;
        std::memcpy(&u, x + i, 4);
        y[i] = (u & 0x7FFFFFFFu) > 0x7F800000u ? static_cast<uint16_t>((u >> 16) | 64)
                                               : static_cast<uint16_t>((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// float kernels: float_ops_impl.h over 4-lane NEON vectors, as the x86 levels over theirs
// ---------------------------------------------------------------------------------------------------------------

// e^x = 2^n * e^r with n = round(x / ln2), r = x - n ln2 (ln2 in two parts), |r| <= ln2 / 2, and e^r by its
// degree-7 Taylor polynomial (truncation < 1e-8 relative). 2^n is applied as 2^(n>>1) * 2^(n - (n>>1)), two normal
// floats for every n the clamp allows: x >= 88.73 gives inf, x <= -103.9 gives 0 (so -inf gives 0), nan stays nan.
inline float32x4_t v_exp(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.0f)), vdupq_n_f32(89.0f));  // vmax/vmin keep nan
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187e-06f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t ni = vcvtq_s32_f32(n);
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

struct S {
    using V = float32x4_t;
    static constexpr int W = 4;
    static V load(const float* p) { return vld1q_f32(p); }
    static void store(float* p, V v) { vst1q_f32(p, v); }
    static V set1(float f) { return vdupq_n_f32(f); }
    static V zero() { return vdupq_n_f32(0.0f); }
    static V add(V a, V b) { return vaddq_f32(a, b); }
    static V sub(V a, V b) { return vsubq_f32(a, b); }
    static V mul(V a, V b) { return vmulq_f32(a, b); }
    static V div(V a, V b) { return vdivq_f32(a, b); }
    static V max(V a, V b) { return vmaxq_f32(a, b); }
    static V fmadd(V a, V b, V c) { return vfmaq_f32(c, a, b); }
    static float hsum(V v) { return vaddvq_f32(v); }
    static float hmax(V v) { return vmaxvq_f32(v); }
    static V load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
    static float h2f(uint16_t h) { return neon::h2f(h); }
    static V in_range(V dist, V lim) {  // 0 where 0 <= dist < lim, else -inf
        const uint32x4_t ok = vandq_u32(vcgeq_f32(dist, vdupq_n_f32(0.0f)), vcltq_f32(dist, lim));
        return vbslq_f32(ok, vdupq_n_f32(0.0f), vdupq_n_f32(-INFINITY));
    }
    static V exp(V x) { return v_exp(x); }
};

#include "cpu/float_ops_impl.h"

// Unary ops float_ops_impl.h does not have: y[i] = F(x[i]) with a vector and a scalar form of F.
template <float32x4_t (*Vec)(float32x4_t), float (*Sc)(float)>
void unary_map(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, Vec(vld1q_f32(x + i)));
    for (; i < n; ++i) y[i] = Sc(x[i]);
}

inline float relu1(float x) { return x > 0.0f ? x : 0.0f; }
inline float neg1(float x) { return -x; }
inline float sqr1(float x) { return x * x; }
inline float sqrt1(float x) { return sqrtf(x); }
inline float32x4_t v_relu(float32x4_t x) {  // x > 0 ? x : 0 (nan -> 0, as the scalar form)
    return vbslq_f32(vcgtq_f32(x, vdupq_n_f32(0.0f)), x, vdupq_n_f32(0.0f));
}
inline float32x4_t v_sqr(float32x4_t x) { return vmulq_f32(x, x); }

void u_relu(const float* x, float* y, int64_t n) { unary_map<v_relu, relu1>(x, y, n); }
void u_neg(const float* x, float* y, int64_t n) { unary_map<vnegq_f32, neg1>(x, y, n); }
void u_sqr(const float* x, float* y, int64_t n) { unary_map<v_sqr, sqr1>(x, y, n); }
void u_sqrt(const float* x, float* y, int64_t n) { unary_map<vsqrtq_f32, sqrt1>(x, y, n); }

// (a, b) -> (a c - b s, a s + b c) for pair i = (x[i*s0], x[i*s0 + off]), (c, s) = (cs[2i], cs[2i+1]).
void rope_rotate(const float* x, float* y, const float* cs, int64_t n_pairs, int64_t s0, int64_t off) {
    int64_t i = 0;
    if (s0 == 2 && off == 1) {  // normal rope: adjacent pairs, de-interleaved by vld2
        for (; i + 4 <= n_pairs; i += 4) {
            const float32x4x2_t v = vld2q_f32(x + 2 * i), t = vld2q_f32(cs + 2 * i);
            float32x4x2_t r;
            r.val[0] = vfmsq_f32(vmulq_f32(v.val[0], t.val[0]), v.val[1], t.val[1]);
            r.val[1] = vfmaq_f32(vmulq_f32(v.val[0], t.val[1]), v.val[1], t.val[0]);
            vst2q_f32(y + 2 * i, r);
        }
    } else if (s0 == 1 && off >= 4) {  // neox: halves (off >= 4: the a and b vectors never overlap)
        for (; i + 4 <= n_pairs; i += 4) {
            const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + off);
            const float32x4x2_t t = vld2q_f32(cs + 2 * i);
            vst1q_f32(y + i, vfmsq_f32(vmulq_f32(a, t.val[0]), b, t.val[1]));
            vst1q_f32(y + i + off, vfmaq_f32(vmulq_f32(a, t.val[1]), b, t.val[0]));
        }
    }
    for (; i < n_pairs; ++i) {
        const float a = x[i * s0], b = x[i * s0 + off];
        const float c = cs[2 * i], s = cs[2 * i + 1];
        y[i * s0] = a * c - b * s;
        y[i * s0 + off] = a * s + b * c;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// attention row primitives of Q8_0 cache rows (F32 and F16: float_ops_impl.h)
// ---------------------------------------------------------------------------------------------------------------

// 8 int8 -> two float32x4
inline void widen8(const int8_t* p, float32x4_t* lo, float32x4_t* hi) {
    const int16x8_t v = vmovl_s8(vld1_s8(p));
    *lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(v)));
    *hi = vcvtq_f32_s32(vmovl_high_s16(v));
}

float kdot_q8_0(const float* q, const void* k, int64_t n) {  // n: a multiple of 32
    const auto* b = static_cast<const block_q8_0*>(k);
    float s = 0;
    for (int64_t i = 0; i < n / QK8_0; ++i, q += QK8_0) {
        float32x4_t a0 = vdupq_n_f32(0), a1 = a0;
        for (int j = 0; j < QK8_0; j += 8) {
            float32x4_t lo, hi;
            widen8(b[i].qs + j, &lo, &hi);
            a0 = vfmaq_f32(a0, vld1q_f32(q + j), lo);
            a1 = vfmaq_f32(a1, vld1q_f32(q + j + 4), hi);
        }
        s += vaddvq_f32(vaddq_f32(a0, a1)) * h2f(b[i].d);
    }
    return s;
}

void vaxpy_q8_0(float a, const void* v, float* y, int64_t n) {  // n: a multiple of 32
    const auto* b = static_cast<const block_q8_0*>(v);
    for (int64_t i = 0; i < n / QK8_0; ++i, y += QK8_0) {
        const float ad = a * h2f(b[i].d);
        for (int j = 0; j < QK8_0; j += 8) {
            float32x4_t lo, hi;
            widen8(b[i].qs + j, &lo, &hi);
            vst1q_f32(y + j, vfmaq_n_f32(vld1q_f32(y + j), lo, ad));
            vst1q_f32(y + j + 4, vfmaq_n_f32(vld1q_f32(y + j + 4), hi, ad));
        }
    }
}

}  // namespace

void fill_float_ops(Kernels& t) {
    fill_float_ops_impl(t);  // quantizers, norms, softmax, silu, gelu, exp, swiglu, geglu, add, mul, scale, F32/F16
                             // attention
    t.rope_rotate = rope_rotate;
    t.unary[idx(ops::Unary::relu)] = u_relu;  // gelu_erf, tanh: generic
    t.unary[idx(ops::Unary::neg)] = u_neg;
    t.unary[idx(ops::Unary::sqr)] = u_sqr;
    t.unary[idx(ops::Unary::sqrt)] = u_sqrt;
    t.kdot[kv_slot(DType::Q8_0)] = kdot_q8_0;
    t.vaxpy[kv_slot(DType::Q8_0)] = vaxpy_q8_0;
}

}  // namespace lc::cpu::neon

namespace lc::cpu {
void fill_neon(Kernels& t) {
    neon::fill_float_ops(t);
    neon::fill_gemm(t);
}
}  // namespace lc::cpu
