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
    count  // one past the highest id (sizes the tables indexed by type id)
};
constexpr int kNumDTypes = static_cast<int>(DType::count);

// KV-cache formats: the attention kernels have one slot per format (kernels.h's kdot, vaxpy, attn_* tables).
constexpr int kNumKvSlots = 3;

// One row of facts per format (quant/dtype.cpp), read by the kernels' dispatch, dequantize, the KV cache and Python
// (llamacore._core.dtype_traits). Adding a format: csrc/README.md.
struct DTypeTraits {
    const char* name;
    int64_t block_size;  // elements per block (1 for plain types)
    int64_t type_size;   // bytes per block
    DType vec_dot_type;  // matmul: the activation format the weight's dot product consumes (matmul formats only)
    bool matmul;         // a weight format of the matmul kernels
    bool get_rows;       // dequantized by get_rows / dequantize_row (and quantized by the reference quantizers)
    bool copy_rows;      // a destination of copy_rows (float rows converted into it)
    int kv_slot;         // a KV-cache format: its attention-kernel slot in [0, kNumKvSlots); -1: not one
};

// Traits of a type id, or nullptr for an id that is not (or no longer) a ggml type.
const DTypeTraits* dtype_traits(int32_t id);
// Traits of a valid DType (every enumerator names a type).
inline const DTypeTraits& traits(DType t) { return *dtype_traits(static_cast<int32_t>(t)); }

inline int64_t row_bytes(const DTypeTraits& t, int64_t n) { return n / t.block_size * t.type_size; }

}  // namespace lc
