// AVX-512 (F, BW, VL, VNNI) matmul kernels: Y[t, r] = dot(W row r, activation row t).
//
// Register tiles of R weight rows x C tokens: each weight block is unpacked once per tile and used for C tokens, each
// activation block is loaded once per tile and used for R rows. Zen 5 runs 512-bit vpdpbusd at full width.
//
// 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) x Q8_0/Q8_1: two blocks per zmm. The weight quants are
// made unsigned (q + o, o = 8, 16, 128 or 0) so one vpdpbusd (u8 x s8) does 64 multiply-adds; the offset comes back
// as -o * sum(x), computed once per token block and used as the accumulator's start value. Each block's int32 sum
// is scaled by d_w * d_x in float (lanes 0-7: first block, 8-15: second).
//
// K-quants x Q8_K: a 256-element super-block is four 64-byte chunks; vpmaddubsw (u8 x s8 -> s16 pairs, no
// saturation: q <= 63, |x| <= 127) then vpdpwssd with the sub-block scales as int16 lanes accumulates the whole
// super-block in int32; one float FMA per super-block, plus one for the mins (via Q8_K's bsums).
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"  // gcc 12 flags _mm512_undefined_* inside its own headers
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstring>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx512 {
namespace {

constexpr int64_t kTokenBlock = 64;  // tokens per pass over a row tile (their activations stay in L2)

inline uint16_t ld16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline uint32_t ld32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline float h2f(const uint8_t* p) { return _cvtsh_ss(ld16(p)); }

// [fp16 at a] in lanes 0-7, [fp16 at b] in lanes 8-15, as floats.
inline __m512 pair_f16(const uint8_t* a, const uint8_t* b) {
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(static_cast<short>(ld16(a)))),
                                              _mm_set1_epi16(static_cast<short>(ld16(b))), 1);
    return _mm512_cvtph_ps(v);
}

// 16 packed nibbles of two 32-blocks -> 64 bytes: [lo(a) hi(a) lo(b) hi(b)] = elements 0..31 of a, then of b.
inline __m512i nibbles_pair(const uint8_t* qa, const uint8_t* qb) {
    const __m256i va = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qa)));
    const __m256i vb = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qb)));
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(va), vb, 1);
    return _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)), _mm512_set1_epi8(0x0F));
}

