// Helpers shared by the files behind llamacore/ops.h (ops.cpp, attention.cpp); generic code, no level flags.
#pragma once

#include <cstddef>
#include <string>

#include "llamacore/dtype.h"

namespace lc::ops {

inline std::string type_name(DType t) {
    const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
    return tr ? tr->name : "type id " + std::to_string(static_cast<int>(t));
}

inline int tid(DType t) { return static_cast<int>(t); }

inline size_t align64(size_t n) { return (n + 63) & ~size_t(63); }

}  // namespace lc::ops
