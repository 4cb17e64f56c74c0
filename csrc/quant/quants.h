// Scalar reference (de)quantizers of the GGUF tensor formats: the ground truth every SIMD kernel is tested against.
// They follow llama.cpp's ggml-quants.c reference functions rule for rule (same float operations in the same order,
// same rounding helpers), so their output is bit-identical to llama.cpp's `quantize_row_*_ref` / `dequantize_row_*`.
// Nothing here is tuned for speed; keep it that way.
//
// Element counts `n` are per call and must be a multiple of the type's block size (dtype_traits(t)->block_size);
// the typed entry points throw std::invalid_argument otherwise and for unsupported types.
// Input to the quantizers should be finite: with NaN/inf the output bytes are unspecified (no UB, no crash).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "llamacore/dtype.h"
#include "quant/blocks.h"

namespace lc {

// ---- type-generic entry points ----

// True for the types dequantize_row can decode: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K,
// Q8_K, IQ4_NL, IQ4_XS.
bool dequantize_supported(DType t);
// True for the types quantize_row_ref can encode: the same list.
bool quantize_supported(DType t);

// src: n/block_size blocks of type t; dst: n floats.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
// src: n floats; dst: n/block_size blocks of type t. llama.cpp's reference quantizers (no importance matrix).
void quantize_row_ref(DType t, const float* src, void* dst, int64_t n);

// ---- activation quantizers (what the matmul kernels turn float activations into) ----

// d = amax/127 (stored fp16), q = roundf(x/d).
void quantize_row_q8_0_ref(const float* x, block_q8_0* y, int64_t n);
// As Q8_0, plus s = fp16(d * sum(q)).
void quantize_row_q8_1_ref(const float* x, block_q8_1* y, int64_t n);
// Per 256: max = the signed value of largest magnitude, iscale = -127/max, q = min(127, nearest_int(iscale*x)),
// d = 1/iscale (fp32, so d is negative when max is positive), bsums = sums of q per 16.
void quantize_row_q8_K_ref(const float* x, block_q8_K* y, int64_t n);

// ---- per-type dequantizers (n elements; n a multiple of the block size) ----

void dequantize_row_q4_0(const block_q4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const block_q4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const block_q5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const block_q5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const block_q8_0* x, float* y, int64_t n);
void dequantize_row_q8_1(const block_q8_1* x, float* y, int64_t n);
void dequantize_row_q2_K(const block_q2_K* x, float* y, int64_t n);
void dequantize_row_q3_K(const block_q3_K* x, float* y, int64_t n);
void dequantize_row_q4_K(const block_q4_K* x, float* y, int64_t n);
void dequantize_row_q5_K(const block_q5_K* x, float* y, int64_t n);
void dequantize_row_q6_K(const block_q6_K* x, float* y, int64_t n);
void dequantize_row_q8_K(const block_q8_K* x, float* y, int64_t n);
void dequantize_row_iq4_nl(const block_iq4_nl* x, float* y, int64_t n);
void dequantize_row_iq4_xs(const block_iq4_xs* x, float* y, int64_t n);

// ---- per-type reference quantizers (llama.cpp's quantize_row_*_ref) ----
// Each gives the bytes llama.cpp's ggml_quantize_chunk (what llama-quantize calls) writes without an importance
// matrix. One nuance: for IQ4_NL that is quantize_iq4_nl (scale search with ntry = 7), which llama.cpp's own
// quantize_row_iq4_nl_ref skips (ntry = -1, a cheaper variant for run-time conversions); we follow the file path.

void quantize_row_q4_0_ref(const float* x, block_q4_0* y, int64_t n);
void quantize_row_q4_1_ref(const float* x, block_q4_1* y, int64_t n);
void quantize_row_q5_0_ref(const float* x, block_q5_0* y, int64_t n);
void quantize_row_q5_1_ref(const float* x, block_q5_1* y, int64_t n);
void quantize_row_q2_K_ref(const float* x, block_q2_K* y, int64_t n);
void quantize_row_q3_K_ref(const float* x, block_q3_K* y, int64_t n);
void quantize_row_q4_K_ref(const float* x, block_q4_K* y, int64_t n);
void quantize_row_q5_K_ref(const float* x, block_q5_K* y, int64_t n);
void quantize_row_q6_K_ref(const float* x, block_q6_K* y, int64_t n);
void quantize_row_iq4_nl_ref(const float* x, block_iq4_nl* y, int64_t n);
void quantize_row_iq4_xs_ref(const float* x, block_iq4_xs* y, int64_t n);

// ---- helpers shared by the reference code and the kernels ----

// Round to nearest, ties to even, by the float-add trick llama.cpp uses (valid for |v| < 2^22; other inputs give
// some int, never UB). Not the same as roundf, which rounds ties away from zero.
inline int nearest_int(float v) {
    const float t = v + 12582912.f;  // 1.5 * 2^23: the sum's low mantissa bits hold round(v) + 2^22
    int32_t i;
    std::memcpy(&i, &t, 4);
    return (i & 0x007FFFFF) - 0x00400000;
}

// The signed value of largest magnitude among x[0..n) (the first one on ties); 0 for an all-zero block. Its fabs is
// the block's largest magnitude exactly.
inline float signed_absmax(const float* x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

// Q4_K / Q5_K: the j-th (0..7) 6-bit scale and min from the 12 packed bytes.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Q3_K: the 16 6-bit scales (biased by 32, returned unbiased: -32..31) from the 12 packed bytes.
inline void unpack_q3_K_scales(const uint8_t* s, int8_t out[16]) {
    for (int j = 0; j < 16; ++j) {
        const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
        const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
    }
}

}  // namespace lc
