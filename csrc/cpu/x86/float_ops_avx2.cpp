// AVX2 level: float kernels (through float_ops_impl.h), activation quantizers, and the table filler.
#include <immintrin.h>
#include <math.h>

#include <cstdint>
#include <cstring>
#include <new>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx2 {
namespace {

#include "cpu/x86/level_util.h"  // f2h, f2bf

struct S {
    using V = __m256;
    static constexpr int W = 8;
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static V set1(float f) { return _mm256_set1_ps(f); }
    static V zero() { return _mm256_setzero_ps(); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V div(V a, V b) { return _mm256_div_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static float hsum(V v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static float hmax(V v) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static V load_f16(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static float h2f(uint16_t h) { return _cvtsh_ss(h); }
    static V in_range(V dist, V lim) {  // 0 where 0 <= dist < lim, else -inf
        const V ok =
            _mm256_and_ps(_mm256_cmp_ps(dist, _mm256_setzero_ps(), _CMP_GE_OQ), _mm256_cmp_ps(dist, lim, _CMP_LT_OQ));
        return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_setzero_ps(), ok);
    }
    // e^x = 2^n * p(r) as in the AVX-512 level; 2^n built in the exponent bits, so x is clamped to the normal
    // range and below it the result is forced to 0.
    static V exp(V x) {
        const V lo = _mm256_set1_ps(-87.33654f);
        const V under = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);  // false also for nan... and -inf
        x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.72283f));
        const V n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        V r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
        r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
        V p = _mm256_set1_ps(1.0f / 5040);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
        // n in [-126, 128]: 2^n as (n + 127) << 23; n = 128 (x near 88.72) -> split as 2^127 * 2
        const __m256i ni = _mm256_cvtps_epi32(n);
        const __m256i n1 = _mm256_min_epi32(ni, _mm256_set1_epi32(127));
        const V s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
        const V s2 = _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, n1), _mm256_set1_epi32(127)), 23));
        return _mm256_and_ps(_mm256_mul_ps(_mm256_mul_ps(p, s1), s2), under);
    }
};

inline __m256 round_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    const __m256 frac = _mm256_andnot_ps(signmask, _mm256_sub_ps(v, t));
    const __m256 one = _mm256_or_ps(_mm256_and_ps(v, signmask), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(one, _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
}

// four int32 vectors (32 values, in [-128, 127]) -> 32 int8 in order
inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i v = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

inline int q8_block(const float* x, uint16_t* dd, int8_t* qs, float* dout) {
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    for (int j = 0; j < 4; ++j) {
        v[j] = _mm256_loadu_ps(x + 8 * j);
        m = _mm256_max_ps(m, _mm256_andnot_ps(signmask, v[j]));
    }
    const float amax = S::hmax(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    *dd = f2h(d);
    *dout = d;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; ++j) q[j] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[j], vid)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack32(q[0], q[1], q[2], q[3]));
    return hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
}

void quantize_q8_0(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_0*>(vy);
    float d;
    for (int64_t i = 0; i < k / QK8_0; ++i) q8_block(x + i * QK8_0, &y[i].d, y[i].qs, &d);
}

void quantize_q8_1(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < k / QK8_1; ++i) {
        float d;
        const int sum = q8_block(x + i * QK8_1, &y[i].d, y[i].qs, &d);
        y[i].s = f2h(static_cast<float>(sum) * d);
    }
}

void quantize_q8_K(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_K*>(vy);
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int c = 0; c < 32; ++c) m = _mm256_max_ps(m, _mm256_andnot_ps(signmask, _mm256_loadu_ps(x + 8 * c)));
        const float amax = S::hmax(m);
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        float max = 0.0f;
        for (int c = 0; c < 32; ++c) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(signmask, _mm256_loadu_ps(x + 8 * c)),
                                                             _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                max = x[8 * c + __builtin_ctz(static_cast<unsigned>(hit))];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int c = 0; c < 8; ++c) {  // 32 values per step
            __m256i q[4];
            for (int j = 0; j < 4; ++j) {
                q[j] =
                    _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * c + 8 * j), vs)), lim);
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + 32 * c), pack32(q[0], q[1], q[2], q[3]));
            y[i].bsums[2 * c] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[0], q[1])));
            y[i].bsums[2 * c + 1] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[2], q[3])));
        }
        y[i].d = 1.0f / iscale;
    }
}

void to_f16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < k; ++i) y[i] = f2h(x[i]);
}

void to_bf16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(v, 16), _mm256_set1_epi32(1));
        __m256i r = _mm256_srli_epi32(_mm256_add_epi32(v, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
        const __m256i nan =
            _mm256_cmpgt_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x7FFFFFFF)), _mm256_set1_epi32(0x7F800000));
        r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(v, 16), _mm256_set1_epi32(64)), nan);
        // 8 x uint32 (< 65536) -> 8 x uint16
        const __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), p);
    }
    for (; i < k; ++i) y[i] = f2bf(x[i]);
}

// float kernels over S; its filler also sets the quantizers above
#include "cpu/float_ops_impl.h"

}  // namespace

}  // namespace lc::cpu::avx2

namespace lc::cpu {
void fill_avx2(Kernels& t) {
    avx2::fill_float_ops_impl(t);
    avx2::fill_gemm(t);
    avx2::fill_gemv(t);
}
}  // namespace lc::cpu
