// Scalar kernels (the generic level): ground truth for every SIMD level, and the fallback for entries a level lacks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/kernels.h"

namespace lc::cpu::generic {

void quantize_q8_0(const float* x, void* y, int64_t k);
void quantize_q8_1(const float* x, void* y, int64_t k);
void quantize_q8_K(const float* x, void* y, int64_t k);
void to_f16(const float* x, void* y, int64_t k);
void to_bf16(const float* x, void* y, int64_t k);

// Dot product of one weight row (wtype) with one activation row (act_type(wtype)), k elements.
using VecDotFn = float (*)(const void* w, const void* x, int64_t k);
VecDotFn vec_dot(DType wtype);

// Row-by-row gemm built on vec_dot (generic table entry for every weight format).
void fill_gemm(Kernels& t);
void fill_float_ops(Kernels& t);
void fill_dequantize(Kernels& t);  // the block formats, via csrc/quant's reference dequantizers

}  // namespace lc::cpu::generic
