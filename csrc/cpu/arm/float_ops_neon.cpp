// NEON level: activation quantizers (bit-identical to the generic level), float kernels, and the table filler.
// Vector loops take 4 floats at a time; tails shorter than a vector run the scalar formula.
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/arm/neon.h"
#include "quant/blocks.h"

namespace lc::cpu::neon {
namespace {

// fp16 <-> fp32 by the hardware conversions (round to nearest even; exact for fp16 -> fp32).
inline float h2f(uint16_t h) {
    __fp16 f;
    std::memcpy(&f, &h, 2);
    return static_cast<float>(f);
}
inline uint16_t f2h(float x) {
    const __fp16 f = static_cast<__fp16>(x);
    uint16_t h;
    std::memcpy(&h, &f, 2);
    return h;
}

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
// float helpers
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

inline float32x4_t v_silu(float32x4_t x) {  // x / (1 + e^-x)
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), v_exp(vnegq_f32(x))));
}
// gelu, tanh approximation: 0.5 x (1 + tanh(z)) = x / (1 + e^(-2z)), z = sqrt(2/pi) x (1 + 0.044715 x^2); the
// second form has no 1 + tanh cancellation for negative x.
inline float32x4_t v_gelu(float32x4_t x) {
    const float32x4_t x2 = vmulq_f32(x, x);
    const float32x4_t z = vmulq_f32(vmulq_n_f32(x, -2.0f * 0.79788456080286535588f),
                                    vfmaq_f32(vdupq_n_f32(1.0f), vdupq_n_f32(0.044715f), x2));
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), v_exp(z)));
}

inline float silu1(float x) { return x / (1.0f + std::exp(-x)); }
inline float gelu1(float x) {
    const float z = 0.79788456080286535588f * x * (1.0f + 0.044715f * x * x);
    return x / (1.0f + std::exp(-2.0f * z));
}

inline float hsum4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    return vaddvq_f32(vaddq_f32(vaddq_f32(a, b), vaddq_f32(c, d)));
}

// ---------------------------------------------------------------------------------------------------------------
// element-wise
// ---------------------------------------------------------------------------------------------------------------

// y[i] = F(x[i]) with a vector and a scalar form of F.
template <float32x4_t (*V)(float32x4_t), float (*S)(float)>
void unary_map(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, V(vld1q_f32(x + i)));
    for (; i < n; ++i) y[i] = S(x[i]);
}

inline float exp1(float x) { return std::exp(x); }
inline float relu1(float x) { return x > 0.0f ? x : 0.0f; }
inline float neg1(float x) { return -x; }
inline float sqr1(float x) { return x * x; }
inline float sqrt1(float x) { return std::sqrt(x); }
inline float32x4_t v_relu(float32x4_t x) {  // x > 0 ? x : 0 (nan -> 0, as the scalar form)
    return vbslq_f32(vcgtq_f32(x, vdupq_n_f32(0.0f)), x, vdupq_n_f32(0.0f));
}
inline float32x4_t v_sqr(float32x4_t x) { return vmulq_f32(x, x); }

void u_silu(const float* x, float* y, int64_t n) { unary_map<v_silu, silu1>(x, y, n); }
void u_gelu(const float* x, float* y, int64_t n) { unary_map<v_gelu, gelu1>(x, y, n); }
void u_relu(const float* x, float* y, int64_t n) { unary_map<v_relu, relu1>(x, y, n); }
void u_neg(const float* x, float* y, int64_t n) { unary_map<vnegq_f32, neg1>(x, y, n); }
void u_sqr(const float* x, float* y, int64_t n) { unary_map<v_sqr, sqr1>(x, y, n); }
void u_sqrt(const float* x, float* y, int64_t n) { unary_map<vsqrtq_f32, sqrt1>(x, y, n); }
void u_exp(const float* x, float* y, int64_t n) { unary_map<v_exp, exp1>(x, y, n); }

void g_swiglu(const float* g, const float* u, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(v_silu(vld1q_f32(g + i)), vld1q_f32(u + i)));
    for (; i < n; ++i) y[i] = silu1(g[i]) * u[i];
}
void g_geglu(const float* g, const float* u, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(v_gelu(vld1q_f32(g + i)), vld1q_f32(u + i)));
    for (; i < n; ++i) y[i] = gelu1(g[i]) * u[i];
}

