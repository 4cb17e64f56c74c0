// NEON (+dotprod, +fp16) matmul kernels: signed int8 dot products (sdot) per 16 bytes, one float multiply-add per
// block (32-element formats) or per super-block (K-quants, with integer sub-block scales), as llama.cpp's ARM
// vec_dot kernels do. One weight row x one token per call; rows x token blocks keep activations in cache.
#include <arm_neon.h>

#include <cstring>

#include "cpu/arm/arm.h"
#include "quant/blocks.h"

namespace lc::cpu::neon {
namespace {

constexpr int64_t kTokenBlock = 64;

inline uint16_t ld16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline uint32_t ld32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline float h2f(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
inline float h2f(const uint8_t* p) { return h2f(ld16(p)); }

// Q5: 0x10 in byte j of 16 where bit (j + base) of qh is set
inline uint8x16_t high16(uint32_t qh, int base) {
    static const uint8_t kBits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x8_t lo = vdup_n_u8(static_cast<uint8_t>(qh >> base)),
                    hi = vdup_n_u8(static_cast<uint8_t>(qh >> (base + 8)));
    const uint8x16_t t = vtstq_u8(vcombine_u8(lo, hi), vld1q_u8(kBits));
    return vandq_u8(t, vdupq_n_u8(0x10));
}

// ---- 32-element formats: two int8x16 halves (elements 0..15, 16..31) per block ----
struct Q4_0F {
    static constexpr int kBytes = sizeof(block_q4_0), kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static void quants(const uint8_t* b, int8x16_t* lo, int8x16_t* hi) {
        const uint8x16_t v = vld1q_u8(b + 2);
        *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
        *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), vdupq_n_s8(8));
    }
};
struct Q4_1F {
    static constexpr int kBytes = sizeof(block_q4_1), kActBytes = sizeof(block_q8_1), kActQs = 4;
    static constexpr bool kMin = true;
    static void quants(const uint8_t* b, int8x16_t* lo, int8x16_t* hi) {
        const uint8x16_t v = vld1q_u8(b + 4);
        *lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F)));
        *hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
    }
};
struct Q5_0F {
    static constexpr int kBytes = sizeof(block_q5_0), kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static void quants(const uint8_t* b, int8x16_t* lo, int8x16_t* hi) {
        const uint32_t qh = ld32(b + 2);
        const uint8x16_t v = vld1q_u8(b + 6);
        const uint8x16_t l = vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0F)), high16(qh, 0));
        const uint8x16_t h = vorrq_u8(vshrq_n_u8(v, 4), high16(qh, 16));
        *lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8(16));
        *hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8(16));
    }
};
struct Q5_1F {
    static constexpr int kBytes = sizeof(block_q5_1), kActBytes = sizeof(block_q8_1), kActQs = 4;
    static constexpr bool kMin = true;
    static void quants(const uint8_t* b, int8x16_t* lo, int8x16_t* hi) {
        const uint32_t qh = ld32(b + 4);
        const uint8x16_t v = vld1q_u8(b + 8);
        *lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0F)), high16(qh, 0)));
        *hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(v, 4), high16(qh, 16)));
    }
};
struct Q8_0F {
    static constexpr int kBytes = sizeof(block_q8_0), kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static void quants(const uint8_t* b, int8x16_t* lo, int8x16_t* hi) {
        *lo = vld1q_s8(reinterpret_cast<const int8_t*>(b + 2));
        *hi = vld1q_s8(reinterpret_cast<const int8_t*>(b + 18));
    }
};
struct IQ4_NLF {
    static constexpr int kBytes = sizeof(block_iq4_nl), kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static void quants(const uint8_t* b, int8x16_t* lo, int8x16_t* hi) {
        const int8x16_t table = vld1q_s8(kvalues_iq4nl);
        const uint8x16_t v = vld1q_u8(b + 2);
        *lo = vqtbl1q_s8(table, vandq_u8(v, vdupq_n_u8(0x0F)));
        *hi = vqtbl1q_s8(table, vshrq_n_u8(v, 4));
    }
};

template <class F>
float dot32(const uint8_t* w, const uint8_t* x, int64_t nb) {
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    float macc = 0.0f;
    const int32x4_t zero = vdupq_n_s32(0);
    int64_t b = 0;
    auto one = [&](int64_t i, float32x4_t& acc) {
        const uint8_t* wb = w + i * F::kBytes;
        const uint8_t* xb = x + i * F::kActBytes;
        int8x16_t lo, hi;
        F::quants(wb, &lo, &hi);
        const int8x16_t x0 = vld1q_s8(reinterpret_cast<const int8_t*>(xb + F::kActQs));
        const int8x16_t x1 = vld1q_s8(reinterpret_cast<const int8_t*>(xb + F::kActQs + 16));
        const int32x4_t p = vdotq_s32(vdotq_s32(zero, lo, x0), hi, x1);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), h2f(wb) * h2f(xb));
        if constexpr (F::kMin) macc += h2f(wb + 2) * h2f(xb + 2);
    };
    for (; b + 2 <= nb; b += 2) {
        one(b, acc0);
        one(b + 1, acc1);
    }
    if (b < nb) one(b, acc0);
    return vaddvq_f32(vaddq_f32(acc0, acc1)) + macc;
}

