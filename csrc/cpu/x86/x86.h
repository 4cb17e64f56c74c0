// Entry points shared between the x86 kernel files of one level (each compiled with its own ISA flags).
#pragma once

#include "cpu/kernels.h"

// gcc 12 flags _mm512_undefined_* inside its own headers (for every file that includes this one).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace lc::cpu {
namespace avx2 {
void fill_gemm(Kernels& t);
void fill_gemv(Kernels& t);  // after fill_gemm: routes n == 1 of some formats to gemv_avx2.cpp
}  // namespace avx2
namespace avx512 {
void fill_gemm(Kernels& t);
void fill_gemm_panels(Kernels& t);  // called by fill_gemm: n >= 8 tokens to gemm_panels_avx512.cpp
void fill_gemv(Kernels& t);         // after fill_gemm: routes n == 1 of some formats to gemv_avx512.cpp
}  // namespace avx512
}  // namespace lc::cpu
