// Scalar activation quantizers and float conversions (generic level). The Q8 quantizers follow llama.cpp's
// quantize_row_q8_*_ref operation for operation; every SIMD level must reproduce their output bit for bit.
#include <cmath>
#include <cstring>

#include "cpu/generic/generic.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

// No fused multiply-add: Q8_K rounds the float product iscale * x, as the reference does (aarch64 and -march=native
// builds would otherwise fuse it with nearest_even's + 1.5 * 2^23 and round a few ties differently).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace lc::cpu::generic {

namespace {
inline int nearest_even(float v) {  // llama.cpp's nearest_int: round half to even via the 1.5*2^23 trick
    const float t = v + 12582912.f;
    int32_t i;
    std::memcpy(&i, &t, 4);
    return (i & 0x007FFFFF) - 0x00400000;
}
}  // namespace

void quantize_q8_0(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_0*>(vy);
    for (int64_t i = 0; i < k / QK8_0; ++i, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    }
}

void quantize_q8_1(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < k / QK8_1; ++i, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1 / 2; ++j) {
            const int8_t a = static_cast<int8_t>(std::round(x[j] * id));
            const int8_t b = static_cast<int8_t>(std::round(x[QK8_1 / 2 + j] * id));
            y[i].qs[j] = a;
            y[i].qs[QK8_1 / 2 + j] = b;
            sum += a + b;
        }
        y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
    }
}

void quantize_q8_K(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; ++j) {
            const int v = nearest_even(iscale * x[j]);
            y[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = static_cast<int16_t>(sum);
        }
        y[i].d = 1.0f / iscale;
    }
}

void to_f16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < k; ++i) y[i] = fp32_to_fp16(x[i]);
}

void to_bf16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < k; ++i) y[i] = fp32_to_bf16(x[i]);
}

}  // namespace lc::cpu::generic
