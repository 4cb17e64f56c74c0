// AVX2 (+FMA, F16C) matmul kernels: the AVX-512 design on 256-bit vectors without VNNI.
//
// 32-element formats: one block per ymm. Unsigned-quant formats (Q4_0, Q5_0 with offset 8/16; Q4_1, Q5_1) use
// vpmaddubsw (u8 x s8 -> s16 pairs; q <= 31 so no saturation) + vpmaddwd(1) -> int32, with the offset removed as
// o * sum(x) per token block. Signed formats (Q8_0, IQ4_NL) use the sign trick: |w| x sign(x, w).
// K-quants: vpmaddubsw, then vpmaddwd with the sub-block scale as int16, int32 sums per super-block, one FMA.
#include <immintrin.h>

#include <cstring>
#include <new>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx2 {
namespace {

#include "cpu/x86/level_util.h"  // ld16, ld32, h2f, hsum256, unpack_k4_scales, Scratch, gemm<Family>

inline __m256i loadu(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// 16 bytes of nibbles -> 32 bytes: low nibbles (elements 0..15), then high nibbles (16..31).
inline __m256i nibbles(const uint8_t* q) {
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
    return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(0x0F));
}
// Q5: add 16 where bit j of the 32-bit qh is set (byte j of the block).
inline __m256i high_bits(uint32_t qh) {
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), shuf);  // byte j = byte j/8 of qh
    const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
    b = _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x10));
}

struct Q4_0F {
    static constexpr int kBytes = sizeof(block_q4_0), kActBytes = sizeof(block_q8_0), kActQs = 2, kOffset = 8;
    static constexpr bool kMin = false, kSigned = false;
    static __m256i quants(const uint8_t* b) { return nibbles(b + 2); }
};
struct Q4_1F {
    static constexpr int kBytes = sizeof(block_q4_1), kActBytes = sizeof(block_q8_1), kActQs = 4, kOffset = 0;
    static constexpr bool kMin = true, kSigned = false;
    static __m256i quants(const uint8_t* b) { return nibbles(b + 4); }
};
struct Q5_0F {
    static constexpr int kBytes = sizeof(block_q5_0), kActBytes = sizeof(block_q8_0), kActQs = 2, kOffset = 16;
    static constexpr bool kMin = false, kSigned = false;
    static __m256i quants(const uint8_t* b) { return _mm256_or_si256(nibbles(b + 6), high_bits(ld32(b + 2))); }
};
struct Q5_1F {
    static constexpr int kBytes = sizeof(block_q5_1), kActBytes = sizeof(block_q8_1), kActQs = 4, kOffset = 0;
    static constexpr bool kMin = true, kSigned = false;
    static __m256i quants(const uint8_t* b) { return _mm256_or_si256(nibbles(b + 8), high_bits(ld32(b + 4))); }
};
struct Q8_0F {
    static constexpr int kBytes = sizeof(block_q8_0), kActBytes = sizeof(block_q8_0), kActQs = 2, kOffset = 0;
    static constexpr bool kMin = false, kSigned = true;
    static __m256i quants(const uint8_t* b) { return loadu(b + 2); }
};
struct IQ4_NLF {
    static constexpr int kBytes = sizeof(block_iq4_nl), kActBytes = sizeof(block_q8_0), kActQs = 2, kOffset = 0;
    static constexpr bool kMin = false, kSigned = true;
    static __m256i quants(const uint8_t* b) {
        const __m256i table =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl)));
        return _mm256_shuffle_epi8(table, nibbles(b + 2));
    }
};