// ---- 32-element formats: weight block traits ----
struct Q4_0F {
    static constexpr int kBytes = sizeof(block_q4_0), kOffset = 8, kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static __m512i quants(const uint8_t* a, const uint8_t* b) { return nibbles_pair(a + 2, b + 2); }
    static __m512 scales(const uint8_t* a, const uint8_t* b) { return pair_f16(a, b); }
    static __m512 mins(const uint8_t*, const uint8_t*) { return _mm512_setzero_ps(); }
};
struct Q4_1F {
    static constexpr int kBytes = sizeof(block_q4_1), kOffset = 0, kActBytes = sizeof(block_q8_1), kActQs = 4;
    static constexpr bool kMin = true;
    static __m512i quants(const uint8_t* a, const uint8_t* b) { return nibbles_pair(a + 4, b + 4); }
    static __m512 scales(const uint8_t* a, const uint8_t* b) { return pair_f16(a, b); }
    static __m512 mins(const uint8_t* a, const uint8_t* b) { return pair_f16(a + 2, b + 2); }
};
inline __m512i add_high_bits(__m512i q, const uint8_t* qha, const uint8_t* qhb) {
    const __mmask64 m = static_cast<__mmask64>(ld32(qha)) | (static_cast<__mmask64>(ld32(qhb)) << 32);
    return _mm512_mask_add_epi8(q, m, q, _mm512_set1_epi8(0x10));
}
struct Q5_0F {
    static constexpr int kBytes = sizeof(block_q5_0), kOffset = 16, kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static __m512i quants(const uint8_t* a, const uint8_t* b) {
        return add_high_bits(nibbles_pair(a + 6, b + 6), a + 2, b + 2);
    }
    static __m512 scales(const uint8_t* a, const uint8_t* b) { return pair_f16(a, b); }
    static __m512 mins(const uint8_t*, const uint8_t*) { return _mm512_setzero_ps(); }
};
struct Q5_1F {
    static constexpr int kBytes = sizeof(block_q5_1), kOffset = 0, kActBytes = sizeof(block_q8_1), kActQs = 4;
    static constexpr bool kMin = true;
    static __m512i quants(const uint8_t* a, const uint8_t* b) {
        return add_high_bits(nibbles_pair(a + 8, b + 8), a + 4, b + 4);
    }
    static __m512 scales(const uint8_t* a, const uint8_t* b) { return pair_f16(a, b); }
    static __m512 mins(const uint8_t* a, const uint8_t* b) { return pair_f16(a + 2, b + 2); }
};
struct Q8_0F {
    static constexpr int kBytes = sizeof(block_q8_0), kOffset = 128, kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static __m512i quants(const uint8_t* a, const uint8_t* b) {
        const __m512i v =
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2))),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)), 1);
        return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));  // int8 w -> uint8 w + 128
    }
    static __m512 scales(const uint8_t* a, const uint8_t* b) { return pair_f16(a, b); }
    static __m512 mins(const uint8_t*, const uint8_t*) { return _mm512_setzero_ps(); }
};
struct IQ4_NLF {
    static constexpr int kBytes = sizeof(block_iq4_nl), kOffset = 128, kActBytes = sizeof(block_q8_0), kActQs = 2;
    static constexpr bool kMin = false;
    static __m512i quants(const uint8_t* a, const uint8_t* b) {
        // codebook + 128 as uint8, looked up per 128-bit lane
        const __m512i table = _mm512_broadcast_i32x4(
            _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
                          static_cast<char>(153), static_cast<char>(166), static_cast<char>(181),
                          static_cast<char>(197), static_cast<char>(217), static_cast<char>(241)));
        return _mm512_shuffle_epi8(table, nibbles_pair(a + 2, b + 2));
    }
    static __m512 scales(const uint8_t* a, const uint8_t* b) { return pair_f16(a, b); }
    static __m512 mins(const uint8_t*, const uint8_t*) { return _mm512_setzero_ps(); }
};

// One R x C tile over all nb blocks of 32.
template <class F, int R, int C>
void tile32(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb, float* y, int64_t ys) {
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm512_setzero_ps();
    const __m512i off = _mm512_set1_epi8(static_cast<char>(F::kOffset));
    const __m512i zero = _mm512_setzero_si512();

    auto step = [&](int64_t b, bool single) {
        __m512i xv[C], nc[C];
        __m512 dx[C], sx[C];
        for (int t = 0; t < C; ++t) {
            const uint8_t* xa = x + t * xs + b * F::kActBytes;
            const uint8_t* xb = single ? xa : xa + F::kActBytes;
            const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xa + F::kActQs));
            const __m256i hi =
                single ? _mm256_setzero_si256() : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + F::kActQs));
            xv[t] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
            dx[t] = pair_f16(xa, xb);
            if (single) dx[t] = _mm512_maskz_mov_ps(0x00FF, dx[t]);
            if constexpr (F::kMin) {
                sx[t] = pair_f16(xa + 2, xb + 2);
                if (single) sx[t] = _mm512_maskz_mov_ps(0x00FF, sx[t]);
            }
            if constexpr (F::kOffset != 0) nc[t] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, off, xv[t]));
        }
        for (int r = 0; r < R; ++r) {
            const uint8_t* wa = w + r * ws + b * F::kBytes;
            const uint8_t* wb = single ? wa : wa + F::kBytes;
            const __m512i q = F::quants(wa, wb);
            const __m512 dw = F::scales(wa, wb);
            __m512 mw;
            if constexpr (F::kMin) mw = _mm512_mul_ps(F::mins(wa, wb), _mm512_set1_ps(0.125f));  // 8 lanes per block
            for (int t = 0; t < C; ++t) {
                const __m512i p = _mm512_dpbusd_epi32(F::kOffset != 0 ? nc[t] : zero, q, xv[t]);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, dx[t]), acc[r][t]);
                if constexpr (F::kMin) acc[r][t] = _mm512_fmadd_ps(mw, sx[t], acc[r][t]);
            }
        }
    };
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) step(b, false);
    if (b < nb) step(b, true);
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// ---- K-quants x Q8_K ----

