#include "llamacore/dtype.h"

#include "quant/blocks.h"

namespace lc {

const DTypeTraits* dtype_traits(int32_t id) {
    // Sizes of the block types come from the static_assert'ed structs in quant/blocks.h.
    static const DTypeTraits table[] = {
        /* 0 */ {"F32", 1, 4},
        /* 1 */ {"F16", 1, 2},
        /* 2 */ {"Q4_0", QK4_0, sizeof(block_q4_0)},
        /* 3 */ {"Q4_1", QK4_1, sizeof(block_q4_1)},
        /* 4 */ {nullptr, 0, 0},
        /* 5 */ {nullptr, 0, 0},
        /* 6 */ {"Q5_0", QK5_0, sizeof(block_q5_0)},
        /* 7 */ {"Q5_1", QK5_1, sizeof(block_q5_1)},
        /* 8 */ {"Q8_0", QK8_0, sizeof(block_q8_0)},
        /* 9 */ {"Q8_1", QK8_1, sizeof(block_q8_1)},
        /* 10 */ {"Q2_K", QK_K, sizeof(block_q2_K)},
        /* 11 */ {"Q3_K", QK_K, sizeof(block_q3_K)},
        /* 12 */ {"Q4_K", QK_K, sizeof(block_q4_K)},
        /* 13 */ {"Q5_K", QK_K, sizeof(block_q5_K)},
        /* 14 */ {"Q6_K", QK_K, sizeof(block_q6_K)},
        /* 15 */ {"Q8_K", QK_K, sizeof(block_q8_K)},
        /* 16 */ {"IQ2_XXS", QK_K, 66},
        /* 17 */ {"IQ2_XS", QK_K, 74},
        /* 18 */ {"IQ3_XXS", QK_K, 98},
        /* 19 */ {"IQ1_S", QK_K, 50},
        /* 20 */ {"IQ4_NL", QK4_NL, sizeof(block_iq4_nl)},
        /* 21 */ {"IQ3_S", QK_K, 110},
        /* 22 */ {"IQ2_S", QK_K, 82},
        /* 23 */ {"IQ4_XS", QK_K, sizeof(block_iq4_xs)},
        /* 24 */ {"I8", 1, 1},
        /* 25 */ {"I16", 1, 2},
        /* 26 */ {"I32", 1, 4},
        /* 27 */ {"I64", 1, 8},
        /* 28 */ {"F64", 1, 8},
        /* 29 */ {"IQ1_M", QK_K, 56},
        /* 30 */ {"BF16", 1, 2},
        /* 31 */ {nullptr, 0, 0},
        /* 32 */ {nullptr, 0, 0},
        /* 33 */ {nullptr, 0, 0},
        /* 34 */ {"TQ1_0", QK_K, 54},
        /* 35 */ {"TQ2_0", QK_K, 66},
        /* 36 */ {nullptr, 0, 0},
        /* 37 */ {nullptr, 0, 0},
        /* 38 */ {nullptr, 0, 0},
        /* 39 */ {"MXFP4", 32, 17},
    };
    if (id < 0 || id >= static_cast<int32_t>(sizeof(table) / sizeof(table[0]))) return nullptr;
    return table[id].name ? &table[id] : nullptr;
}

}  // namespace lc
