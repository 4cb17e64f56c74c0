// AVX-512 (F, BW, VL, VNNI) matrix-vector kernels (one token: decode) for Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q8_0,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS, written to run at the memory bandwidth.
//
// Why a separate path: at one token the weight bytes are read once and never reused, so the kernel must consume them
// faster than DRAM delivers them and keep the next ones in flight. The row tiles of gemm_avx512.cpp spend most of
// their instructions turning nibbles into bytes in element order and spreading per-block scales, and reached only
// about half the DRAM bandwidth. Here the activation row is laid out once per call (a few KiB, in L1/L2) in the order
// the weight bytes already have in memory, so 64 weight bytes become 128 quants with one AND and one shift, and the
// weights of the next row tile are prefetched while this one is computed.
//
//   32-element formats, 4 blocks per step: the 4 x 16 quant bytes in one zmm; low nibbles = elements 0-15 of each
//   block, high nibbles = elements 16-31. vpdpbusd against the matching activation bytes leaves block b's partial
//   sums in lanes 4b..4b+3; the offset (q - o) comes back through a precomputed -o * sum(x) per lane.
//   Q4_K: 128 quant bytes of a super-block are two zmm; low nibbles of bytes 0-63 are sub-blocks 0 and 2, high nibbles
//   sub-blocks 1 and 3 (then 4-7 likewise). vpmaddubsw + vpdpwssd with the 6-bit sub-block scales as int16 lanes
//   accumulate the super-block in int32; the mins go through the activation's per-sub-block sums. Q5_K: the same,
//   the fifth bits added with one vptestmb + masked add per vector.
//   Q2_K / Q3_K: at shift s the 64 quant bytes give elements 32s.. and 128 + 32s.., so each 128-bit lane is one
//   16-element sub-block whose scale comes in with one vpshufb; Q3_K's high bit like Q5_K's, its -4 via the sums.
//   IQ4_XS: each 128-bit lane of the two quant vectors is one 32-element sub-block; codebook + 128 with vpdpbusd.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"  // gcc 12 flags _mm512_undefined_* inside its own headers
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstring>
#include <new>
#include <type_traits>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx512 {
namespace {

#include "cpu/x86/gemv_common.h"  // level_util.h, format traits, prepare32, for_groups, row_tiles, route

thread_local Scratch t_act;  // the prepared activation row

// =================================================================================================================
// 32-element formats: 4 blocks per step (traits and the prepared activation in gemv_common.h)
// =================================================================================================================

constexpr size_t kGroup32 = group32_bytes<4>();

// R rows (r-th at w[r], ws bytes apart) x one prepared activation; pf: the next tile's first row (prefetched).
template <class F, int R>
void rows32(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nb, const uint8_t* pf, float* y) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
                      static_cast<char>(153), static_cast<char>(166), static_cast<char>(181), static_cast<char>(197),
                      static_cast<char>(217), static_cast<char>(241)));
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc[R];
    __m128 accm[R];
    for (int r = 0; r < R; ++r) {
        acc[r] = _mm512_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    // One group of 4 blocks; wg[r]: the group's first block in row r (4 whole blocks readable).
    auto group = [&](const uint8_t* const* wg, const uint8_t* a) {
        const __m512i xlo = _mm512_load_si512(a), xhi = _mm512_load_si512(a + 64);
        const __m512i nc = _mm512_load_si512(a + 128);
        const __m512 dx = _mm512_load_ps(reinterpret_cast<const float*>(a + 192));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = wg[r];
            __m512i q = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + F::kQs)));
            q = _mm512_inserti32x4(q, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + F::kBytes + F::kQs)), 1);
            q = _mm512_inserti32x4(q, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * F::kBytes + F::kQs)), 2);
            q = _mm512_inserti32x4(q, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 3 * F::kBytes + F::kQs)), 3);
            __m512i lo = _mm512_and_si512(q, low4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
            if constexpr (F::kHigh) {  // fifth bit: qh bit j of block b is element j's (j < 16: lo, else hi)
                const uint64_t h0 = ld32(b + F::kQh), h1 = ld32(b + F::kBytes + F::kQh);
                const uint64_t h2 = ld32(b + 2 * F::kBytes + F::kQh), h3 = ld32(b + 3 * F::kBytes + F::kQh);
                const __mmask64 mlo = (h0 & 0xFFFF) | (h1 & 0xFFFF) << 16 | (h2 & 0xFFFF) << 32 | (h3 & 0xFFFF) << 48;
                const __mmask64 mhi = (h0 >> 16) | (h1 >> 16) << 16 | (h2 >> 16) << 32 | (h3 >> 16) << 48;
                const __m512i bit4 = _mm512_set1_epi8(0x10);
                lo = _mm512_mask_add_epi8(lo, mlo, lo, bit4);
                hi = _mm512_mask_add_epi8(hi, mhi, hi, bit4);
            }
            if constexpr (F::kLut) {
                lo = _mm512_shuffle_epi8(lut, lo);
                hi = _mm512_shuffle_epi8(lut, hi);
            }
            __m512i s = F::kOffset != 0 ? nc : _mm512_setzero_si512();
            s = _mm512_dpbusd_epi32(s, lo, xlo);
            s = _mm512_dpbusd_epi32(s, hi, xhi);
            // the 4 block scales (fp16) -> lanes 4b..4b+3
            const uint64_t d4 = ld16(b) | static_cast<uint64_t>(ld16(b + F::kBytes)) << 16 |
                                static_cast<uint64_t>(ld16(b + 2 * F::kBytes)) << 32 |
                                static_cast<uint64_t>(ld16(b + 3 * F::kBytes)) << 48;
            const __m128 dw = _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(d4)));
            const __m512 dws = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(dw));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dws, dx), acc[r]);
            if constexpr (F::kMin) {
                const uint64_t m4 = ld16(b + 2) | static_cast<uint64_t>(ld16(b + F::kBytes + 2)) << 16 |
                                    static_cast<uint64_t>(ld16(b + 2 * F::kBytes + 2)) << 32 |
                                    static_cast<uint64_t>(ld16(b + 3 * F::kBytes + 2)) << 48;
                const __m128 m = _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(m4)));
                accm[r] = _mm_fmadd_ps(m, _mm_load_ps(reinterpret_cast<const float*>(a + 256)), accm[r]);
            }
        }
    };
    for_groups<R, F::kBytes, 4>(w, ws, nb, pf, act, kGroup32, group);
    for (int r = 0; r < R; ++r) {
        float v = _mm512_reduce_add_ps(acc[r]);
        if constexpr (F::kMin) v += hsum128(accm[r]);
        y[r] = v;
    }
}

