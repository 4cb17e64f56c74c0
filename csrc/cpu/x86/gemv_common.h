// What the matrix-vector files of the x86 levels (gemv_avx2.cpp, gemv_avx512.cpp) share. Included INSIDE each level's
// anonymous namespace (see csrc/cpu/README.md): each level gets its own copy, compiled with its own flags. No include
// guard on purpose. Brings level_util.h with it.
//
// Needs <cstring>, <new>, <type_traits>, <immintrin.h> and "quant/blocks.h" before the namespace is opened.

#include "cpu/x86/level_util.h"  // ld16, ld32, h2f, hsum128, hsum256, unpack_k4_scales, Scratch

// Weight formats with 32-element blocks: byte offsets of the quants (kQs) and fifth bits (kQh), the activation format
// (Q8_0 or Q8_1: kAct bytes per block, quants at kActQs), the offset the unsigned quants carry (value = q - kOffset),
// whether a min (Q8_1's d * sum(q) term) or a codebook (IQ4_NL: value + 128) is involved.
struct Q4_0V {
    static constexpr int kBytes = sizeof(block_q4_0), kQs = 2, kQh = 0, kAct = sizeof(block_q8_0), kActQs = 2;
    static constexpr int kOffset = 8;
    static constexpr bool kMin = false, kLut = false, kHigh = false;
};
struct Q4_1V {
    static constexpr int kBytes = sizeof(block_q4_1), kQs = 4, kQh = 0, kAct = sizeof(block_q8_1), kActQs = 4;
    static constexpr int kOffset = 0;
    static constexpr bool kMin = true, kLut = false, kHigh = false;
};
struct Q5_0V {
    static constexpr int kBytes = sizeof(block_q5_0), kQs = 6, kQh = 2, kAct = sizeof(block_q8_0), kActQs = 2;
    static constexpr int kOffset = 16;
    static constexpr bool kMin = false, kLut = false, kHigh = true;
};
struct Q5_1V {
    static constexpr int kBytes = sizeof(block_q5_1), kQs = 8, kQh = 4, kAct = sizeof(block_q8_1), kActQs = 4;
    static constexpr int kOffset = 0;
    static constexpr bool kMin = true, kLut = false, kHigh = true;
};
struct IQ4_NLV {
    static constexpr int kBytes = sizeof(block_iq4_nl), kQs = 2, kQh = 0, kAct = sizeof(block_q8_0), kActQs = 2;
    static constexpr int kOffset = 128;  // the codebook is looked up as value + 128 (uint8)
    static constexpr bool kMin = false, kLut = true, kHigh = false;
};

// Q4_K and Q5_K: byte offsets of the 128 quant bytes and of Q5_K's 32 high-bit bytes (qh bit i of byte l is the
// fifth bit of sub-block i's element l).
struct Q4_KV {
    static constexpr int kBytes = sizeof(block_q4_K), kQs = 16, kQh = 0;
    static constexpr bool kHigh = false;
};
struct Q5_KV {
    static constexpr int kBytes = sizeof(block_q5_K), kQs = 48, kQh = 16;
    static constexpr bool kHigh = true;
};
constexpr int kQ8KBytes = sizeof(block_q8_K);  // the K-quants' activation: d f32 at 0, qs at 4, bsums at 260

// The 8 six-bit scales of an IQ4_XS block (scales_h: 2 bits each, scales_l: 4 bits each) as bytes 0..63.
inline uint64_t iq4_xs_scales(const uint8_t* b) {
    uint64_t l = ld32(b + 4), h = ld16(b + 2);
    l = (l | l << 16) & 0x0000FFFF0000FFFFULL;  // nibble i -> byte i
    l = (l | l << 8) & 0x00FF00FF00FF00FFULL;
    l = (l | l << 4) & 0x0F0F0F0F0F0F0F0FULL;
    h = (h | h << 24) & 0x000000FF000000FFULL;  // 2-bit field i -> byte i
    h = (h | h << 12) & 0x000F000F000F000FULL;
    h = (h | h << 6) & 0x0303030303030303ULL;
    return l | h << 4;
}

