// AVX-512 level: float kernels (through float_ops_impl.h), activation quantizers, and the table filler.
#include <immintrin.h>
#include <math.h>

#include <cstdint>
#include <cstring>
#include <new>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx512 {
namespace {

#include "cpu/x86/level_util.h"  // f2h, f2bf

struct S {
    using V = __m512;
    static constexpr int W = 16;
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static V set1(float f) { return _mm512_set1_ps(f); }
    static V zero() { return _mm512_setzero_ps(); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V div(V a, V b) { return _mm512_div_ps(a, b); }
    static V max(V a, V b) { return _mm512_max_ps(a, b); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static float hsum(V v) { return _mm512_reduce_add_ps(v); }
    static float hmax(V v) { return _mm512_reduce_max_ps(v); }
    static V load_f16(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static float h2f(uint16_t h) { return _cvtsh_ss(h); }
    static V in_range(V dist, V lim) {  // 0 where 0 <= dist < lim, else -inf
        const __mmask16 ok =
            _mm512_cmp_ps_mask(dist, _mm512_setzero_ps(), _CMP_GE_OQ) & _mm512_cmp_ps_mask(dist, lim, _CMP_LT_OQ);
        return _mm512_mask_blend_ps(ok, _mm512_set1_ps(-INFINITY), _mm512_setzero_ps());
    }
    // e^x: 2^n * p(r), x = n ln2 + r, |r| <= ln2/2, degree-7 Taylor polynomial (rel. error < 1e-7); scalef does the
    // 2^n with correct overflow to inf and underflow to 0. -inf -> 0.
    static V exp(V x) {
        x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
        const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
        r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
        V p = _mm512_set1_ps(1.0f / 5040);
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
        return _mm512_scalef_ps(p, n);
    }
};

// roundf: half away from zero (what llama.cpp's reference quantizers use)
inline __m512 round_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __m512 one = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(static_cast<int>(0x80000000u))),
                        _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    return _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ), t, one);
}

// One 32-block: d = amax / 127, q = roundf(x / d); returns sum(q) for Q8_1.
inline int q8_block(const float* x, uint16_t* dd, int8_t* qs, float* dout = nullptr) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    *dd = f2h(d);
    if (dout) *dout = d;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i i0 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v0, vid)));
    const __m512i i1 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v1, vid)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(i1));
    return _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
}

void quantize_q8_0(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_0*>(vy);
    for (int64_t i = 0; i < k / QK8_0; ++i) q8_block(x + i * QK8_0, &y[i].d, y[i].qs);
}

void quantize_q8_1(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < k / QK8_1; ++i) {
        float d;
        const int sum = q8_block(x + i * QK8_1, &y[i].d, y[i].qs, &d);
        y[i].s = f2h(static_cast<float>(sum) * d);  // the float d, before its fp16 rounding (as the reference)
    }
}

void quantize_q8_K(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int c = 0; c < 16; ++c) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + 16 * c)));
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        float max = 0.0f;  // the first element of largest magnitude, with its sign
        for (int c = 0; c < 16; ++c) {
            const __mmask16 hit =
                _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * c)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = x[16 * c + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        for (int c = 0; c < 16; ++c) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * c), vs));  // round to nearest even
            q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16 * c), _mm512_cvtepi32_epi8(q));
            y[i].bsums[c] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
        }
        y[i].d = 1.0f / iscale;
    }
}

void to_f16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < k; ++i) y[i] = f2h(x[i]);
}

void to_bf16(const float* x, void* vy, int64_t k) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        const __m512i v = _mm512_loadu_si512(x + i);
        const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(v, 16), _mm512_set1_epi32(1));
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(v, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
        // nan: keep it quiet (as ggml's reference): (x >> 16) | 64
        const __mmask16 nan = _mm512_cmp_epi32_mask(_mm512_and_si512(v, _mm512_set1_epi32(0x7FFFFFFF)),
                                                    _mm512_set1_epi32(0x7F800000), _MM_CMPINT_NLE);
        r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(v, 16), _mm512_set1_epi32(64)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvtepi32_epi16(r));
    }
    for (; i < k; ++i) y[i] = f2bf(x[i]);
}

// float kernels over S; its filler also sets the quantizers above
#include "cpu/float_ops_impl.h"

}  // namespace

}  // namespace lc::cpu::avx512

namespace lc::cpu {
void fill_avx512(Kernels& t) {
    avx512::fill_float_ops_impl(t);
    avx512::fill_gemm(t);
    avx512::fill_gemv(t);
}
}  // namespace lc::cpu
