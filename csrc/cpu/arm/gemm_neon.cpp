// NEON (+dotprod) matmul kernels: Y[t, r] = dot(W row r, activation row t), one weight row against one activation
// row at a time.
//
// Quantized formats: the weight quants of a block are unpacked to int8 lanes (nibbles, high bits, codebook look-ups)
// and vdotq_s32 gives the block's (or sub-block's) exact integer sum with the int8 activation quants. The block
// scales are then applied in float with the same operations, in the same order, as the generic kernels
// (csrc/cpu/generic/gemm.cpp), so the only difference to generic is how the compiler contracts those few float ops.
// Float formats (F32, F16, BF16) use four float32x4 FMA accumulators.
#include <arm_neon.h>

#include <cstring>

#include "cpu/arm/neon.h"
#include "quant/blocks.h"

namespace lc::cpu::neon {
namespace {

#include "cpu/arm/neon_util.h"  // h2f, f2h

// sum of a[i] * y[i] for 32 int8: a0 holds elements 0..15, a1 elements 16..31.
inline int dot32(int8x16_t a0, int8x16_t a1, const int8_t* y) {
    int32x4_t acc = vdotq_s32(vdupq_n_s32(0), a0, vld1q_s8(y));
    acc = vdotq_s32(acc, a1, vld1q_s8(y + 16));
    return vaddvq_s32(acc);
}

// sum of a[i] * y[i] for 16 int8.
inline int dot16(int8x16_t a, const int8_t* y) { return vaddvq_s32(vdotq_s32(vdupq_n_s32(0), a, vld1q_s8(y))); }

inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }
inline uint8x16_t low4(uint8x16_t v) { return vandq_u8(v, vdupq_n_u8(0x0F)); }
inline uint8x16_t high4(uint8x16_t v) { return vshrq_n_u8(v, 4); }

// Q5_0/Q5_1: bit e (0..31) of the 32-bit qh field becomes 0x10 in byte e; h0: bytes 0..15, h1: bytes 16..31.
inline void q5_high_bits(const uint8_t* qh, uint8x16_t* h0, uint8x16_t* h1) {
    static constexpr uint8_t kByteLo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    static constexpr uint8_t kByteHi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint32_t bits;
    std::memcpy(&bits, qh, 4);
    const uint8x16_t b = vreinterpretq_u8_u32(vdupq_n_u32(bits));  // qh bytes 0..3, four times
    const uint8x16_t bit = vld1q_u8(kBit), x10 = vdupq_n_u8(0x10);
    *h0 = vandq_u8(vtstq_u8(vqtbl1q_u8(b, vld1q_u8(kByteLo)), bit), x10);
    *h1 = vandq_u8(vtstq_u8(vqtbl1q_u8(b, vld1q_u8(kByteHi)), bit), x10);
}

// Q4_K / Q5_K: the j-th (0..7) 6-bit scale and min of the 12 packed bytes.
inline void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// ---- float formats ----

float vd_f32(const void* vw, const void* vx, int64_t k) {
    const float* w = static_cast<const float*>(vw);
    const float* x = static_cast<const float*>(vx);
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(w + i + 8), vld1q_f32(x + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(w + i + 12), vld1q_f32(x + i + 12));
    }
    for (; i + 4 <= k; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < k; ++i) s += w[i] * x[i];
    return s;
}

inline float32x4_t load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float32x4_t load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
inline float bf2f(uint16_t h) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// F16 x F16 and BF16 x BF16: both rows widened to float32 (exact), products summed in float32.
template <float32x4_t (*Load)(const uint16_t*), float (*Scalar)(uint16_t)>
float vd_half(const void* vw, const void* vx, int64_t k) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* x = static_cast<const uint16_t*>(vx);
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        a0 = vfmaq_f32(a0, Load(w + i), Load(x + i));
        a1 = vfmaq_f32(a1, Load(w + i + 4), Load(x + i + 4));
        a2 = vfmaq_f32(a2, Load(w + i + 8), Load(x + i + 8));
        a3 = vfmaq_f32(a3, Load(w + i + 12), Load(x + i + 12));
    }
    for (; i + 4 <= k; i += 4) a0 = vfmaq_f32(a0, Load(w + i), Load(x + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < k; ++i) s += Scalar(w[i]) * Scalar(x[i]);
    return s;
}
float vd_f16(const void* w, const void* x, int64_t k) { return vd_half<load_f16, h2f>(w, x, k); }
float vd_bf16(const void* w, const void* x, int64_t k) { return vd_half<load_bf16, bf2f>(w, x, k); }

// ---- 32-element formats x Q8_0 / Q8_1 ----