// ---- K-quants x Q8_K (d f32 at 0, qs at 4, bsums at 260) ----
inline void unpack_k4_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
    const uint32_t u0 = ld32(s), u1 = ld32(s + 4), u2 = ld32(s + 8);
    const uint32_t a[2] = {u0 & 0x3f3f3f3f, (u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4)};
    const uint32_t m[2] = {u1 & 0x3f3f3f3f, ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4)};
    std::memcpy(sc, a, 8);
    std::memcpy(mn, m, 8);
}

inline int32_t dot16x2(int8x16_t a0, int8x16_t a1, const int8_t* x) {
    return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, vld1q_s8(x)), a1, vld1q_s8(x + 16)));
}

template <bool kHigh>
float dot_q45_K(const uint8_t* w, const uint8_t* x, int64_t nsb) {
    constexpr int kBytes = kHigh ? sizeof(block_q5_K) : sizeof(block_q4_K);
    constexpr int kQs = kHigh ? 48 : 16;
    float s = 0.0f;
    const uint8x16_t low4 = vdupq_n_u8(0x0F), bit4 = vdupq_n_u8(0x10);
    for (int64_t i = 0; i < nsb; ++i) {
        const uint8_t* wb = w + i * kBytes;
        const uint8_t* xb = x + i * sizeof(block_q8_K);
        const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 4);
        int16_t bsums[16];
        std::memcpy(bsums, xb + 260, 32);
        uint8_t sc[8], mn[8];
        unpack_k4_scales(wb + 4, sc, mn);
        uint8x16_t h0, h1;
        if constexpr (kHigh) h0 = vld1q_u8(wb + 16), h1 = vld1q_u8(wb + 32);
        int32_t isum = 0, summs = 0;
        for (int c = 0; c < 4; ++c) {
            const uint8x16_t v0 = vld1q_u8(wb + kQs + 32 * c), v1 = vld1q_u8(wb + kQs + 32 * c + 16);
            uint8x16_t l0 = vandq_u8(v0, low4), l1 = vandq_u8(v1, low4);
            uint8x16_t u0 = vshrq_n_u8(v0, 4), u1 = vshrq_n_u8(v1, 4);
            if constexpr (kHigh) {
                const uint8x16_t bl = vdupq_n_u8(static_cast<uint8_t>(1 << (2 * c)));
                const uint8x16_t bh = vdupq_n_u8(static_cast<uint8_t>(1 << (2 * c + 1)));
                l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, bl), bit4));
                l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, bl), bit4));
                u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, bh), bit4));
                u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, bh), bit4));
            }
            isum += sc[2 * c] * dot16x2(vreinterpretq_s8_u8(l0), vreinterpretq_s8_u8(l1), xq + 64 * c);
            isum += sc[2 * c + 1] * dot16x2(vreinterpretq_s8_u8(u0), vreinterpretq_s8_u8(u1), xq + 64 * c + 32);
        }
        for (int j = 0; j < 8; ++j) summs += mn[j] * (bsums[2 * j] + bsums[2 * j + 1]);
        float dx;
        std::memcpy(&dx, xb, 4);
        s += dx * h2f(wb) * isum - dx * h2f(wb + 2) * summs;
    }
    return s;
}