// Prepared activation of a 32-element format, per group of G blocks (G = 2 for ymm, 4 for zmm), 80 * G bytes:
//   lo[16G]  elements 0-15 of each block      hi[16G]  elements 16-31
//   nc[4G]   int32: -offset * sum of the 8 activation bytes lane i meets (lo and hi)
//   dx[4G]   f32: block b's scale in lanes 4b..4b+3
//   sx[G]    f32: Q8_1's d * sum(q) per block (formats with a min), padded to 16G bytes
// A last, incomplete group is zero-filled.
template <int G>
constexpr size_t group32_bytes() {
    return 80 * G;
}

template <class F, int G>
void prepare32(const uint8_t* xq, int64_t nb, uint8_t* out) {
    constexpr size_t kStride = group32_bytes<G>();
    std::memset(out, 0, static_cast<size_t>((nb + G - 1) / G) * kStride);
    for (int64_t blk = 0; blk < nb; ++blk) {
        uint8_t* g = out + (blk / G) * kStride;
        const int b = static_cast<int>(blk % G);
        const uint8_t* src = xq + blk * F::kAct;
        const auto* q = reinterpret_cast<const int8_t*>(src + F::kActQs);
        std::memcpy(g + 16 * b, q, 16);
        std::memcpy(g + 16 * G + 16 * b, q + 16, 16);
        auto* nc = reinterpret_cast<int32_t*>(g + 32 * G);
        auto* dx = reinterpret_cast<float*>(g + 48 * G);
        for (int j = 0; j < 4; ++j) {
            int32_t s = 0;
            for (int e = 0; e < 4; ++e) s += q[4 * j + e] + q[16 + 4 * j + e];
            nc[4 * b + j] = -F::kOffset * s;
            dx[4 * b + j] = h2f(src);
        }
        if constexpr (F::kMin) reinterpret_cast<float*>(g + 64 * G)[b] = h2f(src + 2);
    }
}

// Prefetch the bytes [p, p + n) of a weight row of the next tile.
inline void prefetch(const uint8_t* p, int n) {
    for (int i = 0; i < n; i += 64) _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T0);
}

// group(wg, a) over the blocks of R rows, G blocks at a time (wg[r]: the group's first block in row r; a: its prepared
// activation, gstride bytes per group), prefetching the same bytes of the next tile (pf: its first row). The last
// incomplete group is copied zero-padded (scale 0: it adds nothing) so that no load passes the end of a row.
template <int R, int kBytes, int G, class Group>
void for_groups(const uint8_t* w, size_t ws, int64_t nb, const uint8_t* pf, const uint8_t* act, size_t gstride,
                Group&& group) {
    constexpr int kGB = G * kBytes;
    const int64_t full = nb / G;
    const uint8_t* wg[R];
    for (int64_t g = 0; g < full; ++g) {
        for (int r = 0; r < R; ++r) {
            wg[r] = w + r * ws + g * kGB;
            prefetch(pf + r * ws + g * kGB, kGB);
        }
        group(wg, act + g * gstride);
    }
    if (const int tail = static_cast<int>(nb - G * full)) {
        alignas(64) uint8_t buf[R][kGB];
        for (int r = 0; r < R; ++r) {
            std::memset(buf[r], 0, kGB);
            std::memcpy(buf[r], w + r * ws + full * kGB, static_cast<size_t>(tail) * kBytes);
            wg[r] = buf[r];
        }
        group(wg, act + full * gstride);
    }
}

// fn(r, R) for the tiles of kR rows, then for the rows left one at a time (R as a std::integral_constant).
template <int kR, class Fn>
void row_tiles(int64_t nrows, Fn&& fn) {
    int64_t r = 0;
    for (; r + kR <= nrows; r += kR) fn(r, std::integral_constant<int, kR>{});
    for (; r < nrows; ++r) fn(r, std::integral_constant<int, 1>{});
}

// The table entry for a format with a matrix-vector kernel: n == 1 goes to it, more tokens to the entry the table
// had before (the level's tiles and panels).
using GemvFn = void (*)(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y);
GemmFn g_prev[kNumTypes];

template <DType D, GemvFn Gemv>
void gemv_or_gemm(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
                  int64_t ys) {
    if (n == 1) {
        Gemv(w, ws, nrows, k, xq, y);
    } else {
        g_prev[static_cast<int>(D)](w, ws, nrows, k, xq, xs, n, y, ys);
    }
}

template <DType D, GemvFn Gemv>
void route(Kernels& t) {
    g_prev[static_cast<int>(D)] = t.gemm[static_cast<int>(D)];
    t.gemm[static_cast<int>(D)] = gemv_or_gemm<D, Gemv>;
}