template <class F>
void gemv32(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    constexpr int kR = 4;
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nb = k / 32;
    uint8_t* act = t_act.get(static_cast<size_t>((nb + 3) / 4) * kGroup32);
    prepare32<F, 4>(static_cast<const uint8_t*>(xq), nb, act);
    row_tiles<kR>(nrows, [&](int64_t r, auto R) { rows32<F, R>(wb + r * ws, ws, act, nb, wb + (r + R) * ws, y + r); });
}

// Q8_0: 4 blocks per step as two zmm (blocks 0-1, 2-3), made unsigned (q + 128) for vpdpbusd.
// Prepared activation per group: xa[64] xb[64] (the 4 blocks' quants), nca[16] ncb[16] (int32: -128 * sum of the
// 4 bytes lane i meets), dxa[16] dxb[16] (f32: block scales, 8 lanes each).
constexpr size_t kGroupQ8 = 6 * 64;

void prepare_q8_0(const uint8_t* xq, int64_t nb, uint8_t* out) {
    const int64_t ng = (nb + 3) / 4;
    std::memset(out, 0, static_cast<size_t>(ng) * kGroupQ8);
    for (int64_t blk = 0; blk < nb; ++blk) {
        uint8_t* g = out + (blk / 4) * kGroupQ8;
        const int b = static_cast<int>(blk % 4), half = b / 2, pos = b % 2;
        const uint8_t* src = xq + blk * sizeof(block_q8_0);
        const auto* q = reinterpret_cast<const int8_t*>(src + 2);
        std::memcpy(g + 64 * half + 32 * pos, q, 32);
        auto* nc = reinterpret_cast<int32_t*>(g + 128 + 64 * half) + 8 * pos;
        auto* dx = reinterpret_cast<float*>(g + 256 + 64 * half) + 8 * pos;
        for (int j = 0; j < 8; ++j) {
            nc[j] = -128 * (q[4 * j] + q[4 * j + 1] + q[4 * j + 2] + q[4 * j + 3]);
            dx[j] = h2f(src);
        }
    }
}

