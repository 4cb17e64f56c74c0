#include "llamacore/dtype.h"

#include "quant/blocks.h"

namespace lc {

const DTypeTraits* dtype_traits(int32_t id) {
    // Sizes of the block types come from the static_assert'ed structs in quant/blocks.h.
    // {name, block, bytes, dot-product partner, matmul, get_rows, copy_rows, KV slot}
    static const DTypeTraits table[] = {
        /* 0 */ {"F32", 1, 4, DType::F32, true, true, true, 0},
        /* 1 */ {"F16", 1, 2, DType::F16, true, true, true, 1},
        /* 2 */ {"Q4_0", QK4_0, sizeof(block_q4_0), DType::Q8_0, true, true, false, -1},
        /* 3 */ {"Q4_1", QK4_1, sizeof(block_q4_1), DType::Q8_1, true, true, false, -1},
        /* 4 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 5 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 6 */ {"Q5_0", QK5_0, sizeof(block_q5_0), DType::Q8_0, true, true, false, -1},
        /* 7 */ {"Q5_1", QK5_1, sizeof(block_q5_1), DType::Q8_1, true, true, false, -1},
        /* 8 */ {"Q8_0", QK8_0, sizeof(block_q8_0), DType::Q8_0, true, true, true, 2},
        /* 9 */ {"Q8_1", QK8_1, sizeof(block_q8_1), DType::count, false, true, false, -1},
        /* 10 */ {"Q2_K", QK_K, sizeof(block_q2_K), DType::Q8_K, true, true, false, -1},
        /* 11 */ {"Q3_K", QK_K, sizeof(block_q3_K), DType::Q8_K, true, true, false, -1},
        /* 12 */ {"Q4_K", QK_K, sizeof(block_q4_K), DType::Q8_K, true, true, false, -1},
        /* 13 */ {"Q5_K", QK_K, sizeof(block_q5_K), DType::Q8_K, true, true, false, -1},
        /* 14 */ {"Q6_K", QK_K, sizeof(block_q6_K), DType::Q8_K, true, true, false, -1},
        /* 15 */ {"Q8_K", QK_K, sizeof(block_q8_K), DType::count, false, true, false, -1},
        /* 16 */ {"IQ2_XXS", QK_K, 66, DType::count, false, false, false, -1},
        /* 17 */ {"IQ2_XS", QK_K, 74, DType::count, false, false, false, -1},
        /* 18 */ {"IQ3_XXS", QK_K, 98, DType::count, false, false, false, -1},
        /* 19 */ {"IQ1_S", QK_K, 50, DType::count, false, false, false, -1},
        /* 20 */ {"IQ4_NL", QK4_NL, sizeof(block_iq4_nl), DType::Q8_0, true, true, false, -1},
        /* 21 */ {"IQ3_S", QK_K, 110, DType::count, false, false, false, -1},
        /* 22 */ {"IQ2_S", QK_K, 82, DType::count, false, false, false, -1},
        /* 23 */ {"IQ4_XS", QK_K, sizeof(block_iq4_xs), DType::Q8_K, true, true, false, -1},
        /* 24 */ {"I8", 1, 1, DType::count, false, false, false, -1},
        /* 25 */ {"I16", 1, 2, DType::count, false, false, false, -1},
        /* 26 */ {"I32", 1, 4, DType::count, false, false, false, -1},
        /* 27 */ {"I64", 1, 8, DType::count, false, false, false, -1},
        /* 28 */ {"F64", 1, 8, DType::count, false, false, false, -1},
        /* 29 */ {"IQ1_M", QK_K, 56, DType::count, false, false, false, -1},
        /* 30 */ {"BF16", 1, 2, DType::BF16, true, true, true, -1},
        /* 31 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 32 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 33 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 34 */ {"TQ1_0", QK_K, 54, DType::count, false, false, false, -1},
        /* 35 */ {"TQ2_0", QK_K, 66, DType::count, false, false, false, -1},
        /* 36 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 37 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 38 */ {nullptr, 0, 0, DType::count, false, false, false, -1},
        /* 39 */ {"MXFP4", 32, 17, DType::count, false, false, false, -1},
    };
    static_assert(sizeof(table) / sizeof(table[0]) == kNumDTypes, "one traits row per type id");
    if (id < 0 || id >= static_cast<int32_t>(sizeof(table) / sizeof(table[0]))) return nullptr;
    return table[id].name ? &table[id] : nullptr;
}

}  // namespace lc
