// Kernel tables per level and the choice of the table for lc::cpu_level().
#include "cpu/kernels.h"

#include <stdexcept>
#include <string>

#include "cpu/generic/generic.h"

namespace lc::cpu {

void fill_generic(Kernels& t) {
    t = Kernels{};
    t.level = CpuLevel::generic;
    generic::fill_gemm(t);
    generic::fill_float_ops(t);
    generic::fill_dequantize(t);
    t.quantize_q8_0 = generic::quantize_q8_0;
    t.quantize_q8_1 = generic::quantize_q8_1;
    t.quantize_q8_K = generic::quantize_q8_K;
    t.to_f16 = generic::to_f16;
    t.to_bf16 = generic::to_bf16;
}

namespace {

// Each level's filler is compiled with that level's flags and may itself use its instructions (the compiler merges the
// pointer stores into vector stores), so it only runs when the CPU has the level. Levels the CPU lacks keep a copy of
// the generic table, which set_cpu_level() never selects anyway.
struct Tables {
    Kernels lv[4];
    Tables() {
        fill_generic(lv[0]);
        for (int i = 1; i < 4; ++i) lv[i] = lv[0];
#if defined(LC_HAVE_AVX2)
        if (cpu_level_supported(CpuLevel::avx2)) {
            fill_avx2(lv[static_cast<int>(CpuLevel::avx2)]);
            lv[static_cast<int>(CpuLevel::avx2)].level = CpuLevel::avx2;
        }
#endif
#if defined(LC_HAVE_AVX512)
        if (cpu_level_supported(CpuLevel::avx512)) {
            // AVX-512 builds on the AVX2 table: what it does not override stays AVX2 (AVX-512 CPUs have AVX2).
            lv[static_cast<int>(CpuLevel::avx512)] = lv[static_cast<int>(CpuLevel::avx2)];
            fill_avx512(lv[static_cast<int>(CpuLevel::avx512)]);
            lv[static_cast<int>(CpuLevel::avx512)].level = CpuLevel::avx512;
        }
#endif
#if defined(LC_HAVE_NEON)
        if (cpu_level_supported(CpuLevel::neon)) {
            fill_neon(lv[static_cast<int>(CpuLevel::neon)]);
            lv[static_cast<int>(CpuLevel::neon)].level = CpuLevel::neon;
        }
#endif
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

const Kernels& kernels_for(CpuLevel lvl) {
    if (!cpu_level_supported(lvl)) {
        throw std::invalid_argument(std::string("CPU level '") + cpu_level_name(lvl) + "' cannot run here");
    }
    return tables().lv[static_cast<int>(lvl)];
}

const Kernels& kernels() { return tables().lv[static_cast<int>(cpu_level())]; }

}  // namespace lc::cpu
