// Block layouts bit-compatible with GGUF/ggml (ggml-common.h). All multi-byte fields little-endian; `uint16_t d`
// fields hold IEEE fp16 bits. Sizes are static_assert'ed: a GGUF tensor is an array of these blocks.
#pragma once

#include <cstdint>

namespace lc {

constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32, QK4_NL = 32;
constexpr int QK_K = 256;         // super-block size of the K-quants
constexpr int K_SCALE_SIZE = 12;  // 8 six-bit scales + 8 six-bit mins (Q4_K, Q5_K)

using f16_t = uint16_t;

struct block_q4_0 {
    f16_t d;
    uint8_t qs[QK4_0 / 2];
};  // 4.5 bpw: d*(q-8)
struct block_q4_1 {
    f16_t d, m;
    uint8_t qs[QK4_1 / 2];
};  // 5.0 bpw: d*q+m
struct block_q5_0 {
    f16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
};  // 5.5 bpw: d*(q-16)
struct block_q5_1 {
    f16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};  // 6.0 bpw: d*q+m
struct block_q8_0 {
    f16_t d;
    int8_t qs[QK8_0];
};  // 8.5 bpw: d*q
struct block_q8_1 {
    f16_t d, s;
    int8_t qs[QK8_1];
};  // activations; s = d*sum(qs)
struct block_q2_K {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    f16_t d, dmin;
};  // 2.625 bpw
struct block_q3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    f16_t d;
};  // 3.4375
struct block_q4_K {
    f16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};  // 4.5 bpw
struct block_q5_K {
    f16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
struct block_q6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    f16_t d;
};  // 6.5625
struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};  // activations only
struct block_iq4_nl {
    f16_t d;
    uint8_t qs[QK4_NL / 2];
};  // 4.5 bpw: d*kvalues[q]
struct block_iq4_xs {
    f16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};  // 4.25

static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

// IQ4_NL / IQ4_XS codebook.
constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace lc