constexpr int kQ8KBytes = sizeof(block_q8_K);  // d f32 at 0, qs at 4, bsums at 260

// Q4_K / Q5_K: 8 six-bit scales and mins from the 12 packed bytes, as two little-endian 8-byte words.
inline void unpack_k4_scales(const uint8_t* s, uint64_t* sc, uint64_t* mn) {
    const uint32_t u0 = ld32(s), u1 = ld32(s + 4), u2 = ld32(s + 8);
    const uint32_t sc_lo = u0 & 0x3f3f3f3f, sc_hi = (u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4);
    const uint32_t m_lo = u1 & 0x3f3f3f3f, m_hi = ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4);
    *sc = sc_lo | (static_cast<uint64_t>(sc_hi) << 32);
    *mn = m_lo | (static_cast<uint64_t>(m_hi) << 32);
}

// Index vectors that spread int16 scales over the 32 int16 lanes of a chunk's vpmaddubsw result.
struct ScaleIdx {
    __m512i k4[4];  // Q4_K/Q5_K chunk c: lanes 0-15 -> scale 2c, 16-31 -> 2c+1
    __m512i k6[4];  // Q6_K chunk c: lanes 8g..8g+7 -> scale 4c+g
    ScaleIdx() {
        for (int c = 0; c < 4; ++c) {
            alignas(64) int16_t a[32], b[32];
            for (int i = 0; i < 32; ++i) {
                a[i] = static_cast<int16_t>(2 * c + i / 16);
                b[i] = static_cast<int16_t>(4 * c + i / 8);
            }
            k4[c] = _mm512_load_si512(a);
            k6[c] = _mm512_load_si512(b);
        }
    }
};

