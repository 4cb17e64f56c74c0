// AVX2 (+FMA, F16C) matrix-vector kernels (one token: decode) for Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q8_0, Q4_K, Q5_K,
// Q6_K and IQ4_XS: the design of gemv_avx512.cpp on 256-bit vectors without VNNI.
//
// The activation row is laid out once per call in the order the weight bytes have in memory; then 32 weight bytes
// become 64 quants with one AND and one shift. 32-element formats, 2 blocks per step: the 2 x 16 quant bytes in one
// ymm, low nibbles against elements 0-15 of each block and high nibbles against 16-31; vpmaddubsw (u8 x s8; q <= 31,
// so no int16 saturation even summed over both halves) + vpmaddwd(1) leave block b's partial sums in int32 lanes
// 4b..4b+3, and the offset (q - o) comes back through a precomputed -o * sum(x) per lane. Q4_K keeps the natural
// order (a 32-byte chunk's low nibbles are one sub-block, its high nibbles the next) with the sub-block scales as
// int16 lanes of vpmaddwd. The next 4-row tile is prefetched.
#include <immintrin.h>

#include <cstring>
#include <new>
#include <type_traits>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx2 {
namespace {

#include "cpu/x86/gemv_common.h"  // level_util.h, format traits, prepare32, for_groups, row_tiles, route

thread_local Scratch t_act;  // the prepared activation row

// 32 bits -> 32 bytes: byte i = 0x10 where bit i is set, else 0.
inline __m256i bits_to_0x10(uint32_t m) {
    const __m256i spread =
        _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(m)),
                            _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i sel = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, sel), sel), _mm256_set1_epi8(0x10));
}

// =================================================================================================================
// 32-element formats with unsigned quants, 2 blocks per step
// =================================================================================================================

// Traits and the prepared activation (groups of 2 blocks) in gemv_common.h; IQ4_NL has its own rows below (its
// codebook + 128 would saturate vpmaddubsw).
constexpr size_t kPair = group32_bytes<2>();

template <class F, int R>
void rows32(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nb, const uint8_t* pf, float* y) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m256 acc[R];
    __m128 accm[R];
    for (int r = 0; r < R; ++r) {
        acc[r] = _mm256_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    auto pair = [&](const uint8_t* const* wp, const uint8_t* a) {
        const __m256i xlo = _mm256_load_si256(reinterpret_cast<const __m256i*>(a));
        const __m256i xhi = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 32));
        const __m256i nc = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 64));
        const __m256 dx = _mm256_load_ps(reinterpret_cast<const float*>(a + 96));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = wp[r];
            const __m256i q = _mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + F::kQs))),
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + F::kBytes + F::kQs)), 1);
            __m256i lo = _mm256_and_si256(q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            if constexpr (F::kHigh) {  // qh bit j of block b is element j's fifth bit (j < 16: lo, else hi)
                const uint32_t h0 = ld32(b + F::kQh), h1 = ld32(b + F::kBytes + F::kQh);
                lo = _mm256_or_si256(lo, bits_to_0x10((h0 & 0xFFFF) | (h1 << 16)));
                hi = _mm256_or_si256(hi, bits_to_0x10((h0 >> 16) | (h1 & 0xFFFF0000u)));
            }
            const __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi));
            __m256i s = _mm256_madd_epi16(p16, ones);
            if constexpr (F::kOffset != 0) s = _mm256_add_epi32(s, nc);
            const uint32_t d2 = ld16(b) | static_cast<uint32_t>(ld16(b + F::kBytes)) << 16;
            const __m256 dw = _mm256_permutevar8x32_ps(
                _mm256_castps128_ps256(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d2)))), spread);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx), acc[r]);
            if constexpr (F::kMin) {
                const uint32_t m2 = ld16(b + 2) | static_cast<uint32_t>(ld16(b + F::kBytes + 2)) << 16;
                const __m128 m = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(m2)));
                accm[r] = _mm_fmadd_ps(m, _mm_load_ps(reinterpret_cast<const float*>(a + 128)), accm[r]);
            }
        }
    };
    for_groups<R, F::kBytes, 2>(w, ws, nb, pf, act, kPair, pair);
    for (int r = 0; r < R; ++r) {
        float v = hsum256(acc[r]);
        if constexpr (F::kMin) v += hsum128(accm[r]);
        y[r] = v;
    }
}