template <int R>
void rows_q8_0(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nb, const uint8_t* pf, float* y) {
    constexpr int kBytes = sizeof(block_q8_0);
    const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i spread_a = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i spread_b = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    auto group = [&](const uint8_t* const* wg, const uint8_t* a) {
        const __m512i xa = _mm512_load_si512(a), xb = _mm512_load_si512(a + 64);
        const __m512i nca = _mm512_load_si512(a + 128), ncb = _mm512_load_si512(a + 192);
        const __m512 dxa = _mm512_load_ps(reinterpret_cast<const float*>(a + 256));
        const __m512 dxb = _mm512_load_ps(reinterpret_cast<const float*>(a + 320));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = wg[r];
            auto load2 = [&](const uint8_t* p) {
                const __m512i v = _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2))),
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kBytes + 2)), 1);
                return _mm512_xor_si512(v, sign);
            };
            const __m512i sa = _mm512_dpbusd_epi32(nca, load2(b), xa);
            const __m512i sb = _mm512_dpbusd_epi32(ncb, load2(b + 2 * kBytes), xb);
            const uint64_t d4 = ld16(b) | static_cast<uint64_t>(ld16(b + kBytes)) << 16 |
                                static_cast<uint64_t>(ld16(b + 2 * kBytes)) << 32 |
                                static_cast<uint64_t>(ld16(b + 3 * kBytes)) << 48;
            const __m512 dw = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(d4))));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sa), _mm512_mul_ps(_mm512_permutexvar_ps(spread_a, dw), dxa),
                                     acc[r]);
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sb), _mm512_mul_ps(_mm512_permutexvar_ps(spread_b, dw), dxb),
                                     acc[r]);
        }
    };
    for_groups<R, kBytes, 4>(w, ws, nb, pf, act, kGroupQ8, group);
    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