void b_add(const float* a, const float* b, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < n; ++i) y[i] = a[i] + b[i];
}
void b_mul(const float* a, const float* b, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < n; ++i) y[i] = a[i] * b[i];
}
void scale(const float* x, float s, float b, float* y, int64_t n) {  // y = x * s + b
    const float32x4_t vb = vdupq_n_f32(b);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vb, vld1q_f32(x + i), s));
    for (; i < n; ++i) y[i] = x[i] * s + b;
}
void vscale(float* y, float s, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), s));
    for (; i < n; ++i) y[i] *= s;
}

// ---------------------------------------------------------------------------------------------------------------
// norms, softmax, rope
// ---------------------------------------------------------------------------------------------------------------

float sum_sq(const float* x, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4), v2 = vld1q_f32(x + i + 8),
                          v3 = vld1q_f32(x + i + 12);
        a0 = vfmaq_f32(a0, v0, v0);
        a1 = vfmaq_f32(a1, v1, v1);
        a2 = vfmaq_f32(a2, v2, v2);
        a3 = vfmaq_f32(a3, v3, v3);
    }
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        a0 = vfmaq_f32(a0, v, v);
    }
    float s = hsum4(a0, a1, a2, a3);
    for (; i < n; ++i) s += x[i] * x[i];
    return s;
}

float sum(const float* x, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vaddq_f32(a0, vld1q_f32(x + i));
        a1 = vaddq_f32(a1, vld1q_f32(x + i + 4));
    }
    for (; i + 4 <= n; i += 4) a0 = vaddq_f32(a0, vld1q_f32(x + i));
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; ++i) s += x[i];
    return s;
}

void rms_norm(const float* x, int64_t n, float eps, const float* w, float* y) {
    const float r = 1.0f / std::sqrt(sum_sq(x, n) / static_cast<float>(n) + eps);
    int64_t i = 0;
    if (w) {
        for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), r), vld1q_f32(w + i)));
        for (; i < n; ++i) y[i] = x[i] * r * w[i];
    } else {
        for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(x + i), r));
        for (; i < n; ++i) y[i] = x[i] * r;
    }
}

void layer_norm(const float* x, int64_t n, float eps, const float* w, const float* b, float* y) {
    const float mean = sum(x, n) / static_cast<float>(n);
    const float32x4_t vm = vdupq_n_f32(mean);
    float32x4_t acc = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t d = vsubq_f32(vld1q_f32(x + i), vm);
        acc = vfmaq_f32(acc, d, d);
    }
    float var = vaddvq_f32(acc);
    for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    const float r = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t t = vmulq_n_f32(vsubq_f32(vld1q_f32(x + i), vm), r);
        if (w) t = vmulq_f32(t, vld1q_f32(w + i));
        if (b) t = vaddq_f32(t, vld1q_f32(b + i));
        vst1q_f32(y + i, t);
    }
    for (; i < n; ++i) {
        float t = (x[i] - mean) * r;
        if (w) t *= w[i];
        if (b) t += b[i];
        y[i] = t;
    }
}

// y[i] = e^(x[i] - m); returns the sum. In place (y == x) is allowed.
float exp_sum(const float* x, float m, float* y, int64_t n) {
    const float32x4_t vm = vdupq_n_f32(m);
    float32x4_t acc = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t e = v_exp(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(y + i, e);
        acc = vaddq_f32(acc, e);
    }
    float s = vaddvq_f32(acc);
    for (; i < n; ++i) {
        y[i] = std::exp(x[i] - m);
        s += y[i];
    }
    return s;
}

void softmax(const float* x, int64_t n, float scale, const float* mask, int64_t n_visible, float* y) {
    float32x4_t vmax = vdupq_n_f32(-INFINITY);
    int64_t i = 0;
    for (; i + 4 <= n_visible; i += 4) {
        float32x4_t v = vmulq_n_f32(vld1q_f32(x + i), scale);
        if (mask) v = vaddq_f32(v, vld1q_f32(mask + i));
        vst1q_f32(y + i, v);
        vmax = vmaxnmq_f32(vmax, v);  // maxNum: as std::fmax
    }
    float mx = vmaxnmvq_f32(vmax);
    for (; i < n_visible; ++i) {
        y[i] = x[i] * scale + (mask ? mask[i] : 0.0f);
        mx = std::fmax(mx, y[i]);
    }
    if (mx == -INFINITY) {  // nothing visible
        for (int64_t j = 0; j < n; ++j) y[j] = 0.0f;
        return;
    }
    const float s = exp_sum(y, mx, y, n_visible);
    vscale(y, 1.0f / s, n_visible);
    for (int64_t j = n_visible; j < n; ++j) y[j] = 0.0f;
}

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
// attention row primitives: q . k and y += a * v for F32, F16 and Q8_0 cache rows
// ---------------------------------------------------------------------------------------------------------------

