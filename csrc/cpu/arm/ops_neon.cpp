// NEON level: float kernels (through float_ops_impl.h), activation quantizers, and the table filler.
#include <arm_neon.h>
#include <math.h>

#include <cstdint>
#include <cstring>

#include "cpu/arm/arm.h"
#include "quant/blocks.h"

namespace lc::cpu::neon {
namespace {

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
    static float h2f(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
    // e^x = 2^n * p(r) (as the x86 levels), 2^n in the exponent bits; below the normal range -> 0.
    static V exp(V x) {
        const V lo = vdupq_n_f32(-87.33654f);
        const uint32x4_t keep = vcgeq_f32(x, lo);
        x = vminq_f32(vmaxq_f32(x, lo), vdupq_n_f32(88.72283f));
        const V n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
        V r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
        r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187e-06f));
        V p = vdupq_n_f32(1.0f / 5040);
        p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
        p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
        p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
        p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
        p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
        p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
        p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
        const int32x4_t ni = vcvtq_s32_f32(n);
        const int32x4_t n1 = vminq_s32(ni, vdupq_n_s32(127));
        const V s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
        const V s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, n1), vdupq_n_s32(127)), 23));
        const V e = vmulq_f32(vmulq_f32(p, s1), s2);
        return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), keep));
    }
};

#include "cpu/float_ops_impl.h"

inline uint16_t f2h(float f) {
    return vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(vdupq_n_f32(f))), 0);  // round to nearest even
}

// One 32-block: d = amax / 127, q = roundf(x / d) (vrndaq: ties away from zero, as roundf); returns sum(q).
inline int q8_block(const float* x, uint16_t* dd, int8_t* qs, float* dout) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < 8; ++j) {
        v[j] = vld1q_f32(x + 4 * j);
        m = vmaxq_f32(m, vabsq_f32(v[j]));
    }
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    *dd = f2h(d);
    *dout = d;
    int32x4_t sum = vdupq_n_s32(0);
    for (int j = 0; j < 8; j += 2) {
        const int32x4_t a = vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(v[j], id)));
        const int32x4_t b = vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(v[j + 1], id)));
        sum = vaddq_s32(sum, vaddq_s32(a, b));
        vst1_s8(qs + 4 * j, vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b))));
    }
    return vaddvq_s32(sum);
}

void quant_q8_0(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_0*>(vy);
    float d;
    for (int64_t i = 0; i < k / QK8_0; ++i) q8_block(x + i * QK8_0, &y[i].d, y[i].qs, &d);
}

void quant_q8_1(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < k / QK8_1; ++i) {
        float d;
        const int sum = q8_block(x + i * QK8_1, &y[i].d, y[i].qs, &d);
        y[i].s = f2h(static_cast<float>(sum) * d);
    }
}

void quant_q8_K(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int c = 0; c < 64; ++c) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + 4 * c)));
        const float amax = vmaxvq_f32(m);
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        float max = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            if (fabsf(x[j]) == amax) {
                max = x[j];
                break;
            }
        }
        const float iscale = -127.0f / max;
        for (int g = 0; g < 16; ++g) {
            int32x4_t q[4];
            for (int j = 0; j < 4; ++j) {
                q[j] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * j), iscale)),
                                 vdupq_n_s32(127));  // round to nearest even
            }
            const int16x8_t a = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
            const int16x8_t b = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
            vst1q_s8(y[i].qs + 16 * g, vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)));
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

void to_bf16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < k; ++i) {
        uint32_t u;
        std::memcpy(&u, x + i, 4);
        y[i] = (u & 0x7FFFFFFFu) > 0x7F800000u ? static_cast<uint16_t>((u >> 16) | 64)
                                               : static_cast<uint16_t>((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
    }
}

}  // namespace

void fill_float_ops(Kernels& t) {
    fill_float_ops_impl(t);
    t.quantize_q8_0 = quant_q8_0;
    t.quantize_q8_1 = quant_q8_1;
    t.quantize_q8_K = quant_q8_K;
    t.to_f16 = to_f16;
    t.to_bf16 = to_bf16;
}

}  // namespace lc::cpu::neon

namespace lc::cpu {
void fill_neon(Kernels& t) {
    neon::fill_float_ops(t);
    neon::fill_gemm(t);
}
}  // namespace lc::cpu
