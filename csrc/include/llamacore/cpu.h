// CPU feature detection and run-time selection of the kernel level.
#pragma once

#include <string>

namespace lc {

// Kernel levels, lowest first. A portable build compiles several and uses the best one the CPU and OS support.
enum class CpuLevel : int { generic = 0, avx2 = 1, avx512 = 2, neon = 3 };

struct CpuFeatures {
    bool sse3 = false, ssse3 = false, avx = false, avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false, avx512bf16 = false,
         avx_vnni = false;
    bool neon = false, dotprod = false, fp16 = false, i8mm = false;
};

const CpuFeatures& cpu_features();           // what this CPU and OS support (XGETBV checked on x86)
const char* cpu_level_name(CpuLevel level);  // "generic", "avx2", "avx512", "neon"
bool cpu_level_from_name(const std::string& name, CpuLevel* out);
bool cpu_level_compiled(CpuLevel level);   // built into this binary
bool cpu_level_supported(CpuLevel level);  // compiled and runnable here
CpuLevel cpu_best_level();                 // best supported level
CpuLevel cpu_level();                      // the selected level: best, or lower when LLAMACORE_CPU says so
// Select a level at run time (tests and benchmarks). Throws std::invalid_argument if it cannot run here.
void set_cpu_level(CpuLevel level);

int physical_core_count();  // default thread count
std::string system_info();  // one line: what was compiled, what the CPU has, what is selected

}  // namespace lc