template <class F>
void gemv32(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    constexpr int kR = 4;
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nb = k / 32;
    uint8_t* act = t_act.get(static_cast<size_t>((nb + 1) / 2) * kPair);
    prepare32<F, 2>(static_cast<const uint8_t*>(xq), nb, act);
    row_tiles<kR>(nrows, [&](int64_t r, auto R) { rows32<F, R>(wb + r * ws, ws, act, nb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// Q8_0 x Q8_0: signed quants, so the sign trick (|w| x sign(x, w)) instead of an offset; 2 blocks per step
// =================================================================================================================

// Prepared activation: the quants of each block at 32-byte alignment and one zero block (the padding of an odd
// count), then the nb + 1 block scales as f32.
void prepare_q8_0(const uint8_t* xq, int64_t nb, uint8_t* out) {
    std::memset(out + 32 * nb, 0, 32);
    auto* dx = reinterpret_cast<float*>(out + 32 * (nb + 1));
    for (int64_t b = 0; b < nb; ++b) {
        std::memcpy(out + 32 * b, xq + b * sizeof(block_q8_0) + 2, 32);
        dx[b] = h2f(xq + b * sizeof(block_q8_0));
    }
    dx[nb] = 0.0f;  // the zero-padded block of an odd count
}

template <int R>
void rows_q8_0(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nb, const uint8_t* pf, float* y) {
    constexpr int kBytes = sizeof(block_q8_0);
    const auto* dxs = reinterpret_cast<const float*>(act + 32 * (nb + 1));
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    auto dot = [&](const uint8_t* wq, __m256i x) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq));
        return _mm256_cvtepi32_ps(
            _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(x, v)), ones));
    };
    auto pair = [&](const uint8_t* const* wp, const uint8_t* a) {  // a: the pair's quants (64 bytes)
        const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(a));
        const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 32));
        const __m128 dx = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(dxs + (a - act) / 32)));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = wp[r];
            const uint32_t d2 = ld16(b) | static_cast<uint32_t>(ld16(b + kBytes)) << 16;
            const __m128 d = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d2))), dx);
            acc[r] = _mm256_fmadd_ps(dot(b + 2, x0), _mm256_broadcastss_ps(d), acc[r]);
            acc[r] = _mm256_fmadd_ps(dot(b + kBytes + 2, x1), _mm256_broadcastss_ps(_mm_movehdup_ps(d)), acc[r]);
        }
    };
    for_groups<R, kBytes, 2>(w, ws, nb, pf, act, 64, pair);
    for (int r = 0; r < R; ++r) y[r] = hsum256(acc[r]);
}