void gemv_q8_0(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    constexpr int kR = 4;
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nb = k / 32;
    uint8_t* act = t_act.get(static_cast<size_t>((nb + 3) / 4) * kGroupQ8);
    prepare_q8_0(static_cast<const uint8_t*>(xq), nb, act);
    row_tiles<kR>(nrows, [&](int64_t r, auto R) { rows_q8_0<R>(wb + r * ws, ws, act, nb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// Q4_K
// =================================================================================================================

// Prepared activation per super-block (320 bytes): X[4][64] = the Q8_K quants as sub-blocks (0,2) (1,3) (4,6) (5,7),
// then bs[8] int16 (sum of each 32-element sub-block) and dx (f32).
constexpr size_t kSuperK = 5 * 64;

void prepareK(const uint8_t* xq, int64_t nsb, uint8_t* out) {
    static constexpr int kOrder[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* src = xq + sb * kQ8KBytes;
        uint8_t* o = out + sb * kSuperK;
        for (int i = 0; i < 8; ++i) std::memcpy(o + 32 * i, src + 4 + 32 * kOrder[i], 32);
        int16_t bs16[16], bs[8];
        std::memcpy(bs16, src + 260, sizeof(bs16));
        for (int j = 0; j < 8; ++j) bs[j] = static_cast<int16_t>(bs16[2 * j] + bs16[2 * j + 1]);
        std::memcpy(o + 256, bs, sizeof(bs));
        std::memcpy(o + 272, src, 4);
    }
}

// vpshufb controls that turn the 8 scale bytes (broadcast to every 128-bit lane) into the int16 lanes of quant vector
// c: int16 lanes 0-15 get scale a, lanes 16-31 scale b, with (a, b) = (0,2) (1,3) (4,6) (5,7).
struct ScaleCtl {
    __m512i c[4];
    ScaleCtl() {
        static constexpr int kA[4] = {0, 1, 4, 5};
        for (int v = 0; v < 4; ++v) {
            alignas(64) uint8_t b[64];
            for (int i = 0; i < 64; ++i) b[i] = (i & 1) ? 0x80 : static_cast<uint8_t>(i < 32 ? kA[v] : kA[v] + 2);
            c[v] = _mm512_load_si512(b);
        }
    }
};

// 64 bytes: a in bytes 0-31, b in bytes 32-63.
inline __m512i halves(char a, char b) {
    return _mm512_mask_blend_epi8(0xFFFFFFFF00000000ULL, _mm512_set1_epi8(a), _mm512_set1_epi8(b));
}

template <class F, int R>
void rows_k4(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nsb, const uint8_t* pf, float* y) {
    static const ScaleCtl ctl;
    const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    // Q5_K: the qh bit of each quant vector (sub-blocks (0,2) (1,3) (4,6) (5,7) in its two halves)
    const __m512i hsel[4] = {halves(0x01, 0x04), halves(0x02, 0x08), halves(0x10, 0x40), halves(0x20, char(0x80))};
    __m512 acc[R];
    __m128 accm[R];
    for (int r = 0; r < R; ++r) {
        acc[r] = _mm512_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* a = act + sb * kSuperK;
        const __m512i x0 = _mm512_load_si512(a), x1 = _mm512_load_si512(a + 64);
        const __m512i x2 = _mm512_load_si512(a + 128), x3 = _mm512_load_si512(a + 192);
        const __m128i bs = _mm_load_si128(reinterpret_cast<const __m128i*>(a + 256));
        float dx;
        std::memcpy(&dx, a + 272, 4);
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * F::kBytes;
            prefetch(pf + r * ws + sb * F::kBytes, F::kBytes);
            uint64_t sc8, m8;
            unpack_k4_scales(b + 4, &sc8, &m8);
            const __m512i scb = _mm512_set1_epi64(static_cast<int64_t>(sc8));
            const __m512i v0 = _mm512_loadu_si512(b + F::kQs), v1 = _mm512_loadu_si512(b + F::kQs + 64);
            __m512i q0 = _mm512_and_si512(v0, low4), q1 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), low4);
            __m512i q2 = _mm512_and_si512(v1, low4), q3 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), low4);
            if constexpr (F::kHigh) {
                const __m512i h =
                    _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + F::kQh)));
                q0 = _mm512_mask_add_epi8(q0, _mm512_test_epi8_mask(h, hsel[0]), q0, bit4);
                q1 = _mm512_mask_add_epi8(q1, _mm512_test_epi8_mask(h, hsel[1]), q1, bit4);
                q2 = _mm512_mask_add_epi8(q2, _mm512_test_epi8_mask(h, hsel[2]), q2, bit4);
                q3 = _mm512_mask_add_epi8(q3, _mm512_test_epi8_mask(h, hsel[3]), q3, bit4);
            }
            // two independent int32 chains (quants <= 31: vpmaddubsw cannot saturate)
            __m512i s0 = _mm512_madd_epi16(_mm512_maddubs_epi16(q0, x0), _mm512_shuffle_epi8(scb, ctl.c[0]));
            __m512i s1 = _mm512_madd_epi16(_mm512_maddubs_epi16(q1, x1), _mm512_shuffle_epi8(scb, ctl.c[1]));
            s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(q2, x2), _mm512_shuffle_epi8(scb, ctl.c[2]));
            s1 = _mm512_dpwssd_epi32(s1, _mm512_maddubs_epi16(q3, x3), _mm512_shuffle_epi8(scb, ctl.c[3]));
            const __m128 dm = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(ld32(b)))), _mm_set1_ps(dx));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_broadcastss_ps(dm), acc[r]);
            // mins: dmin * dx * sum_j m_j * bs_j (4 int32 lanes)
            const __m128i mj = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(m8)));
            accm[r] = _mm_fnmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mj, bs)), _mm_permute_ps(dm, 0x55), accm[r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        y[r] = _mm512_reduce_add_ps(acc[r]) + hsum128(accm[r]);
    }
}