inline __m512i bcast256(const uint8_t* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Q4_K and Q5_K (kHigh) tile.
template <bool kHigh, int R, int C>
void tile_q45_K(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nsb, float* y, int64_t ys) {
    static const ScaleIdx idx;
    constexpr int kBytes = kHigh ? sizeof(block_q5_K) : sizeof(block_q4_K);
    constexpr int kQs = kHigh ? 48 : 16;
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm512_setzero_ps();
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i nib_shift = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
    for (int64_t sb = 0; sb < nsb; ++sb) {
        float dx[C];
        __m256i bsums[C];
        const uint8_t* xb[C];
        for (int t = 0; t < C; ++t) {
            xb[t] = x + t * xs + sb * kQ8KBytes;
            std::memcpy(&dx[t], xb[t], 4);
            bsums[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t] + 260));
        }
        for (int r = 0; r < R; ++r) {
            const uint8_t* wb = w + r * ws + sb * kBytes;
            const float d = h2f(wb), dmin = h2f(wb + 2);
            uint64_t sc8, m8;
            unpack_k4_scales(wb + 4, &sc8, &m8);
            const __m512i sc16 =
                _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc8))));
            const __m128i mm8 = _mm_cvtsi64_si128(static_cast<int64_t>(m8));
            const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mm8, mm8));  // m0 m0 m1 m1 ... per bsum
            __m512i hb;
            if constexpr (kHigh) hb = bcast256(wb + 16);
            __m512i isum[C];
            for (int t = 0; t < C; ++t) isum[t] = _mm512_setzero_si512();
            for (int c = 0; c < 4; ++c) {
                __m512i q = _mm512_and_si512(_mm512_srlv_epi64(bcast256(wb + kQs + 32 * c), nib_shift), low4);
                if constexpr (kHigh) {
                    const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                                            _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1))), 1);
                    q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(hb, bits), q, _mm512_set1_epi8(0x10));
                }
                const __m512i s = _mm512_permutexvar_epi16(idx.k4[c], sc16);
                for (int t = 0; t < C; ++t) {
                    const __m512i xv = _mm512_loadu_si512(xb[t] + 4 + 64 * c);
                    isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(q, xv), s);
                }
            }
            for (int t = 0; t < C; ++t) {
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_set1_ps(d * dx[t]), acc[r][t]);
                const __m256 mins = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums[t], m16));
                acc[r][t] = _mm512_fmadd_ps(_mm512_zextps256_ps512(mins), _mm512_set1_ps(-dmin * dx[t]), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <int R, int C>
void tile_q6_K(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nsb, float* y, int64_t ys) {
    static const ScaleIdx idx;
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm512_setzero_ps();
    const __m512i low4 = _mm512_set1_epi8(0x0F), hi2 = _mm512_set1_epi8(0x30);
    const __m512i shl = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4), shr = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    for (int64_t sb = 0; sb < nsb; ++sb) {
        float dx[C];
        __m256i bsums[C];
        const uint8_t* xb[C];
        for (int t = 0; t < C; ++t) {
            xb[t] = x + t * xs + sb * kQ8KBytes;
            std::memcpy(&dx[t], xb[t], 4);
            bsums[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t] + 260));
        }
        for (int r = 0; r < R; ++r) {
            const uint8_t* wb = w + r * ws + sb * sizeof(block_q6_K);
            const float d = h2f(wb + 208);
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + 192)));
            const __m512i sc512 = _mm512_castsi256_si512(sc16);
            __m512i isum[C];
            for (int t = 0; t < C; ++t) isum[t] = _mm512_setzero_si512();
            for (int h = 0; h < 2; ++h) {
                const __m512i L = _mm512_loadu_si512(wb + 64 * h);
                const __m512i H = bcast256(wb + 128 + 32 * h);
                const __m512i qa =
                    _mm512_or_si512(_mm512_and_si512(L, low4), _mm512_and_si512(_mm512_sllv_epi64(H, shl), hi2));
                const __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), low4),
                                                   _mm512_and_si512(_mm512_srlv_epi64(H, shr), hi2));
                for (int half = 0; half < 2; ++half) {
                    const int c = 2 * h + half;
                    const __m512i q = half ? qb : qa;
                    const __m512i s = _mm512_permutexvar_epi16(idx.k6[c], sc512);
                    for (int t = 0; t < C; ++t) {
                        const __m512i xv = _mm512_loadu_si512(xb[t] + 4 + 64 * c);
                        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(q, xv), s);
                    }
                }
            }
            for (int t = 0; t < C; ++t) {
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_set1_ps(d * dx[t]), acc[r][t]);
                // the -32 offset: -32 * sum over groups of scale * bsum
                const __m256 corr = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums[t], sc16));
                acc[r][t] =
                    _mm512_fmadd_ps(_mm512_zextps256_ps512(corr), _mm512_set1_ps(-32.0f * d * dx[t]), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// ---- float formats: F32 x F32, F16 x F16, BF16 x BF16 ----
struct F32L {
    static constexpr int kSize = 4;
    static __m512 load(const uint8_t* p, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i); }
    static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) {
        return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + i);
    }
};
struct F16L {
    static constexpr int kSize = 2;
    static __m512 load(const uint8_t* p, int64_t i) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
    }
    static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * i));
    }
};
struct BF16L {
    static constexpr int kSize = 2;
    static __m512 load(const uint8_t* p, int64_t i) {
        const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    }
    static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 m) {
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p + 2 * i)), 16));
    }
};