void gemv_q8_0(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    constexpr int kR = 4;
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nb = k / 32;
    uint8_t* act = t_act.get(static_cast<size_t>(nb + 1) * 36);
    prepare_q8_0(static_cast<const uint8_t*>(xq), nb, act);
    row_tiles<kR>(nrows, [&](int64_t r, auto R) { rows_q8_0<R>(wb + r * ws, ws, act, nb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// Q4_K and Q5_K x Q8_K (natural order: no preparation beyond the per-sub-block sums)
// =================================================================================================================

// Bit b of every byte of v moved to bit 4 (0x10), the other bits cleared.
template <int B>
inline __m256i bit_to_0x10(__m256i v) {
    const __m256i m = _mm256_set1_epi8(0x10);
    if constexpr (B < 4) {
        return _mm256_and_si256(_mm256_slli_epi16(v, 4 - B), m);
    } else if constexpr (B == 4) {
        return _mm256_and_si256(v, m);
    } else {
        return _mm256_and_si256(_mm256_srli_epi16(v, B - 4), m);
    }
}

// vpshufb controls that turn the 8 scale bytes (broadcast to both 128-bit lanes) into int16 lanes of sub-block s.
struct ScaleCtl {
    __m256i c[8];
    ScaleCtl() {
        for (int s = 0; s < 8; ++s) {
            alignas(32) uint8_t b[32];
            for (int i = 0; i < 32; ++i) b[i] = (i & 1) ? 0x80 : static_cast<uint8_t>(s);
            c[s] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
        }
    }
};

template <class F, int R>
void rows_k4(const uint8_t* w, size_t ws, const uint8_t* x, const int16_t* bs, int64_t nsb, const uint8_t* pf,
             float* y) {
    static const ScaleCtl ctl;
    constexpr int kBytes = F::kBytes;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256 acc[R];
    __m128 accm[R];
    for (int r = 0; r < R; ++r) {
        acc[r] = _mm256_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* xs = x + sb * kQ8KBytes;
        float dx;
        std::memcpy(&dx, xs, 4);
        const __m128i bsv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bs + 8 * sb));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * kBytes;
            prefetch(pf + r * ws + sb * kBytes, kBytes);
            uint64_t sc8, m8;
            unpack_k4_scales(b + 4, &sc8, &m8);
            const __m256i scb = _mm256_set1_epi64x(static_cast<int64_t>(sc8));
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            __m256i h = _mm256_setzero_si256();
            if constexpr (F::kHigh) h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + F::kQh));
            auto chunk = [&](auto c) {  // sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles)
                const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + F::kQs + 32 * c));
                __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
                if constexpr (F::kHigh) {  // values <= 31: vpmaddubsw cannot saturate
                    lo = _mm256_or_si256(lo, bit_to_0x10<2 * c>(h));
                    hi = _mm256_or_si256(hi, bit_to_0x10<2 * c + 1>(h));
                }
                const __m256i xl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + 4 + 64 * c));
                const __m256i xh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + 36 + 64 * c));
                s0 = _mm256_add_epi32(
                    s0, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_shuffle_epi8(scb, ctl.c[2 * c])));
                s1 = _mm256_add_epi32(
                    s1, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xh), _mm256_shuffle_epi8(scb, ctl.c[2 * c + 1])));
            };
            chunk(std::integral_constant<int, 0>{});
            chunk(std::integral_constant<int, 1>{});
            chunk(std::integral_constant<int, 2>{});
            chunk(std::integral_constant<int, 3>{});
            const __m128 dm = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(ld32(b)))), _mm_set1_ps(dx));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_broadcastss_ps(dm), acc[r]);
            const __m128i mj = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(m8)));
            accm[r] = _mm_fnmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mj, bsv)), _mm_permute_ps(dm, 0x55), accm[r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        y[r] = hsum256(acc[r]) + hsum128(accm[r]);
    }
}

template <class F>
void gemv_k4(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    constexpr int kR = 4;
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* x = static_cast<const uint8_t*>(xq);
    const int64_t nsb = k / 256;
    // per super-block: the 8 sums of 32 activation quants (Q8_K keeps sums of 16)
    auto* bs = reinterpret_cast<int16_t*>(t_act.get(static_cast<size_t>(nsb) * 16));
    for (int64_t sb = 0; sb < nsb; ++sb) {
        int16_t b16[16];
        std::memcpy(b16, x + sb * kQ8KBytes + 260, sizeof(b16));
        for (int j = 0; j < 8; ++j) bs[8 * sb + j] = static_cast<int16_t>(b16[2 * j] + b16[2 * j + 1]);
    }
    row_tiles<kR>(nrows,
                  [&](int64_t r, auto R) { rows_k4<F, R>(wb + r * ws, ws, x, bs, nsb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// IQ4_NL x Q8_0: signed codebook values, so the sign trick (|w| x sign(x, w)) instead of an offset (value + 128 would
// saturate vpmaddubsw); 2 blocks per step in the prepared layout of the 32-element formats.
// =================================================================================================================

template <int R>
void rows_iq4_nl(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nb, const uint8_t* pf, float* y) {
    using F = IQ4_NLV;
    const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl)));
    const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    // |w| . sign(x, w) per int32 lane (each vpmaddubsw pair <= 2 * 127 * 127: summed in int32, never in int16)
    auto dot = [&](__m256i wv, __m256i x) {
        return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(x, wv)), ones);
    };
    auto pair = [&](const uint8_t* const* wp, const uint8_t* a) {
        const __m256i xlo = _mm256_load_si256(reinterpret_cast<const __m256i*>(a));
        const __m256i xhi = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 32));
        const __m256 dx = _mm256_load_ps(reinterpret_cast<const float*>(a + 96));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = wp[r];
            const __m256i q = _mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + F::kQs))),
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + F::kBytes + F::kQs)), 1);
            const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(q, low4));
            const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(q, 4), low4));
            const __m256i s = _mm256_add_epi32(dot(lo, xlo), dot(hi, xhi));
            const uint32_t d2 = ld16(b) | static_cast<uint32_t>(ld16(b + F::kBytes)) << 16;
            const __m256 dw = _mm256_permutevar8x32_ps(
                _mm256_castps128_ps256(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d2)))), spread);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx), acc[r]);
        }
    };
    for_groups<R, F::kBytes, 2>(w, ws, nb, pf, act, kPair, pair);
    for (int r = 0; r < R; ++r) y[r] = hsum256(acc[r]);
}