float dot_q6_K(const uint8_t* w, const uint8_t* x, int64_t nsb) {
    float s = 0.0f;
    const uint8x16_t low4 = vdupq_n_u8(0x0F), three = vdupq_n_u8(3);
    const int8x16_t m32 = vdupq_n_s8(32);
    for (int64_t i = 0; i < nsb; ++i) {
        const uint8_t* wb = w + i * sizeof(block_q6_K);
        const uint8_t* xb = x + i * sizeof(block_q8_K);
        const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 4);
        const int8_t* sc = reinterpret_cast<const int8_t*>(wb + 192);
        int32_t isum = 0;
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = wb + 64 * h;
            const uint8_t* qh = wb + 128 + 32 * h;
            for (int half = 0; half < 2; ++half) {  // l in [16*half, 16*half + 16)
                const uint8x16_t H = vld1q_u8(qh + 16 * half);
                const uint8x16_t La = vld1q_u8(ql + 16 * half), Lb = vld1q_u8(ql + 32 + 16 * half);
                const uint8x16_t q[4] = {
                    vorrq_u8(vandq_u8(La, low4), vshlq_n_u8(vandq_u8(H, three), 4)),
                    vorrq_u8(vandq_u8(Lb, low4), vshlq_n_u8(vandq_u8(vshrq_n_u8(H, 2), three), 4)),
                    vorrq_u8(vshrq_n_u8(La, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(H, 4), three), 4)),
                    vorrq_u8(vshrq_n_u8(Lb, 4), vshlq_n_u8(vshrq_n_u8(H, 6), 4)),
                };
                for (int c = 0; c < 4; ++c) {
                    const int g = 8 * h + 2 * c + half;
                    const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(q[c]), m32);
                    const int8x16_t xv = vld1q_s8(xq + 128 * h + 32 * c + 16 * half);
                    isum += sc[g] * vaddvq_s32(vdotq_s32(vdupq_n_s32(0), v, xv));
                }
            }
        }
        float dx;
        std::memcpy(&dx, xb, 4);
        s += dx * h2f(wb + 208) * isum;
    }
    return s;
}

// ---- float formats ----
float dot_f32(const uint8_t* w, const uint8_t* x, int64_t k) {
    const float* a = reinterpret_cast<const float*>(w);
    const float* b = reinterpret_cast<const float*>(x);
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < k; ++i) s += a[i] * b[i];
    return s;
}
float dot_f16(const uint8_t* w, const uint8_t* x, int64_t k) {
    const uint16_t* a = reinterpret_cast<const uint16_t*>(w);
    const uint16_t* b = reinterpret_cast<const uint16_t*>(x);
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const float16x8_t va = vreinterpretq_f16_u16(vld1q_u16(a + i)), vb = vreinterpretq_f16_u16(vld1q_u16(b + i));
        s0 = vfmaq_f32(s0, vcvt_f32_f16(vget_low_f16(va)), vcvt_f32_f16(vget_low_f16(vb)));
        s1 = vfmaq_f32(s1, vcvt_high_f32_f16(va), vcvt_high_f32_f16(vb));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < k; ++i) s += h2f(a[i]) * h2f(b[i]);
    return s;
}
float dot_bf16(const uint8_t* w, const uint8_t* x, int64_t k) {
    const uint16_t* a = reinterpret_cast<const uint16_t*>(w);
    const uint16_t* b = reinterpret_cast<const uint16_t*>(x);
    float32x4_t s0 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
        const float32x4_t va = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(a + i), 16));
        const float32x4_t vb = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(b + i), 16));
        s0 = vfmaq_f32(s0, va, vb);
    }
    float s = vaddvq_f32(s0);
    for (; i < k; ++i) {
        const uint32_t ua = static_cast<uint32_t>(a[i]) << 16, ub = static_cast<uint32_t>(b[i]) << 16;
        float fa, fb;
        std::memcpy(&fa, &ua, 4);
        std::memcpy(&fb, &ub, 4);
        s += fa * fb;
    }
    return s;
}

using DotFn = float (*)(const uint8_t* w, const uint8_t* x, int64_t len);

template <DotFn D, int kBlock>
void gemm(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
          int64_t ys) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(xq);
    for (int64_t t0 = 0; t0 < n; t0 += kTokenBlock) {
        const int64_t t1 = n - t0 < kTokenBlock ? n : t0 + kTokenBlock;
        for (int64_t r = 0; r < nrows; ++r) {
            for (int64_t t = t0; t < t1; ++t) y[t * ys + r] = D(wb + r * ws, xb + t * xs, k / kBlock);
        }
    }
}

}  // namespace

void fill_gemm(Kernels& t) {
    auto set = [&](DType d, GemmFn f) { t.gemm[static_cast<int>(d)] = f; };
    set(DType::F32, gemm<dot_f32, 1>);
    set(DType::F16, gemm<dot_f16, 1>);
    set(DType::BF16, gemm<dot_bf16, 1>);
    set(DType::Q4_0, gemm<dot32<Q4_0F>, 32>);
    set(DType::Q4_1, gemm<dot32<Q4_1F>, 32>);
    set(DType::Q5_0, gemm<dot32<Q5_0F>, 32>);
    set(DType::Q5_1, gemm<dot32<Q5_1F>, 32>);
    set(DType::Q8_0, gemm<dot32<Q8_0F>, 32>);
    set(DType::IQ4_NL, gemm<dot32<IQ4_NLF>, 32>);
    set(DType::Q4_K, gemm<dot_q45_K<false>, 256>);
    set(DType::Q5_K, gemm<dot_q45_K<true>, 256>);
    set(DType::Q6_K, gemm<dot_q6_K, 256>);
}

}  // namespace lc::cpu::neon
