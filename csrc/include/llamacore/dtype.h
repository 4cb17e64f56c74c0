// Tensor element types: GGML's type ids (they are what GGUF files store) and their block traits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lc {

// Values are ggml_type ids; never renumber. Gaps are ids ggml removed.
enum class DType : int32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct DTypeTraits {
    const char* name;
    int64_t block_size;  // elements per block (1 for plain types)
    int64_t type_size;   // bytes per block
};

// Traits of a type id, or nullptr for an id that is not (or no longer) a ggml type.
const DTypeTraits* dtype_traits(int32_t id);

inline int64_t row_bytes(const DTypeTraits& t, int64_t n) { return n / t.block_size * t.type_size; }

}  // namespace lc