void gemv_iq4_nl(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nb = k / 32;
    uint8_t* act = t_act.get(static_cast<size_t>((nb + 1) / 2) * kPair);
    prepare32<IQ4_NLV, 2>(static_cast<const uint8_t*>(xq), nb, act);
    row_tiles<4>(nrows, [&](int64_t r, auto R) { rows_iq4_nl<R>(wb + r * ws, ws, act, nb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// Q6_K x Q8_K (natural order): per 128-element half, 64 ql bytes and 32 qh bytes give four 32-element vectors
// (elements 0-31, 32-63, 64-95, 96-127 of the half; values 0..63, so vpmaddubsw cannot saturate); each 128-bit lane
// is one 16-element group whose int8 scale comes in as int16 lanes of vpmaddwd; q - 32 through Q8_K's sums of 16.
// =================================================================================================================

// vpshufb controls: step j (Q6_K: vector j of a half; IQ4_XS: pair j) takes int16 scale 2j (lane 0) and 2j + 1
// (lane 1) of the 8 in each lane.
struct ScalePairCtl {
    __m256i c[4];
    ScalePairCtl() {
        for (int j = 0; j < 4; ++j) {
            alignas(32) uint8_t b[32];
            for (int i = 0; i < 32; ++i) b[i] = static_cast<uint8_t>(2 * (2 * j + i / 16) + (i & 1));
            c[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
        }
    }
};

template <int R>
void rows_q6_K(const uint8_t* w, size_t ws, const uint8_t* x, int64_t nsb, const uint8_t* pf, float* y) {
    static const ScalePairCtl ctl;
    constexpr int kBytes = sizeof(block_q6_K);  // ql[128] at 0, qh[64] at 128, scales[16] at 192, d at 208
    const __m256i low4 = _mm256_set1_epi8(0x0F), hi2 = _mm256_set1_epi8(0x30);
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* xs = x + sb * kQ8KBytes;
        float dx;
        std::memcpy(&dx, xs, 4);
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + 260));
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * kBytes;
            prefetch(pf + r * ws + sb * kBytes, kBytes);
            const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
            __m256i is = _mm256_setzero_si256();
            for (int h = 0; h < 2; ++h) {
                const __m256i hsc = h ? _mm256_permute2x128_si256(sc, sc, 0x11) : _mm256_permute2x128_si256(sc, sc, 0);
                const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h));
                const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32));
                const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
                const __m256i q[4] = {
                    _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), hi2)),
                    _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), hi2)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hb, hi2)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                    _mm256_and_si256(_mm256_srli_epi16(hb, 2), hi2))};
                for (int j = 0; j < 4; ++j) {
                    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + 4 + 128 * h + 32 * j));
                    is = _mm256_add_epi32(
                        is, _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], xv), _mm256_shuffle_epi8(hsc, ctl.c[j])));
                }
            }
            // sum_g sc_g * (q . x - 32 * bsum_g)
            is = _mm256_sub_epi32(is, _mm256_slli_epi32(_mm256_madd_epi16(sc, bsums), 5));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(h2f(b + 208) * dx), acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) y[r] = hsum256(acc[r]);
}

void gemv_q6_K(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* x = static_cast<const uint8_t*>(xq);
    const int64_t nsb = k / 256;
    row_tiles<4>(nrows, [&](int64_t r, auto R) { rows_q6_K<R>(wb + r * ws, ws, x, nsb, wb + (r + R) * ws, y + r); });
}