float vd_q4_0(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q4_0*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    const int8x16_t eight = vdupq_n_s8(8);
    float s = 0;
    for (int64_t i = 0; i < k / QK4_0; ++i) {
        const uint8x16_t q = vld1q_u8(w[i].qs);  // element j in the low nibble of byte j, element j + 16 in the high
        const int sumi = dot32(vsubq_s8(s8(low4(q)), eight), vsubq_s8(s8(high4(q)), eight), x[i].qs);
        s += sumi * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

float vd_q4_1(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q4_1*>(vw);
    const auto* x = static_cast<const block_q8_1*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK4_1; ++i) {
        const uint8x16_t q = vld1q_u8(w[i].qs);
        const int sumi = dot32(s8(low4(q)), s8(high4(q)), x[i].qs);
        s += h2f(w[i].d) * h2f(x[i].d) * sumi + h2f(w[i].m) * h2f(x[i].s);
    }
    return s;
}

float vd_q5_0(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q5_0*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    const int8x16_t sixteen = vdupq_n_s8(16);
    float s = 0;
    for (int64_t i = 0; i < k / QK5_0; ++i) {
        uint8x16_t h0, h1;
        q5_high_bits(w[i].qh, &h0, &h1);
        const uint8x16_t q = vld1q_u8(w[i].qs);
        const int8x16_t a0 = vsubq_s8(s8(vorrq_u8(low4(q), h0)), sixteen);
        const int8x16_t a1 = vsubq_s8(s8(vorrq_u8(high4(q), h1)), sixteen);
        s += dot32(a0, a1, x[i].qs) * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

float vd_q5_1(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q5_1*>(vw);
    const auto* x = static_cast<const block_q8_1*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK5_1; ++i) {
        uint8x16_t h0, h1;
        q5_high_bits(w[i].qh, &h0, &h1);
        const uint8x16_t q = vld1q_u8(w[i].qs);
        const int sumi = dot32(s8(vorrq_u8(low4(q), h0)), s8(vorrq_u8(high4(q), h1)), x[i].qs);
        s += h2f(w[i].d) * h2f(x[i].d) * sumi + h2f(w[i].m) * h2f(x[i].s);
    }
    return s;
}

float vd_q8_0(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q8_0*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK8_0; ++i) {
        const int sumi = dot32(vld1q_s8(w[i].qs), vld1q_s8(w[i].qs + 16), x[i].qs);
        s += sumi * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

float vd_iq4_nl(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_iq4_nl*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    const int8x16_t book = vld1q_s8(kvalues_iq4nl);
    float s = 0;
    for (int64_t i = 0; i < k / QK4_NL; ++i) {
        const uint8x16_t q = vld1q_u8(w[i].qs);
        const int sumi = dot32(vqtbl1q_s8(book, low4(q)), vqtbl1q_s8(book, high4(q)), x[i].qs);
        s += sumi * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

// ---- K-quants and IQ4_XS x Q8_K (super-blocks of 256) ----

float vd_q2_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q2_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    const uint8x16_t m3 = vdupq_n_u8(3);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const uint8_t* sc = w[i].scales;
        int summs = 0;
        for (int j = 0; j < 16; ++j) summs += x[i].bsums[j] * (sc[j] >> 4);
        int isum = 0;
        for (int g = 0; g < 16; ++g) {  // group g of 16: bytes 32*(g/8) + 16*(g%2).., 2-bit field (g/2)%4
            const uint8x16_t q = vld1q_u8(w[i].qs + 32 * (g / 8) + 16 * (g % 2));
            const uint8x16_t v = vandq_u8(vshlq_u8(q, vdupq_n_s8(static_cast<int8_t>(-2 * ((g / 2) % 4)))), m3);
            isum += (sc[g] & 0xF) * dot16(s8(v), x[i].qs + 16 * g);
        }
        s += x[i].d * h2f(w[i].d) * isum - x[i].d * h2f(w[i].dmin) * summs;
    }
    return s;
}

float vd_q3_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q3_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    const uint8x16_t m3 = vdupq_n_u8(3), four = vdupq_n_u8(4);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const uint8_t* sb = w[i].scales;
        int isum = 0;
        for (int g = 0; g < 16; ++g) {  // as Q2_K, minus 4 where the group's hmask bit (g/2) is clear
            const int lo = g < 8 ? (sb[g] & 0xF) : (sb[g - 8] >> 4);
            const int hi = (sb[8 + g % 4] >> (2 * (g / 4))) & 3;
            const int sc = (lo | (hi << 4)) - 32;
            const uint8x16_t q = vld1q_u8(w[i].qs + 32 * (g / 8) + 16 * (g % 2));
            const uint8x16_t v = vandq_u8(vshlq_u8(q, vdupq_n_s8(static_cast<int8_t>(-2 * ((g / 2) % 4)))), m3);
            const uint8x16_t hm = vld1q_u8(w[i].hmask + 16 * (g % 2));
            const uint8x16_t minus = vbicq_u8(four, vtstq_u8(hm, vdupq_n_u8(static_cast<uint8_t>(1u << (g / 2)))));
            isum += sc * dot16(vsubq_s8(s8(v), s8(minus)), x[i].qs + 16 * g);
        }
        s += x[i].d * h2f(w[i].d) * isum;
    }
    return s;
}

float vd_q4_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q4_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; ++j) {  // sub-block j of 32: bytes 32*(j/2).., low nibbles if j is even
            int sc, m;
            scale_min_k4(j, w[i].scales, &sc, &m);
            const uint8_t* q = w[i].qs + 32 * (j / 2);
            const uint8x16_t q0 = vld1q_u8(q), q1 = vld1q_u8(q + 16);
            const int8x16_t a0 = s8(j % 2 ? high4(q0) : low4(q0)), a1 = s8(j % 2 ? high4(q1) : low4(q1));
            isum += sc * dot32(a0, a1, x[i].qs + 32 * j);
            summs += m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        }
        s += x[i].d * h2f(w[i].d) * isum - x[i].d * h2f(w[i].dmin) * summs;
    }
    return s;
}

