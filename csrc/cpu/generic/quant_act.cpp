// Generic level: the activation quantizers and row dequantizers are the scalar references of csrc/quant/quants.h
// (llama.cpp's rules), so every SIMD level is tested bit for bit against the ground truth itself.
#include "cpu/generic/generic.h"
#include "quant/fp16.h"
#include "quant/quants.h"

namespace lc::cpu::generic {

void quantize_q8_0(const float* x, void* y, int64_t k) { quantize_row_q8_0_ref(x, static_cast<block_q8_0*>(y), k); }
void quantize_q8_1(const float* x, void* y, int64_t k) { quantize_row_q8_1_ref(x, static_cast<block_q8_1*>(y), k); }
void quantize_q8_K(const float* x, void* y, int64_t k) { quantize_row_q8_K_ref(x, static_cast<block_q8_K*>(y), k); }

void to_f16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < k; ++i) y[i] = fp32_to_fp16(x[i]);
}

void to_bf16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < k; ++i) y[i] = fp32_to_bf16(x[i]);
}

namespace {
template <class B, void (*F)(const B*, float*, int64_t)>
void deq(const void* x, float* y, int64_t k) {
    F(static_cast<const B*>(x), y, k);
}
}  // namespace

void fill_dequantize(Kernels& t) {
    auto set = [&](DType d, DequantizeFn f) { t.dequantize[static_cast<int>(d)] = f; };
    set(DType::Q4_0, deq<block_q4_0, dequantize_row_q4_0>);
    set(DType::Q4_1, deq<block_q4_1, dequantize_row_q4_1>);
    set(DType::Q5_0, deq<block_q5_0, dequantize_row_q5_0>);
    set(DType::Q5_1, deq<block_q5_1, dequantize_row_q5_1>);
    set(DType::Q8_0, deq<block_q8_0, dequantize_row_q8_0>);
    set(DType::Q2_K, deq<block_q2_K, dequantize_row_q2_K>);
    set(DType::Q3_K, deq<block_q3_K, dequantize_row_q3_K>);
    set(DType::Q4_K, deq<block_q4_K, dequantize_row_q4_K>);
    set(DType::Q5_K, deq<block_q5_K, dequantize_row_q5_K>);
    set(DType::Q6_K, deq<block_q6_K, dequantize_row_q6_K>);
    set(DType::IQ4_NL, deq<block_iq4_nl, dequantize_row_iq4_nl>);
    set(DType::IQ4_XS, deq<block_iq4_xs, dequantize_row_iq4_xs>);
}

}  // namespace lc::cpu::generic
