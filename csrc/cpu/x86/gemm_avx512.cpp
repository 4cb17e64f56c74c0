// AVX-512 (F, BW, VL, VNNI) matmul kernels: Y[t, r] = dot(W row r, activation row t), register tiles for calls of
// fewer than 8 tokens (more: gemm_panels_avx512.cpp).
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

#include <cstring>
#include <new>
#include <type_traits>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx512 {
namespace {

#include "cpu/x86/level_util.h"  // ld16, ld32, h2f, unpack_k4_scales, Scratch, gemm<Family>
// after level_util.h, which it uses
#include "cpu/x86/formats_avx512.h"  // Q4_0F ... IQ4_NLF, F32L / F16L / BF16L, bcast256

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
                sx[t] = _mm512_mul_ps(pair_f16(xa + 2, xb + 2), _mm512_set1_ps(0.125f));  // 8 lanes per block
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
            if constexpr (F::kMin) mw = F::mins(wa, wb);
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

// Q4_K and Q5_K (kHigh) tile.
template <bool kHigh, int R, int C>
void tile_q45_K(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nsb, float* y, int64_t ys) {
    static const ScaleIdx idx;
    constexpr int kBytes = kHigh ? sizeof(block_q5_K) : sizeof(block_q4_K);
    __m512 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm512_setzero_ps();
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
            const __m512i hb = kHigh ? bcast256(wb + 16) : _mm512_setzero_si512();
            __m512i isum[C];
            for (int t = 0; t < C; ++t) isum[t] = _mm512_setzero_si512();
            for (int c = 0; c < 4; ++c) {
                const __m512i q = q45_K_chunk<kHigh>(wb, c, hb);
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

template <class F>
struct Fam32 {
    static constexpr int kR = 4, kC = 4, kRv = 8, kBlock = 32;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile32<F, R, C>(w, ws, x, xs, len, y, ys);
    }
};
template <bool kHigh>
struct FamQ45K {
    static constexpr int kR = 4, kC = 2, kRv = 4, kBlock = 256;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile_q45_K<kHigh, R, C>(w, ws, x, xs, len, y, ys);
    }
};
struct FamQ6K {
    static constexpr int kR = 4, kC = 2, kRv = 4, kBlock = 256;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile_q6_K<R, C>(w, ws, x, xs, len, y, ys);
    }
};
template <class L>
struct FamFloat {
    static constexpr int kR = 4, kC = 4, kRv = 8, kBlock = 1;
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
    fill_gemm_panels(t);  // n >= 8 tokens: token panels (and Q2_K, Q3_K, IQ4_XS entirely)
}

}  // namespace lc::cpu::avx512