template <class F>
void gemv_k4(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    constexpr int kR = 4;
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nsb = k / 256;
    uint8_t* act = t_act.get(static_cast<size_t>(nsb) * kSuperK);
    prepareK(static_cast<const uint8_t*>(xq), nsb, act);
    row_tiles<kR>(nrows,
                  [&](int64_t r, auto R) { rows_k4<F, R>(wb + r * ws, ws, act, nsb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// Q2_K and Q3_K x Q8_K: 2-bit quants at shifts 0, 2, 4, 6 of 64 bytes; at shift s, bytes 0-31 are elements
// 32s..32s+31 and bytes 32-63 elements 128+32s.., so the activation is laid out once as X_s = those two runs (4 zmm),
// and every 128-bit lane of a quant vector is one 16-element sub-block: its scale comes in with one vpshufb.
// =================================================================================================================

// Prepared activation per super-block: X_s[4][64], bsums[16] int16 (Q8_K's sums of 16), dx f32; 320 bytes.
constexpr size_t kSuper2 = 5 * 64;

// One prepared super-block in registers, as the Q2_K and Q3_K rows read it.
struct Super2 {
    __m512i xs[4];
    __m256i bsums;
    float dx;
    explicit Super2(const uint8_t* a) {
        for (int s = 0; s < 4; ++s) xs[s] = _mm512_load_si512(a + 64 * s);
        bsums = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 256));
        std::memcpy(&dx, a + 288, 4);
    }
};

void prepare2(const uint8_t* xq, int64_t nsb, uint8_t* out) {
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* src = xq + sb * kQ8KBytes;
        uint8_t* o = out + sb * kSuper2;
        for (int s = 0; s < 4; ++s) {
            std::memcpy(o + 64 * s, src + 4 + 32 * s, 32);
            std::memcpy(o + 64 * s + 32, src + 4 + 128 + 32 * s, 32);
        }
        std::memcpy(o + 256, src + 260, 32);
        std::memcpy(o + 288, src, 4);
    }
}

// vpshufb controls for shift s: 128-bit lane L is sub-block 8 * (L / 2) + 2s + L % 2.
//   byte: the scale byte of that sub-block (16 scale bytes in every lane), zero-extended to int16 lanes (Q2_K)
//   word: int16 lane 2s + L % 2 of the lane's 8 int16 scales (Q3_K: scales 0-7 in lanes 0-1, 8-15 in lanes 2-3)
struct Shift2Ctl {
    __m512i byte[4], word[4];
    Shift2Ctl() {
        for (int s = 0; s < 4; ++s) {
            alignas(64) uint8_t b[64], h[64];
            for (int i = 0; i < 64; ++i) {
                const int lane = i / 16;
                b[i] = (i & 1) ? 0x80 : static_cast<uint8_t>(8 * (lane / 2) + 2 * s + lane % 2);
                h[i] = static_cast<uint8_t>(2 * (2 * s + lane % 2) + (i & 1));
            }
            byte[s] = _mm512_load_si512(b);
            word[s] = _mm512_load_si512(h);
        }
    }
};

template <int R>
void rows_q2_K(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nsb, const uint8_t* pf, float* y) {
    static const Shift2Ctl ctl;
    constexpr int kBytes = sizeof(block_q2_K);  // scales[16] at 0, qs[64] at 16, d at 80, dmin at 82
    const __m512i low2 = _mm512_set1_epi8(0x03), low4 = _mm512_set1_epi8(0x0F);
    __m512 acc[R];
    __m256 accm[R];
    for (int r = 0; r < R; ++r) {
        acc[r] = _mm512_setzero_ps();
        accm[r] = _mm256_setzero_ps();
    }
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const Super2 X(act + sb * kSuper2);
        const __m512i* xs = X.xs;
        const __m256i bsums = X.bsums;
        const float dx = X.dx;
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * kBytes;
            prefetch(pf + r * ws + sb * kBytes, kBytes);
            const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
            const __m512i scb = _mm512_and_si512(_mm512_broadcast_i32x4(sc), low4);
            const __m512i v = _mm512_loadu_si512(b + 16);
            __m512i is = _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_and_si512(v, low2), xs[0]),
                                           _mm512_shuffle_epi8(scb, ctl.byte[0]));
            for (int s = 1; s < 4; ++s) {
                const __m512i q = _mm512_and_si512(_mm512_srli_epi16(v, 2 * s), low2);
                is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(q, xs[s]), _mm512_shuffle_epi8(scb, ctl.byte[s]));
            }
            // mins: sum_j (scales[j] >> 4) * bsums[j]
            const __m256i mj = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm512_castsi512_si128(low4)));
            const __m128 dm =
                _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(ld32(b + 80)))), _mm_set1_ps(dx));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_broadcastss_ps(dm), acc[r]);
            accm[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(mj, bsums)),
                                       _mm256_broadcastss_ps(_mm_permute_ps(dm, 0x55)), accm[r]);
        }
    }
    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]) + hsum256(accm[r]);
}