template <class F, int R, int C>
void tile32(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb, float* y, int64_t ys) {
    __m256 acc[R][C];
    float macc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm256_setzero_ps(), macc[r][t] = 0.0f;
    const __m256i ones16 = _mm256_set1_epi16(1);
    const __m256i off = _mm256_set1_epi8(static_cast<char>(F::kOffset));
    for (int64_t b = 0; b < nb; ++b) {
        __m256i xv[C], cx[C];
        float dx[C], sx[C];
        for (int t = 0; t < C; ++t) {
            const uint8_t* xb = x + t * xs + b * F::kActBytes;
            xv[t] = loadu(xb + F::kActQs);
            dx[t] = h2f(xb);
            if constexpr (F::kMin) sx[t] = h2f(xb + 2);
            if constexpr (F::kOffset != 0) cx[t] = _mm256_madd_epi16(_mm256_maddubs_epi16(off, xv[t]), ones16);
        }
        for (int r = 0; r < R; ++r) {
            const uint8_t* wb = w + r * ws + b * F::kBytes;
            const __m256i q = F::quants(wb);
            const float dw = h2f(wb);
            __m256i aq;
            if constexpr (F::kSigned) aq = _mm256_sign_epi8(q, q);
            for (int t = 0; t < C; ++t) {
                __m256i p;
                if constexpr (F::kSigned) {
                    p = _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(xv[t], q)), ones16);
                } else {
                    p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv[t]), ones16);
                    if constexpr (F::kOffset != 0) p = _mm256_sub_epi32(p, cx[t]);
                }
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * dx[t]), acc[r][t]);
                if constexpr (F::kMin) macc[r][t] += h2f(wb + 2) * sx[t];
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) y[t * ys + r] = hsum256(acc[r][t]) + macc[r][t];
}

// ---- K-quants x Q8_K (d f32 at 0, qs at 4, bsums at 260) ----
constexpr int kQ8KBytes = sizeof(block_q8_K);

inline void unpack_k4_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
    uint64_t a, m;
    unpack_k4_scales(s, &a, &m);
    std::memcpy(sc, &a, 8);
    std::memcpy(mn, &m, 8);
}

template <bool kHigh, int R, int C>
void tile_q45_K(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nsb, float* y, int64_t ys) {
    constexpr int kBytes = kHigh ? sizeof(block_q5_K) : sizeof(block_q4_K);
    constexpr int kQs = kHigh ? 48 : 16;
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* xb[C];
        for (int t = 0; t < C; ++t) xb[t] = x + t * xs + sb * kQ8KBytes;
        for (int r = 0; r < R; ++r) {
            const uint8_t* wb = w + r * ws + sb * kBytes;
            uint8_t sc[8], mn[8];
            unpack_k4_scales(wb + 4, sc, mn);
            __m256i hb;
            if constexpr (kHigh) hb = loadu(wb + 16);
            __m256i isum[C];
            for (int t = 0; t < C; ++t) isum[t] = _mm256_setzero_si256();
            for (int c = 0; c < 4; ++c) {
                const __m256i v = loadu(wb + kQs + 32 * c);
                __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
                if constexpr (kHigh) {  // bit 2c of qh[l] for the low half, bit 2c+1 for the high half, moved to bit 4
                    const int j = 2 * c;
                    const __m256i hl = j <= 4 ? _mm256_slli_epi16(hb, 4 - j) : _mm256_srli_epi16(hb, j - 4);
                    const __m256i hh = j + 1 <= 4 ? _mm256_slli_epi16(hb, 3 - j) : _mm256_srli_epi16(hb, j - 3);
                    lo = _mm256_or_si256(lo, _mm256_and_si256(hl, bit4));
                    hi = _mm256_or_si256(hi, _mm256_and_si256(hh, bit4));
                }
                const __m256i s_lo = _mm256_set1_epi16(sc[2 * c]), s_hi = _mm256_set1_epi16(sc[2 * c + 1]);
                for (int t = 0; t < C; ++t) {
                    const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, loadu(xb[t] + 4 + 64 * c)), s_lo);
                    const __m256i p_hi =
                        _mm256_madd_epi16(_mm256_maddubs_epi16(hi, loadu(xb[t] + 4 + 64 * c + 32)), s_hi);
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(p_lo, p_hi));
                }
            }
            const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn));
            const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
            const float d = h2f(wb), dmin = h2f(wb + 2);
            for (int t = 0; t < C; ++t) {
                float dx;
                std::memcpy(&dx, xb[t], 4);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * dx), acc[r][t]);
                const __m256 mins = _mm256_cvtepi32_ps(_mm256_madd_epi16(loadu(xb[t] + 260), m16));
                acc[r][t] = _mm256_fmadd_ps(mins, _mm256_set1_ps(-dmin * dx), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) y[t * ys + r] = hsum256(acc[r][t]);
}