inline float32x4_t load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

float kdot_f32(const float* q, const void* k, int64_t n) {
    const float* kk = static_cast<const float*>(k);
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), vld1q_f32(kk + i));
        a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), vld1q_f32(kk + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(q + i + 8), vld1q_f32(kk + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(q + i + 12), vld1q_f32(kk + i + 12));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(q + i), vld1q_f32(kk + i));
    float s = hsum4(a0, a1, a2, a3);
    for (; i < n; ++i) s += q[i] * kk[i];
    return s;
}

float kdot_f16(const float* q, const void* k, int64_t n) {
    const uint16_t* kk = static_cast<const uint16_t*>(k);
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), load_f16(kk + i));
        a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), load_f16(kk + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(q + i + 8), load_f16(kk + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(q + i + 12), load_f16(kk + i + 12));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(q + i), load_f16(kk + i));
    float s = hsum4(a0, a1, a2, a3);
    for (; i < n; ++i) s += q[i] * h2f(kk[i]);
    return s;
}

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

void vaxpy_f32(float a, const void* v, float* y, int64_t n) {
    const float* vv = static_cast<const float*>(v);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(vv + i), a));
    for (; i < n; ++i) y[i] += a * vv[i];
}

void vaxpy_f16(float a, const void* v, float* y, int64_t n) {
    const uint16_t* vv = static_cast<const uint16_t*>(v);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), load_f16(vv + i), a));
    for (; i < n; ++i) y[i] += a * h2f(vv[i]);
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

void deq_f16(const void* x, float* y, int64_t k) {
    const uint16_t* h = static_cast<const uint16_t*>(x);
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) vst1q_f32(y + i, load_f16(h + i));
    for (; i < k; ++i) y[i] = h2f(h[i]);
}

}  // namespace

void fill_float_ops(Kernels& t) {
    t.quantize_q8_0 = quantize_q8_0;
    t.quantize_q8_1 = quantize_q8_1;
    t.quantize_q8_K = quantize_q8_K;
    t.to_f16 = to_f16;
    t.to_bf16 = to_bf16;
    t.rms_norm = rms_norm;
    t.layer_norm = layer_norm;
    t.softmax = softmax;
    t.rope_rotate = rope_rotate;
    // indexed by ops::Unary: silu, gelu, gelu_erf, relu, tanh, neg, sqr, sqrt, exp (gelu_erf, tanh: generic)
    t.unary[idx(ops::Unary::silu)] = u_silu;
    t.unary[idx(ops::Unary::gelu)] = u_gelu;
    t.unary[idx(ops::Unary::relu)] = u_relu;
    t.unary[idx(ops::Unary::neg)] = u_neg;
    t.unary[idx(ops::Unary::sqr)] = u_sqr;
    t.unary[idx(ops::Unary::sqrt)] = u_sqrt;
    t.unary[idx(ops::Unary::exp)] = u_exp;
    t.glu[idx(ops::Glu::swiglu)] = g_swiglu;  // indexed by ops::Glu: swiglu, geglu, geglu_erf (generic)
    t.glu[idx(ops::Glu::geglu)] = g_geglu;
    t.add = b_add;
    t.mul = b_mul;
    t.scale = scale;
    t.kdot[kv_slot(DType::F32)] = kdot_f32;  // cache type slots: F32, F16, Q8_0
    t.kdot[kv_slot(DType::F16)] = kdot_f16;
    t.kdot[kv_slot(DType::Q8_0)] = kdot_q8_0;
    t.vaxpy[kv_slot(DType::F32)] = vaxpy_f32;
    t.vaxpy[kv_slot(DType::F16)] = vaxpy_f16;
    t.vaxpy[kv_slot(DType::Q8_0)] = vaxpy_q8_0;
    t.vscale = vscale;
    t.exp_sum = exp_sum;
    t.dequantize[static_cast<int>(DType::F16)] = deq_f16;
}

}  // namespace lc::cpu::neon

namespace lc::cpu {
void fill_neon(Kernels& t) {
    neon::fill_float_ops(t);
    neon::fill_gemm(t);
}
}  // namespace lc::cpu