// Q3_K's 16 six-bit scales (12 bytes) as int8 scale - 32.
inline __m128i q3_scales(const uint8_t* p) {
    constexpr uint32_t kM1 = 0x03030303, kM2 = 0x0f0f0f0f;
    const uint32_t a0 = ld32(p), a1 = ld32(p + 4), t = ld32(p + 8);
    const __m128i v = _mm_setr_epi32(static_cast<int>((a0 & kM2) | ((t & kM1) << 4)),
                                     static_cast<int>((a1 & kM2) | (((t >> 2) & kM1) << 4)),
                                     static_cast<int>(((a0 >> 4) & kM2) | (((t >> 4) & kM1) << 4)),
                                     static_cast<int>(((a1 >> 4) & kM2) | (((t >> 6) & kM1) << 4)));
    return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

template <int R>
void rows_q3_K(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nsb, const uint8_t* pf, float* y) {
    static const Shift2Ctl ctl;
    constexpr int kBytes = sizeof(block_q3_K);  // hmask[32] at 0, qs[64] at 32, scales[12] at 96, d at 108
    const __m512i low2 = _mm512_set1_epi8(0x03), four = _mm512_set1_epi8(4);
    // the hmask bit of shift s: bit s for elements 0-127 (bytes 0-31), bit 4 + s for 128-255 (bytes 32-63)
    const __m512i hsel[4] = {halves(0x01, 0x10), halves(0x02, 0x20), halves(0x04, 0x40), halves(0x08, char(0x80))};
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const Super2 X(act + sb * kSuper2);
        const __m512i* xs = X.xs;
        const __m256i bsums = X.bsums;
        const float dx = X.dx;
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * kBytes;
            prefetch(pf + r * ws + sb * kBytes, kBytes);
            const __m256i sc16 = _mm256_cvtepi8_epi16(q3_scales(b + 96));
            const __m512i scw = _mm512_shuffle_i64x2(_mm512_castsi256_si512(sc16), _mm512_castsi256_si512(sc16), 0x50);
            const __m512i v = _mm512_loadu_si512(b + 32);
            const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
            __m512i is = _mm512_setzero_si512();
            for (int s = 0; s < 4; ++s) {
                // q + 4 in 0..7: the 2 low bits plus 4 where the hmask bit is set (clear bit: value q - 4)
                __m512i q = _mm512_and_si512(s ? _mm512_srli_epi16(v, 2 * s) : v, low2);
                q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(h, hsel[s]), q, four);
                is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(q, xs[s]), _mm512_shuffle_epi8(scw, ctl.word[s]));
            }
            // the -4 offset: sum_j scale_j * 4 * bsums[j], as 8 int32 lanes
            const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 2);
            const __m512i isum = _mm512_sub_epi32(is, _mm512_zextsi256_si512(off));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(h2f(b + 108) * dx), acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

template <void (*Rows1)(const uint8_t*, size_t, const uint8_t*, int64_t, const uint8_t*, float*),
          void (*Rows4)(const uint8_t*, size_t, const uint8_t*, int64_t, const uint8_t*, float*)>
void gemv_shift2(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nsb = k / 256;
    uint8_t* act = t_act.get(static_cast<size_t>(nsb) * kSuper2);
    prepare2(static_cast<const uint8_t*>(xq), nsb, act);
    row_tiles<4>(nrows, [&](int64_t r, auto R) {
        if constexpr (R == 4) {
            Rows4(wb + r * ws, ws, act, nsb, wb + (r + 4) * ws, y + r);
        } else {
            Rows1(wb + r * ws, ws, act, nsb, wb + (r + 1) * ws, y + r);
        }
    });
}

// =================================================================================================================
// IQ4_XS x Q8_K: 8 sub-blocks of 32 with 6-bit scales; a sub-block's 16 quant bytes hold elements 0-15 (low nibbles)
// and 16-31 (high), so each 128-bit lane of the two quant vectors is one sub-block. The codebook is looked up as
// value + 128 (uint8) for vpdpbusd (int32: no saturation); the + 128 comes back through -128 * sum(x) per lane.
// =================================================================================================================