template <int R, int C>
void tile_q6_K(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nsb, float* y, int64_t ys) {
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x30);
    for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* xb[C];
        for (int t = 0; t < C; ++t) xb[t] = x + t * xs + sb * kQ8KBytes;
        for (int r = 0; r < R; ++r) {
            const uint8_t* wb = w + r * ws + sb * sizeof(block_q6_K);
            const int8_t* sc = reinterpret_cast<const int8_t*>(wb + 192);
            __m256i isum[C];
            for (int t = 0; t < C; ++t) isum[t] = _mm256_setzero_si256();
            for (int h = 0; h < 2; ++h) {
                const __m256i L0 = loadu(wb + 64 * h), L1 = loadu(wb + 64 * h + 32), H = loadu(wb + 128 + 32 * h);
                const __m256i q[4] = {
                    _mm256_or_si256(_mm256_and_si256(L0, low4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m3)),
                    _mm256_or_si256(_mm256_and_si256(L1, low4), _mm256_and_si256(_mm256_slli_epi16(H, 2), m3)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), low4), _mm256_and_si256(H, m3)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), low4),
                                    _mm256_and_si256(_mm256_srli_epi16(H, 2), m3)),
                };
                for (int c = 0; c < 4; ++c) {
                    const int g = 8 * h + 2 * c;  // groups g (first 16 elements) and g+1
                    const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
                    for (int t = 0; t < C; ++t) {
                        const __m256i xv = loadu(xb[t] + 4 + 128 * h + 32 * c);
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[c], xv), s));
                    }
                }
            }
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));
            const float d = h2f(wb + 208);
            for (int t = 0; t < C; ++t) {
                float dx;
                std::memcpy(&dx, xb[t], 4);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * dx), acc[r][t]);
                const __m256 corr = _mm256_cvtepi32_ps(_mm256_madd_epi16(loadu(xb[t] + 260), sc16));
                acc[r][t] = _mm256_fmadd_ps(corr, _mm256_set1_ps(-32.0f * d * dx), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) y[t * ys + r] = hsum256(acc[r][t]);
}

// ---- float formats ----
struct F32L {
    static __m256 load(const uint8_t* p, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + i); }
    static float at(const uint8_t* p, int64_t i) { return reinterpret_cast<const float*>(p)[i]; }
};
struct F16L {
    static __m256 load(const uint8_t* p, int64_t i) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
    }
    static float at(const uint8_t* p, int64_t i) { return _cvtsh_ss(ld16(p + 2 * i)); }
};
struct BF16L {
    static __m256 load(const uint8_t* p, int64_t i) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    }
    static float at(const uint8_t* p, int64_t i) {
        const uint32_t u = static_cast<uint32_t>(ld16(p + 2 * i)) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};

template <class L, int R, int C>
void tile_float(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t k, float* y, int64_t ys) {
    __m256 acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < C; ++t) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 xv[C];
        for (int t = 0; t < C; ++t) xv[t] = L::load(x + t * xs, i);
        for (int r = 0; r < R; ++r) {
            const __m256 wv = L::load(w + r * ws, i);
            for (int t = 0; t < C; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < C; ++t) {
            float s = hsum256(acc[r][t]);
            for (int64_t j = i; j < k; ++j) s += L::at(w + r * ws, j) * L::at(x + t * xs, j);
            y[t * ys + r] = s;
        }
    }
}

template <class F>
struct Fam32 {
    static constexpr int kR = 4, kRv = 4, kC = 2, kBlock = 32;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile32<F, R, C>(w, ws, x, xs, len, y, ys);
    }
};
template <bool kHigh>
struct FamQ45K {
    static constexpr int kR = 2, kRv = 2, kC = 2, kBlock = 256;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile_q45_K<kHigh, R, C>(w, ws, x, xs, len, y, ys);
    }
};
struct FamQ6K {
    static constexpr int kR = 2, kRv = 2, kC = 2, kBlock = 256;
    template <int R, int C>
    static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t len, float* y, int64_t ys) {
        tile_q6_K<R, C>(w, ws, x, xs, len, y, ys);
    }
};
template <class L>
struct FamFloat {
    static constexpr int kR = 4, kRv = 4, kC = 3, kBlock = 1;
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

}  // namespace lc::cpu::avx2