// =================================================================================================================
// IQ4_XS x Q8_K: 32 quant bytes are two 32-element sub-blocks (lane 0: sub-block 2p, lane 1: 2p + 1; low nibbles
// elements 0-15, high 16-31); signed codebook values with the sign trick, the 6-bit scales as int16 lanes of vpmaddwd.
// =================================================================================================================

// Prepared activation per super-block: for each pair p, xlo[32] (elements 0-15 of sub-blocks 2p and 2p + 1) and
// xhi[32] (elements 16-31), then dx f32; 288 bytes.
constexpr size_t kSuperXS = 9 * 32;

void prepare_iq4_xs(const uint8_t* xq, int64_t nsb, uint8_t* out) {
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* src = xq + sb * kQ8KBytes;
        uint8_t* o = out + sb * kSuperXS;
        for (int ib = 0; ib < 8; ++ib) {
            const int pair = ib / 2, lane = ib % 2;
            std::memcpy(o + 64 * pair + 16 * lane, src + 4 + 32 * ib, 16);
            std::memcpy(o + 64 * pair + 32 + 16 * lane, src + 4 + 32 * ib + 16, 16);
        }
        std::memcpy(o + 256, src, 4);
    }
}

template <int R>
void rows_iq4_xs(const uint8_t* w, size_t ws, const uint8_t* act, int64_t nsb, const uint8_t* pf, float* y) {
    static const ScalePairCtl ctl;
    constexpr int kBytes = sizeof(block_iq4_xs);  // d at 0, scales_h at 2, scales_l[4] at 4, qs[128] at 8
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl)));
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* a = act + sb * kSuperXS;
        float dx;
        std::memcpy(&dx, a + 256, 4);
        for (int r = 0; r < R; ++r) {
            const uint8_t* b = w + r * ws + sb * kBytes;
            prefetch(pf + r * ws + sb * kBytes, kBytes);
            const __m128i ls =
                _mm_sub_epi8(_mm_cvtsi64_si128(static_cast<int64_t>(iq4_xs_scales(b))), _mm_set1_epi8(32));
            const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(ls));
            __m256i is = _mm256_setzero_si256();
            for (int p = 0; p < 4; ++p) {
                const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8 + 32 * p));
                const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(q, low4));
                const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(q, 4), low4));
                const __m256i xlo = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 64 * p));
                const __m256i xhi = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 64 * p + 32));
                const __m256i scp = _mm256_shuffle_epi8(sc, ctl.c[p]);
                // each int16 pair sum <= 2 * 127 * 127: lo and hi are scaled into int32 separately
                is = _mm256_add_epi32(
                    is, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(lo), _mm256_sign_epi8(xlo, lo)), scp));
                is = _mm256_add_epi32(
                    is, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(hi), _mm256_sign_epi8(xhi, hi)), scp));
            }
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(h2f(b) * dx), acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) y[r] = hsum256(acc[r]);
}

void gemv_iq4_xs(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, float* y) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const int64_t nsb = k / 256;
    uint8_t* act = t_act.get(static_cast<size_t>(nsb) * kSuperXS);
    prepare_iq4_xs(static_cast<const uint8_t*>(xq), nsb, act);
    row_tiles<4>(nrows,
                 [&](int64_t r, auto R) { rows_iq4_xs<R>(wb + r * ws, ws, act, nsb, wb + (r + R) * ws, y + r); });
}

}  // namespace

void fill_gemv(Kernels& t) {
    route<DType::Q4_0, gemv32<Q4_0V>>(t);
    route<DType::Q4_1, gemv32<Q4_1V>>(t);
    route<DType::Q5_0, gemv32<Q5_0V>>(t);
    route<DType::Q5_1, gemv32<Q5_1V>>(t);
    route<DType::Q8_0, gemv_q8_0>(t);
    route<DType::IQ4_NL, gemv_iq4_nl>(t);
    route<DType::Q4_K, gemv_k4<Q4_KV>>(t);
    route<DType::Q5_K, gemv_k4<Q5_KV>>(t);
    route<DType::Q6_K, gemv_q6_K>(t);
    route<DType::IQ4_XS, gemv_iq4_xs>(t);
}

}  // namespace lc::cpu::avx2
