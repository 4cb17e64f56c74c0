// Entry points shared between the NEON kernel files (each compiled with -march=armv8.2-a+dotprod+fp16).
#pragma once

#include "cpu/kernels.h"

namespace lc::cpu::neon {
void fill_gemm(Kernels& t);
void fill_float_ops(Kernels& t);
}  // namespace lc::cpu::neon
