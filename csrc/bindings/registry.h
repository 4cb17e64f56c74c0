// Each bindings/*.cpp file registers its part of llamacore._core with LC_BIND(name) { ... m ... }, so a new
// part is a new file and nothing else changes. Parts run in name order.
#pragma once

#include <pybind11/pybind11.h>

namespace lc::bind {
using Binder = void (*)(pybind11::module_&);
int add_binder(const char* name, Binder fn);
}  // namespace lc::bind

#define LC_BIND(NAME)                                                                                   \
    static void lc_bind_##NAME(pybind11::module_& m);                                                   \
    [[maybe_unused]] static const int lc_bind_reg_##NAME = lc::bind::add_binder(#NAME, lc_bind_##NAME); \
    static void lc_bind_##NAME(pybind11::module_& m)