// Prepared activation per super-block: X[4][64] (lanes L of X0/X1: elements 32L..+15 / 32L+16..+31 of sub-block L,
// X2/X3 for sub-blocks 4-7), nc[2][16] int32 (-128 * the sum of the 8 activation bytes lane i meets), dx f32.
constexpr size_t kSuperXS = 7 * 64;

void prepare_iq4_xs(const uint8_t* xq, int64_t nsb, uint8_t* out) {
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* src = xq + sb * kQ8KBytes;
        const auto* q = reinterpret_cast<const int8_t*>(src + 4);
        uint8_t* o = out + sb * kSuperXS;
        auto* nc = reinterpret_cast<int32_t*>(o + 256);
        for (int ib = 0; ib < 8; ++ib) {
            const int half = ib / 4, lane = ib % 4;
            std::memcpy(o + 128 * half + 16 * lane, q + 32 * ib, 16);
            std::memcpy(o + 128 * half + 64 + 16 * lane, q + 32 * ib + 16, 16);
            for (int j = 0; j < 4; ++j) {
                int32_t s = 0;
                for (int e = 0; e < 4; ++e) s += q[32 * ib + 4 * j + e] + q[32 * ib + 16 + 4 * j + e];
                nc[16 * half + 4 * lane + j] = -128 * s;
            }
        }
        std::memcpy(o + 384, src, 4);
    }
}

template <int R>
void rows_iq4_xs(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nsb, const uint8_t* pf, float* y) {
    constexpr int kBytes = sizeof(block_iq4_xs);  // d at 0, scales_h at 2, scales_l[4] at 4, qs[128] at 8
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
                      static_cast<char>(153), static_cast<char>(166), static_cast<char>(181), static_cast<char>(197),
                      static_cast<char>(217), static_cast<char>(241)));
    const __m512i spread_a = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i spread_b = _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* a = act + sb * kSuperXS;
        const __m512i x0 = _mm512_load_si512(a), x1 = _mm512_load_si512(a + 64);
        const __m512i x2 = _mm512_load_si512(a + 128), x3 = _mm512_load_si512(a + 192);
        const __m512i nc0 = _mm512_load_si512(a + 256), nc1 = _mm512_load_si512(a + 320);
        float dx;
        std::memcpy(&dx, a + 384, 4);
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * kBytes;
            prefetch(pf + r * ws + sb * kBytes, kBytes);
            const __m512i v0 = _mm512_loadu_si512(b + 8), v1 = _mm512_loadu_si512(b + 72);
            __m512i s0 = _mm512_dpbusd_epi32(nc0, _mm512_shuffle_epi8(lut, _mm512_and_si512(v0, low4)), x0);
            s0 =
                _mm512_dpbusd_epi32(s0, _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v0, 4), low4)), x1);
            __m512i s1 = _mm512_dpbusd_epi32(nc1, _mm512_shuffle_epi8(lut, _mm512_and_si512(v1, low4)), x2);
            s1 =
                _mm512_dpbusd_epi32(s1, _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v1, 4), low4)), x3);
            const __m128i ls =
                _mm_sub_epi8(_mm_cvtsi64_si128(static_cast<int64_t>(iq4_xs_scales(b))), _mm_set1_epi8(32));
            const __m512i sc = _mm512_cvtepi8_epi32(ls);
            const __m512i isum = _mm512_add_epi32(_mm512_mullo_epi32(s0, _mm512_permutexvar_epi32(spread_a, sc)),
                                                  _mm512_mullo_epi32(s1, _mm512_permutexvar_epi32(spread_b, sc)));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(h2f(b) * dx), acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

