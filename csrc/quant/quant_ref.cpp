// Reference quantizers of the 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and of the activation formats
// (Q8_0, Q8_1, Q8_K): llama.cpp's quantize_row_*_ref rules, float operations in the same order, so the bytes are
// identical. Also the type-generic quantize_row_ref.
#include <cmath>
#include <stdexcept>
#include <string>

#include "quant/fp16.h"
#include "quant/quants.h"

// last, so it covers this file only: no fused multiply-adds from here on
#include "quant/exact_fp.h"

namespace lc {

void check_row_args(DType t, int64_t n, const char* what);  // dequant.cpp

// Pack 32 quants (element j and j+16 share byte j) as Q4_0/Q4_1/IQ4_NL store them.
static inline void pack_nibbles_32(const uint8_t* q, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
}

// q = min(15, trunc(x/d + 8.5)) with d = max/-8: the largest-magnitude value maps to 0 (exactly -8*d).
void quantize_row_q4_0_ref(const float* x, block_q4_0* y, int64_t n) {
    for (int64_t i = 0; i < n / QK4_0; ++i, x += QK4_0) {
        const float max = signed_absmax(x, QK4_0);
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        uint8_t q[QK4_0];
        for (int j = 0; j < QK4_0; ++j) {
            const int v = static_cast<int8_t>(x[j] * id + 8.5f);
            q[j] = static_cast<uint8_t>(v < 15 ? v : 15);
        }
        pack_nibbles_32(q, y[i].qs);
    }
}

// d = (max-min)/15, m = min, q = min(15, trunc((x-min)/d + 0.5)).
void quantize_row_q4_1_ref(const float* x, block_q4_1* y, int64_t n) {
    for (int64_t i = 0; i < n / QK4_1; ++i, x += QK4_1) {
        float min = x[0], max = x[0];
        for (int j = 1; j < QK4_1; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        uint8_t q[QK4_1];
        for (int j = 0; j < QK4_1; ++j) {
            const int v = static_cast<int8_t>((x[j] - min) * id + 0.5f);
            q[j] = static_cast<uint8_t>(v < 15 ? v : 15);
        }
        pack_nibbles_32(q, y[i].qs);
    }
}

// Low nibbles as Q4_0, 5th bits into the little-endian 32-bit qh (bit j for element j).
static inline void pack_q5(const uint8_t* q, uint8_t* qs, uint8_t qh_out[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
        qh |= uint32_t((q[j] & 0x10u) >> 4) << j;
        qh |= uint32_t((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int b = 0; b < 4; ++b) qh_out[b] = static_cast<uint8_t>(qh >> (8 * b));
}

void quantize_row_q5_0_ref(const float* x, block_q5_0* y, int64_t n) {
    for (int64_t i = 0; i < n / QK5_0; ++i, x += QK5_0) {
        const float max = signed_absmax(x, QK5_0);
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        uint8_t q[QK5_0];
        for (int j = 0; j < QK5_0; ++j) {
            const int v = static_cast<int8_t>(x[j] * id + 16.5f);
            q[j] = static_cast<uint8_t>(v < 31 ? v : 31);
        }
        pack_q5(q, y[i].qs, y[i].qh);
    }
}

// llama.cpp clamps nothing here: (x-min)/d + 0.5 < 32 for finite input.
void quantize_row_q5_1_ref(const float* x, block_q5_1* y, int64_t n) {
    for (int64_t i = 0; i < n / QK5_1; ++i, x += QK5_1) {
        float min = x[0], max = x[0];
        for (int j = 1; j < QK5_1; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        uint8_t q[QK5_1];
        for (int j = 0; j < QK5_1; ++j) q[j] = static_cast<uint8_t>(static_cast<int>((x[j] - min) * id + 0.5f));
        pack_q5(q, y[i].qs, y[i].qh);
    }
}

static inline float absmax(const float* x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; ++j) {
        const float a = std::fabs(x[j]);
        amax = amax > a ? amax : a;  // llama.cpp's MAX(amax, fabsf(v))
    }
    return amax;
}

void quantize_row_q8_0_ref(const float* x, block_q8_0* y, int64_t n) {
    for (int64_t i = 0; i < n / QK8_0; ++i, x += QK8_0) {
        const float d = absmax(x, QK8_0) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    }
}

void quantize_row_q8_1_ref(const float* x, block_q8_1* y, int64_t n) {
    for (int64_t i = 0; i < n / QK8_1; ++i, x += QK8_1) {
        const float d = absmax(x, QK8_1) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; ++j) {
            y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
            sum += y[i].qs[j];
        }
        y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
    }
}

void quantize_row_q8_K_ref(const float* x, block_q8_K* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        const float max = signed_absmax(x, QK_K);
        if (max == 0.0f) {  // all zero (or only signed zeros)
            y[i].d = 0.0f;
            for (int j = 0; j < QK_K; ++j) y[i].qs[j] = 0;
            for (int j = 0; j < QK_K / 16; ++j) y[i].bsums[j] = 0;
            continue;
        }
        const float iscale = -127.f / max;  // the largest-magnitude value maps to -127, so q fits int8 without clamp
        for (int j = 0; j < QK_K; ++j) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = static_cast<int16_t>(sum);
        }
        y[i].d = 1 / iscale;
    }
}

void quantize_row_ref(DType t, const float* src, void* dst, int64_t n) {
    check_row_args(t, n, "quantize_row_ref");
    switch (t) {
        case DType::F32: {
            float* d = static_cast<float*>(dst);
            for (int64_t i = 0; i < n; ++i) d[i] = src[i];
            break;
        }
        case DType::F16: {
            uint16_t* d = static_cast<uint16_t*>(dst);
            for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
            break;
        }
        case DType::BF16: {
            uint16_t* d = static_cast<uint16_t*>(dst);
            for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
            break;
        }
        case DType::Q4_0: quantize_row_q4_0_ref(src, static_cast<block_q4_0*>(dst), n); break;
        case DType::Q4_1: quantize_row_q4_1_ref(src, static_cast<block_q4_1*>(dst), n); break;
        case DType::Q5_0: quantize_row_q5_0_ref(src, static_cast<block_q5_0*>(dst), n); break;
        case DType::Q5_1: quantize_row_q5_1_ref(src, static_cast<block_q5_1*>(dst), n); break;
        case DType::Q8_0: quantize_row_q8_0_ref(src, static_cast<block_q8_0*>(dst), n); break;
        case DType::Q8_1: quantize_row_q8_1_ref(src, static_cast<block_q8_1*>(dst), n); break;
        case DType::Q2_K: quantize_row_q2_K_ref(src, static_cast<block_q2_K*>(dst), n); break;
        case DType::Q3_K: quantize_row_q3_K_ref(src, static_cast<block_q3_K*>(dst), n); break;
        case DType::Q4_K: quantize_row_q4_K_ref(src, static_cast<block_q4_K*>(dst), n); break;
        case DType::Q5_K: quantize_row_q5_K_ref(src, static_cast<block_q5_K*>(dst), n); break;
        case DType::Q6_K: quantize_row_q6_K_ref(src, static_cast<block_q6_K*>(dst), n); break;
        case DType::Q8_K: quantize_row_q8_K_ref(src, static_cast<block_q8_K*>(dst), n); break;
        case DType::IQ4_NL: quantize_row_iq4_nl_ref(src, static_cast<block_iq4_nl*>(dst), n); break;
        case DType::IQ4_XS: quantize_row_iq4_xs_ref(src, static_cast<block_iq4_xs*>(dst), n); break;
        default: break;  // unreachable: check_row_args threw
    }
}

}  // namespace lc