float vd_q5_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q5_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    const uint8x16_t x10 = vdupq_n_u8(0x10);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const uint8x16_t qh0 = vld1q_u8(w[i].qh), qh1 = vld1q_u8(w[i].qh + 16);
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; ++j) {  // as Q4_K, plus bit j of qh[l] as the fifth bit of element l
            int sc, m;
            scale_min_k4(j, w[i].scales, &sc, &m);
            const uint8_t* q = w[i].qs + 32 * (j / 2);
            const uint8x16_t q0 = vld1q_u8(q), q1 = vld1q_u8(q + 16);
            const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1u << j));
            const uint8x16_t h0 = vandq_u8(vtstq_u8(qh0, bit), x10), h1 = vandq_u8(vtstq_u8(qh1, bit), x10);
            const int8x16_t a0 = s8(vorrq_u8(j % 2 ? high4(q0) : low4(q0), h0));
            const int8x16_t a1 = s8(vorrq_u8(j % 2 ? high4(q1) : low4(q1), h1));
            isum += sc * dot32(a0, a1, x[i].qs + 32 * j);
            summs += m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        }
        s += x[i].d * h2f(w[i].d) * isum - x[i].d * h2f(w[i].dmin) * summs;
    }
    return s;
}

float vd_q6_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q6_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    const uint8x16_t m3 = vdupq_n_u8(3);
    const int8x16_t bias = vdupq_n_s8(32);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        int isum = 0;
        for (int g = 0; g < 16; ++g) {
            // element e = 128*h + 32*c + l (h: half, c: quarter 0..3, l: 0..31); group g = e / 16
            const int h = g / 8, c = (g / 2) % 4, l0 = 16 * (g % 2);
            const uint8x16_t ql = vld1q_u8(w[i].ql + 64 * h + 32 * (c % 2) + l0);
            const uint8x16_t qh = vld1q_u8(w[i].qh + 32 * h + l0);
            const uint8x16_t lo = c / 2 ? high4(ql) : low4(ql);
            const uint8x16_t hi = vandq_u8(vshlq_u8(qh, vdupq_n_s8(static_cast<int8_t>(-2 * c))), m3);
            const int8x16_t v = vsubq_s8(s8(vorrq_u8(lo, vshlq_n_u8(hi, 4))), bias);
            isum += w[i].scales[g] * dot16(v, x[i].qs + 16 * g);
        }
        s += x[i].d * h2f(w[i].d) * isum;
    }
    return s;
}

float vd_iq4_xs(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_iq4_xs*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    const int8x16_t book = vld1q_s8(kvalues_iq4nl);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const float d = h2f(w[i].d) * x[i].d;
        for (int ib = 0; ib < 8; ++ib) {  // sub-block ib of 32: 16 bytes, low nibbles then high nibbles
            const int ls = ((w[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((w[i].scales_h >> (2 * ib)) & 3) << 4);
            const uint8x16_t q = vld1q_u8(w[i].qs + 16 * ib);
            const int sumi = dot32(vqtbl1q_s8(book, low4(q)), vqtbl1q_s8(book, high4(q)), x[i].qs + 32 * ib);
            s += d * (ls - 32) * sumi;
        }
    }
    return s;
}

using VecDotFn = float (*)(const void* w, const void* x, int64_t k);

#include "cpu/vec_dot_gemm.h"  // gemm_rows, fill_vec_dot_gemm

}  // namespace

void fill_gemm(Kernels& t) { fill_vec_dot_gemm(t); }

}  // namespace lc::cpu::neon
