// Run-time CPU feature detection and kernel-level selection. Compiled without any ISA flags so that it runs on
// every CPU; kernel files for higher levels are only entered after this code has said the CPU can run them.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "llamacore/cpu.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define LC_ARCH_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define LC_ARCH_ARM64 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#endif

#if defined(LC_HAVE_CUDA)
namespace lc::cuda {
std::string backend_info();  // csrc/cuda
}
#endif

namespace lc {
namespace {

#if defined(LC_ARCH_X86)
void cpuid(int leaf, int subleaf, unsigned r[4]) {
#if defined(_MSC_VER)
    int regs[4];
    __cpuidex(regs, leaf, subleaf);
    for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(regs[i]);
#else
    __cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]);
#endif
}

unsigned long long xgetbv0() {
#if defined(_MSC_VER)
    return _xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}

CpuFeatures detect() {
    CpuFeatures f;
    unsigned r[4];
    cpuid(0, 0, r);
    const unsigned max_leaf = r[0];
    if (max_leaf < 1) return f;
    cpuid(1, 0, r);
    const unsigned ecx1 = r[2], edx1 = r[3];
    (void)edx1;
    f.sse3 = ecx1 & (1u << 0);
    f.ssse3 = ecx1 & (1u << 9);
    const bool osxsave = ecx1 & (1u << 27);
    // The OS must save the wide registers, or using them faults: XCR0 bits 1,2 (SSE, AVX) and 5,6,7 (AVX-512).
    const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    const bool os_avx = (xcr0 & 0x6) == 0x6;
    const bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;
    f.avx = os_avx && (ecx1 & (1u << 28));
    f.fma = f.avx && (ecx1 & (1u << 12));
    f.f16c = f.avx && (ecx1 & (1u << 29));
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        const unsigned ebx7 = r[1], ecx7 = r[2];
        f.avx2 = f.avx && (ebx7 & (1u << 5));
        f.avx512f = os_avx512 && (ebx7 & (1u << 16));
        f.avx512dq = f.avx512f && (ebx7 & (1u << 17));
        f.avx512bw = f.avx512f && (ebx7 & (1u << 30));
        f.avx512vl = f.avx512f && (ebx7 & (1u << 31));
        f.avx512vnni = f.avx512f && (ecx7 & (1u << 11));
        cpuid(7, 1, r);
        f.avx_vnni = f.avx && (r[0] & (1u << 4));
        f.avx512bf16 = f.avx512f && (r[0] & (1u << 5));
    }
    return f;
}
#elif defined(LC_ARCH_ARM64)
CpuFeatures detect() {
    CpuFeatures f;
    f.neon = true;  // mandatory on arm64
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP);
    f.dotprod = hw & (1ul << 20);  // HWCAP_ASIMDDP
    f.fp16 = hw & (1ul << 10);     // HWCAP_ASIMDHP
    f.i8mm = getauxval(AT_HWCAP2) & (1ul << 13);
#elif defined(__APPLE__)
    auto has = [](const char* name) {
        int v = 0;
        size_t n = sizeof(v);
        return sysctlbyname(name, &v, &n, nullptr, 0) == 0 && v != 0;
    };
    f.dotprod = has("hw.optional.arm.FEAT_DotProd");
    f.fp16 = has("hw.optional.arm.FEAT_FP16");
    f.i8mm = has("hw.optional.arm.FEAT_I8MM");
#elif defined(_M_ARM64)
    f.dotprod = true;  // every Windows-on-ARM machine in service has it
#endif
    return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

bool level_runs_here(CpuLevel level, const CpuFeatures& f) {
    switch (level) {
        case CpuLevel::generic: return true;
        case CpuLevel::avx2: return f.avx2 && f.fma && f.f16c;
        case CpuLevel::avx512:
            return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
        case CpuLevel::neon: return f.neon && f.dotprod && f.fp16;
    }
    return false;
}

std::atomic<int> g_level{-1};

CpuLevel initial_level() {
    CpuLevel level = cpu_best_level();
    if (const char* env = std::getenv("LLAMACORE_CPU"); env && *env) {
        CpuLevel asked;
        if (!cpu_level_from_name(env, &asked)) {
            std::fprintf(stderr, "llamacore: LLAMACORE_CPU=%s is not a level (generic, avx2, avx512, neon); using %s\n",
                         env, cpu_level_name(level));
        } else if (!cpu_level_supported(asked)) {
            std::fprintf(stderr,
                         "llamacore: LLAMACORE_CPU=%s cannot run here (not compiled or not supported by this "
                         "CPU); using %s\n",
                         env, cpu_level_name(level));
        } else {
            level = asked;
        }
    }
    return level;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = detect();
    return f;
}