void gemv_iq4_xs(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nsb = k / 256;
    uint8_t* act = t_act.get(static_cast<size_t>(nsb) * kSuperXS);
    prepare_iq4_xs(static_cast<const uint8_t*>(xq), nsb, act);
    row_tiles<4>(nrows,
                 [&](int64_t r, auto R) { rows_iq4_xs<R>(wb + r * ws, ws, act, nsb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// Q6_K x Q8_K, natural order (no preparation): per 128-element half, 64 ql bytes (low nibbles: elements 0-63, high
// nibbles: 64-127) and 32 qh bytes (2 bits per element); 16 groups of 16 with int8 scales as int16 lanes of vpdpwssd;
// the q - 32 offset through Q8_K's 16-element sums.
// =================================================================================================================

// vpshufb controls: 128-bit lane L of the first (second) 64 quants of a half takes int16 scale L (4 + L) of the
// half's 8, which sit in every lane.
struct Q6Ctl {
    __m512i a, b;
    Q6Ctl() {
        alignas(64) uint8_t x[64], y[64];
        for (int i = 0; i < 64; ++i) {
            const int lane = i / 16, hi = i & 1;
            x[i] = static_cast<uint8_t>(2 * lane + hi);
            y[i] = static_cast<uint8_t>(2 * (4 + lane) + hi);
        }
        a = _mm512_load_si512(x);
        b = _mm512_load_si512(y);
    }
};

template <int R>
void rows_q6_K(const uint8_t* w, size_t ws, const uint8_t* x, int64_t nsb, const uint8_t* pf, float* y) {
    static const Q6Ctl ctl;
    constexpr int kBytes = sizeof(block_q6_K);
    const __m512i low4 = _mm512_set1_epi8(0x0F), hi2 = _mm512_set1_epi8(0x30);
    const __m512i shl = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4), shr = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* xs = x + sb * kQ8KBytes;
        float dx;
        std::memcpy(&dx, xs, 4);
        __m512i xv[4];
        for (int v = 0; v < 4; ++v) xv[v] = _mm512_loadu_si512(xs + 4 + 64 * v);
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + 260));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * kBytes;
            prefetch(pf + r * ws + sb * kBytes, kBytes);
            const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
            const __m512i half_sc[2] = {_mm512_broadcast_i32x4(_mm256_castsi256_si128(sc)),
                                        _mm512_broadcast_i32x4(_mm256_extracti128_si256(sc, 1))};
            __m512i is[2];
            for (int h = 0; h < 2; ++h) {
                const __m512i L = _mm512_loadu_si512(b + 64 * h);
                const __m512i H =
                    _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h)));
                const __m512i qa =
                    _mm512_or_si512(_mm512_and_si512(L, low4), _mm512_and_si512(_mm512_sllv_epi64(H, shl), hi2));
                const __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), low4),
                                                   _mm512_and_si512(_mm512_srlv_epi64(H, shr), hi2));
                is[h] = _mm512_madd_epi16(_mm512_maddubs_epi16(qa, xv[2 * h]), _mm512_shuffle_epi8(half_sc[h], ctl.a));
                is[h] = _mm512_dpwssd_epi32(is[h], _mm512_maddubs_epi16(qb, xv[2 * h + 1]),
                                            _mm512_shuffle_epi8(half_sc[h], ctl.b));
            }
            // sum_g sc_g * (q . x - 32 * bsum_g): the offset as 8 int32 lanes, times 32
            const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc, bsums), 5);
            const __m512i isum = _mm512_sub_epi32(_mm512_add_epi32(is[0], is[1]), _mm512_zextsi256_si512(off));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(h2f(b + 208) * dx), acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

void gemv_q6_K(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    constexpr int kR = 4;
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* x = static_cast<const uint8_t*>(xq);
    const int64_t nsb = k / 256;
    row_tiles<kR>(nrows, [&](int64_t r, auto R) { rows_q6_K<R>(wb + r * ws, ws, x, nsb, wb + (r + R) * ws, y + r); });
}

}  // namespace

void fill_gemv(Kernels& t) {
    route<DType::Q4_0, gemv32<Q4_0V>>(t);
    route<DType::Q4_1, gemv32<Q4_1V>>(t);
    route<DType::Q5_0, gemv32<Q5_0V>>(t);
    route<DType::Q5_1, gemv32<Q5_1V>>(t);
    route<DType::IQ4_NL, gemv32<IQ4_NLV>>(t);
    route<DType::Q8_0, gemv_q8_0>(t);
    route<DType::Q2_K, gemv_shift2<rows_q2_K<1>, rows_q2_K<4>>>(t);
    route<DType::Q3_K, gemv_shift2<rows_q3_K<1>, rows_q3_K<4>>>(t);
    route<DType::Q4_K, gemv_k4<Q4_KV>>(t);
    route<DType::Q5_K, gemv_k4<Q5_KV>>(t);
    route<DType::Q6_K, gemv_q6_K>(t);
    route<DType::IQ4_XS, gemv_iq4_xs>(t);
}

}  // namespace lc::cpu::avx512
