#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "bindings/registry.h"

namespace lc::bind {
namespace {
std::vector<std::pair<std::string, Binder>>& binders() {
    static std::vector<std::pair<std::string, Binder>> list;
    return list;
}
}  // namespace

int add_binder(const char* name, Binder fn) {
    binders().emplace_back(name, fn);
    return 0;
}
}  // namespace lc::bind

PYBIND11_MODULE(_core, m) {
    m.doc() = "llamacore's compiled core: kernels, formats, tokenizer and graph runtime";
#ifdef LC_VERSION
    m.attr("__version__") = LC_VERSION;
#endif
    auto& list = lc::bind::binders();
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [name, fn] : list) fn(m);
}