const char* cpu_level_name(CpuLevel level) {
    switch (level) {
        case CpuLevel::generic: return "generic";
        case CpuLevel::avx2: return "avx2";
        case CpuLevel::avx512: return "avx512";
        case CpuLevel::neon: return "neon";
    }
    return "?";
}

bool cpu_level_from_name(const std::string& name, CpuLevel* out) {
    for (CpuLevel l : {CpuLevel::generic, CpuLevel::avx2, CpuLevel::avx512, CpuLevel::neon}) {
        if (name == cpu_level_name(l)) {
            *out = l;
            return true;
        }
    }
    return false;
}

bool cpu_level_compiled(CpuLevel level) {
    switch (level) {
        case CpuLevel::generic: return true;
#if defined(LC_HAVE_AVX2)
        case CpuLevel::avx2: return true;
#endif
#if defined(LC_HAVE_AVX512)
        case CpuLevel::avx512: return true;
#endif
#if defined(LC_HAVE_NEON)
        case CpuLevel::neon: return true;
#endif
        default: return false;
    }
}

bool cpu_level_supported(CpuLevel level) { return cpu_level_compiled(level) && level_runs_here(level, cpu_features()); }

CpuLevel cpu_best_level() {
    for (CpuLevel l : {CpuLevel::avx512, CpuLevel::avx2, CpuLevel::neon}) {
        if (cpu_level_supported(l)) return l;
    }
    return CpuLevel::generic;
}

CpuLevel cpu_level() {
    int v = g_level.load(std::memory_order_relaxed);
    if (v < 0) {
        v = static_cast<int>(initial_level());
        int expected = -1;
        if (!g_level.compare_exchange_strong(expected, v)) v = expected;
    }
    return static_cast<CpuLevel>(v);
}

void set_cpu_level(CpuLevel level) {
    if (!cpu_level_supported(level)) {
        throw std::invalid_argument(std::string("CPU level '") + cpu_level_name(level) + "' cannot run here: " +
                                    (cpu_level_compiled(level) ? "this CPU lacks it" : "not compiled into this build"));
    }
    g_level.store(static_cast<int>(level));
}

int physical_core_count() {
    unsigned logical = std::thread::hardware_concurrency();
    if (logical == 0) logical = 1;
#if defined(__linux__)
    // Count distinct (physical id, core id) pairs, so SMT siblings are not counted twice.
    std::ifstream in("/proc/cpuinfo");
    std::set<std::pair<int, int>> cores;
    std::string line;
    int phys = 0;
    while (std::getline(in, line)) {
        if (line.rfind("physical id", 0) == 0) phys = std::atoi(line.substr(line.find(':') + 1).c_str());
        if (line.rfind("core id", 0) == 0) cores.insert({phys, std::atoi(line.substr(line.find(':') + 1).c_str())});
    }
    if (!cores.empty() && cores.size() <= logical) return static_cast<int>(cores.size());
#endif
    return static_cast<int>(logical);
}

std::string system_info() {
    const CpuFeatures& f = cpu_features();
    std::ostringstream s;
    s << "CPU: compiled = generic";
    for (CpuLevel l : {CpuLevel::avx2, CpuLevel::avx512, CpuLevel::neon}) {
        if (cpu_level_compiled(l)) s << "," << cpu_level_name(l);
    }
    s << " | selected = " << cpu_level_name(cpu_level());
#if defined(LC_ARCH_X86)
    s << " | AVX = " << f.avx << " | AVX2 = " << f.avx2 << " | FMA = " << f.fma << " | F16C = " << f.f16c
      << " | AVX512 = " << f.avx512f << " | AVX512_VNNI = " << f.avx512vnni << " | AVX512_BF16 = " << f.avx512bf16;
#elif defined(LC_ARCH_ARM64)
    s << " | NEON = " << f.neon << " | ARM_FMA = 1 | DOTPROD = " << f.dotprod << " | FP16_VA = " << f.fp16
      << " | MATMUL_INT8 = " << f.i8mm;
#endif
#if defined(LC_HAVE_CUDA)
    s << " | CUDA = 1 (" << cuda::backend_info() << ")";
#else
    s << " | CUDA = 0";
#endif
    s << " | METAL = 0 | threads = " << physical_core_count();
    return s.str();
}

}  // namespace lc