template <class L, int R, int C>
void tile_float(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t k, float* y, int64_t ys) {
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        __m512 xv[C];
        for (int t = 0; t < C; ++t) xv[t] = L::load(x + t * xs, i);
        for (int r = 0; r < R; ++r) {
            const __m512 wv = L::load(w + r * ws, i);
            for (int t = 0; t < C; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    if (i < k) {
        const __mmask16 m = static_cast<__mmask16>((1u << (k - i)) - 1);
        __m512 xv[C];
        for (int t = 0; t < C; ++t) xv[t] = L::load_tail(x + t * xs, i, m);
        for (int r = 0; r < R; ++r) {
            const __m512 wv = L::load_tail(w + r * ws, i, m);
            for (int t = 0; t < C; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// ---- drivers: row tiles of kR (then single rows) x token tiles of kC (then the remainder) ----

template <class K, int R>
void token_tiles(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t n, int64_t len, float* y,
                 int64_t ys) {
    int64_t t = 0;
    for (; t + K::kC <= n; t += K::kC) K::template tile<R, K::kC>(w, ws, x + t * xs, xs, len, y + t * ys, ys);
    const int64_t rem = n - t;
    x += t * xs;
    y += t * ys;
    if (rem == 1) K::template tile<R, 1>(w, ws, x, xs, len, y, ys);
    if constexpr (K::kC > 2) {
        if (rem == 2) K::template tile<R, 2>(w, ws, x, xs, len, y, ys);
    }
    if constexpr (K::kC > 3) {
        if (rem == 3) K::template tile<R, 3>(w, ws, x, xs, len, y, ys);
    }
}

template <class K>
void gemm(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
          int64_t ys) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(xq);
    const int64_t len = k / K::kBlock;
    for (int64_t t0 = 0; t0 < n; t0 += kTokenBlock) {
        const int64_t tn = n - t0 < kTokenBlock ? n - t0 : kTokenBlock;
        const uint8_t* xt = xb + t0 * xs;
        float* yt = y + t0 * ys;
        int64_t r = 0;
        for (; r + K::kR <= nrows; r += K::kR) token_tiles<K, K::kR>(wb + r * ws, ws, xt, xs, tn, len, yt + r, ys);
        for (; r < nrows; ++r) token_tiles<K, 1>(wb + r * ws, ws, xt, xs, tn, len, yt + r, ys);
    }
}

template <class F>
struct Fam32 {
    static constexpr int kR = 4, kC = 4, kBlock = 32;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile32<F, R, C>(w, ws, x, xs, len, y, ys);
    }
};
template <bool kHigh>
struct FamQ45K {
    static constexpr int kR = 4, kC = 2, kBlock = 256;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile_q45_K<kHigh, R, C>(w, ws, x, xs, len, y, ys);
    }
};
struct FamQ6K {
    static constexpr int kR = 4, kC = 2, kBlock = 256;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile_q6_K<R, C>(w, ws, x, xs, len, y, ys);
    }
};
template <class L>
struct FamFloat {
    static constexpr int kR = 4, kC = 4, kBlock = 1;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile_float<L, R, C>(w, ws, x, xs, len, y, ys);
    }
};

}  // namespace

void fill_gemm(Kernels& t) {
    auto set = [&](DType d, GemmFn f) { t.gemm[static_cast<int>(d)] = f; };
    set(DType::F32, gemm<FamFloat<F32L>>);
    set(DType::F16, gemm<FamFloat<F16L>>);
    set(DType::BF16, gemm<FamFloat<BF16L>>);
    set(DType::Q4_0, gemm<Fam32<Q4_0F>>);
    set(DType::Q4_1, gemm<Fam32<Q4_1F>>);
    set(DType::Q5_0, gemm<Fam32<Q5_0F>>);
    set(DType::Q5_1, gemm<Fam32<Q5_1F>>);
    set(DType::Q8_0, gemm<Fam32<Q8_0F>>);
    set(DType::IQ4_NL, gemm<Fam32<IQ4_NLF>>);
    set(DType::Q4_K, gemm<FamQ45K<false>>);
    set(DType::Q5_K, gemm<FamQ45K<true>>);
    set(DType::Q6_K, gemm<FamQ6K>);
}

}  // namespace lc::cpu::avx512
