#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "bindings/registry.h"
#include "llamacore/cpu.h"

namespace py = pybind11;

LC_BIND(a_system) {
    m.def("system_info", &lc::system_info,
          "One line: CPU kernel levels compiled and selected, CPU features, GPU backends.");
    m.def(
        "cpu_level", [] { return std::string(lc::cpu_level_name(lc::cpu_level())); },
        "The CPU kernel level in use: generic, avx2, avx512 or neon.");
    m.def(
        "cpu_levels_supported",
        [] {
            py::list out;
            for (auto l : {lc::CpuLevel::generic, lc::CpuLevel::avx2, lc::CpuLevel::avx512, lc::CpuLevel::neon})
                if (lc::cpu_level_supported(l)) out.append(lc::cpu_level_name(l));
            return out;
        },
        "Levels compiled into this build that this CPU can run, lowest first.");
    m.def(
        "set_cpu_level",
        [](const std::string& name) {
            lc::CpuLevel level;
            if (!lc::cpu_level_from_name(name, &level))
                throw std::invalid_argument("unknown CPU level '" + name +
                                            "' (expected generic, avx2, avx512 or neon)");
            lc::set_cpu_level(level);
        },
        py::arg("level"), "Select the kernel level for this process (tests, benchmarks).");
    m.def("physical_core_count", &lc::physical_core_count);
}
