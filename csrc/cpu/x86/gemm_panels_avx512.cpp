// AVX-512 matrix-matrix product with tokens in the vector lanes ("token panels"), for n >= kPanelMinTokens.
//
// The activations of 16 tokens are transposed once per pass into a panel: for every 4 consecutive k elements, one
// zmm holds those 4 int8 of each of the 16 tokens (plus, per block, the 16 token scales and sums). A weight row is
// unpacked once per pass to bytes; each 4-byte group is broadcast to all lanes and one vpdpbusd does 4 multiply-adds
// for 16 tokens. The float epilogue (one per weight block) then serves 16 tokens at once instead of one, which is
// what limits the row-major tiles of gemm_avx512.cpp. Panels of two 16-token tiles x 4 weight rows per pass.
#include <immintrin.h>

#include <cstring>
#include <new>
#include <type_traits>

#include "cpu/x86/x86.h"
#include "quant/blocks.h"

namespace lc::cpu::avx512 {
namespace {

#include "cpu/x86/level_util.h"  // ld16, ld32, h2f, Scratch
// after level_util.h, which it uses
#include "cpu/x86/formats_avx512.h"  // Q4_0F ... IQ4_NLF, F32L / F16L / BF16L, bcast256

constexpr int64_t kPanelMinTokens = 8;
constexpr int kPanelTiles = 2;  // 16-token tiles per pass

thread_local Scratch t_panel;

// The pass structure of the quantized panel GEMMs: kPanelTiles tiles of 16 tokens per pass, build(t, nt, out) fills
// the panel of tokens [t, t + nt) (nt <= 16) at out (tile_bytes apart), then rows(t0, r, R, U, nt) computes R weight
// rows from r (tiles of kRows, then single rows) over the U tiles in use (R, U as std::integral_constant).
template <int kRows, class Build, class Rows>
void for_panels(int64_t n, int64_t nrows, size_t tile_bytes, uint8_t* panel, Build&& build, Rows&& rows) {
    static_assert(kPanelTiles == 2, "pass() below takes U = 1 or 2");
    for (int64_t t0 = 0; t0 < n; t0 += 16 * kPanelTiles) {
        int nt[kPanelTiles];
        int U = 0;
        for (int u = 0; u < kPanelTiles; ++u) {
            const int64_t left = n - t0 - 16 * u;
            nt[u] = left <= 0 ? 0 : left >= 16 ? 16 : static_cast<int>(left);
            if (nt[u] > 0) {
                build(t0 + 16 * u, nt[u], panel + u * tile_bytes);
                U = u + 1;
            }
        }
        auto pass = [&](auto Uc) {
            int64_t r = 0;
            for (; r + kRows <= nrows; r += kRows) rows(t0, r, std::integral_constant<int, kRows>{}, Uc, nt);
            for (; r < nrows; ++r) rows(t0, r, std::integral_constant<int, 1>{}, Uc, nt);
        };
        if (U == 2) {
            pass(std::integral_constant<int, 2>{});
        } else {
            pass(std::integral_constant<int, 1>{});
        }
    }
}

// ---- panel of 32-element activation blocks (Q8_0 / Q8_1) ----
// per block: P[8][64] (step s: elements 4s..4s+3 of each token), dx[16], nsum[16] (-o * sum of the block's q), s[16]
constexpr size_t kP32Block = 8 * 64 + 3 * 64;

template <class F>
void build_panel32(const uint8_t* x, size_t xs, int nt, int64_t nb, uint8_t* out) {
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t* pb = out + b * kP32Block;
        uint32_t* P = reinterpret_cast<uint32_t*>(pb);
        float* dx = reinterpret_cast<float*>(pb + 512);
        int32_t* ns = reinterpret_cast<int32_t*>(pb + 576);
        float* sx = reinterpret_cast<float*>(pb + 640);
        for (int t = 0; t < 16; ++t) {
            if (t >= nt) {
                for (int st = 0; st < 8; ++st) P[16 * st + t] = 0;
                dx[t] = sx[t] = 0.0f;
                ns[t] = 0;
                continue;
            }
            const uint8_t* xb = x + t * xs + b * F::kActBytes;
            const int8_t* q = reinterpret_cast<const int8_t*>(xb + F::kActQs);
            int sum = 0;
            for (int st = 0; st < 8; ++st) {
                P[16 * st + t] = ld32(xb + F::kActQs + 4 * st);
                sum += q[4 * st] + q[4 * st + 1] + q[4 * st + 2] + q[4 * st + 3];
            }
            dx[t] = h2f(xb);
            sx[t] = F::kMin ? h2f(xb + 2) : 0.0f;
            ns[t] = -F::kOffset * sum;
        }
    }
}

// Stores lanes [0, nt) of v to y[t * ys] (one weight row, 16 tokens).
inline void store_lanes(__m512 v, int nt, float* y, int64_t ys) {
    alignas(64) float tmp[16];
    _mm512_store_ps(tmp, v);
    for (int t = 0; t < nt; ++t) y[t * ys] = tmp[t];
}

// R weight rows x U token tiles over all nb blocks.
template <class F, int R, int U>
void panel32_rows(const uint8_t* w, size_t ws, const uint8_t* panel, size_t tile_bytes, int64_t nb, const int* nt,
                  float* y, int64_t ys) {
    __m512 acc[R][U];
    for (int r = 0; r < R; ++r)
        for (int u = 0; u < U; ++u) acc[r][u] = _mm512_setzero_ps();
    alignas(64) uint8_t q[R][64];
    float dw[R][2], mw[R][2];
    for (int64_t b = 0; b < nb; b += 2) {
        const int nh = b + 1 < nb ? 2 : 1;
        for (int r = 0; r < R; ++r) {
            const uint8_t* wa = w + r * ws + b * F::kBytes;
            const uint8_t* wb = nh == 2 ? wa + F::kBytes : wa;
            _mm512_store_si512(q[r], F::quants(wa, wb));
            dw[r][0] = h2f(wa);
            dw[r][1] = h2f(wb);
            if constexpr (F::kMin) mw[r][0] = h2f(wa + 2), mw[r][1] = h2f(wb + 2);
        }
        for (int h = 0; h < nh; ++h) {
            const uint8_t* pb = panel + (b + h) * kP32Block;
            __m512i ai[R][U];
            for (int u = 0; u < U; ++u) {
                const __m512i ns = _mm512_load_si512(pb + u * tile_bytes + 576);
                for (int r = 0; r < R; ++r) ai[r][u] = ns;
            }
            for (int st = 0; st < 8; ++st) {
                __m512i P[U];
                for (int u = 0; u < U; ++u) P[u] = _mm512_load_si512(pb + u * tile_bytes + 64 * st);
                for (int r = 0; r < R; ++r) {
                    int32_t v;
                    std::memcpy(&v, q[r] + 32 * h + 4 * st, 4);
                    const __m512i wv = _mm512_set1_epi32(v);
                    for (int u = 0; u < U; ++u) ai[r][u] = _mm512_dpbusd_epi32(ai[r][u], wv, P[u]);
                }
            }
            for (int u = 0; u < U; ++u) {
                const __m512 dxv = _mm512_load_ps(reinterpret_cast<const float*>(pb + u * tile_bytes + 512));
                __m512 sxv;
                if constexpr (F::kMin) sxv = _mm512_load_ps(reinterpret_cast<const float*>(pb + u * tile_bytes + 640));
                for (int r = 0; r < R; ++r) {
                    acc[r][u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[r][u]),
                                                _mm512_mul_ps(_mm512_set1_ps(dw[r][h]), dxv), acc[r][u]);
                    if constexpr (F::kMin) acc[r][u] = _mm512_fmadd_ps(_mm512_set1_ps(mw[r][h]), sxv, acc[r][u]);
                }
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int u = 0; u < U; ++u) store_lanes(acc[r][u], nt[u], y + 16 * u * ys + r, ys);
}

template <class F>
void panel_gemm32(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
                  int64_t ys) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(xq);
    const int64_t nb = k / 32;
    const size_t tile_bytes = static_cast<size_t>(nb) * kP32Block;
    uint8_t* panel = t_panel.get(tile_bytes * kPanelTiles);
    for_panels<4>(
        n, nrows, tile_bytes, panel,
        [&](int64_t t, int nt, uint8_t* out) { build_panel32<F>(xb + t * xs, xs, nt, nb, out); },
        [&](int64_t t0, int64_t r, auto R, auto U, const int* nt) {
            panel32_rows<F, R, U>(wb + r * ws, ws, panel, tile_bytes, nb, nt, y + t0 * ys + r, ys);
        });
}

// ---- panel of Q8_K super-blocks (for the K-quants) ----
// per super-block: P[64][64] (step = 4 elements), dx[16], F8[8][16] = dx * (bsum[2j] + bsum[2j+1]) per 32-group,
// F16[16][16] = dx * bsum[g] per 16-group
constexpr size_t kPKBlock = 64 * 64 + 64 + 8 * 64 + 16 * 64;

void build_panelK(const uint8_t* x, size_t xs, int nt, int64_t nsb, uint8_t* out) {
    for (int64_t b = 0; b < nsb; ++b) {
        uint8_t* pb = out + b * kPKBlock;
        uint32_t* P = reinterpret_cast<uint32_t*>(pb);
        float* dx = reinterpret_cast<float*>(pb + 4096);
        float* f8 = reinterpret_cast<float*>(pb + 4096 + 64);
        float* f16 = reinterpret_cast<float*>(pb + 4096 + 64 + 512);
        for (int t = 0; t < 16; ++t) {
            if (t >= nt) {
                for (int st = 0; st < 64; ++st) P[16 * st + t] = 0;
                dx[t] = 0.0f;
                for (int j = 0; j < 8; ++j) f8[16 * j + t] = 0.0f;
                for (int g = 0; g < 16; ++g) f16[16 * g + t] = 0.0f;
                continue;
            }
            const uint8_t* xb = x + t * xs + b * kQ8KBytes;
            for (int st = 0; st < 64; ++st) P[16 * st + t] = ld32(xb + 4 + 4 * st);
            float d;
            std::memcpy(&d, xb, 4);
            int16_t bs[16];
            std::memcpy(bs, xb + 260, 32);
            dx[t] = d;
            for (int j = 0; j < 8; ++j) f8[16 * j + t] = d * static_cast<float>(bs[2 * j] + bs[2 * j + 1]);
            for (int g = 0; g < 16; ++g) f16[16 * g + t] = d * static_cast<float>(bs[g]);
        }
    }
}

// A K-quant row super-block unpacked: 256 bytes of quants (natural order), group scales and correction coefficients.
struct KRow {
    alignas(64) uint8_t q[256];
    float gs[16];  // per group: integer scale (as float)
    float cc[16];  // per group: coefficient of the panel's dx * bsum term
    float d;
};

template <bool kHigh>
inline void unpack_q45_K_row(const uint8_t* wb, KRow* o) {
    const __m512i hb = kHigh ? bcast256(wb + 16) : _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) _mm512_store_si512(o->q + 64 * c, q45_K_chunk<kHigh>(wb, c, hb));
    uint64_t sc8, m8;
    unpack_k4_scales(wb + 4, &sc8, &m8);
    const float dmin = h2f(wb + 2);
    for (int j = 0; j < 8; ++j) {
        o->gs[j] = static_cast<float>((sc8 >> (8 * j)) & 0xFF);
        o->cc[j] = -dmin * static_cast<float>((m8 >> (8 * j)) & 0xFF);
    }
    o->d = h2f(wb);
}

inline void unpack_q6_K_row(const uint8_t* wb, KRow* o) {
    const __m512i low4 = _mm512_set1_epi8(0x0F), hi2 = _mm512_set1_epi8(0x30);
    const __m512i shl = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4), shr = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    for (int h = 0; h < 2; ++h) {
        const __m512i L = _mm512_loadu_si512(wb + 64 * h);
        const __m512i H = bcast256(wb + 128 + 32 * h);
        _mm512_store_si512(o->q + 128 * h, _mm512_or_si512(_mm512_and_si512(L, low4),
                                                           _mm512_and_si512(_mm512_sllv_epi64(H, shl), hi2)));
        _mm512_store_si512(o->q + 128 * h + 64, _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), low4),
                                                                _mm512_and_si512(_mm512_srlv_epi64(H, shr), hi2)));
    }
    const float d = h2f(wb + 208);
    const int8_t* sc = reinterpret_cast<const int8_t*>(wb + 192);
    for (int g = 0; g < 16; ++g) {
        o->gs[g] = static_cast<float>(sc[g]);
        o->cc[g] = -32.0f * d * static_cast<float>(sc[g]);  // the q - 32 offset, through the group sums
    }
    o->d = d;
}

// Q2_K: value = d * (sc & 15) * q - dmin * (sc >> 4), q in 0..3, 16 groups of 16.
inline void unpack_q2_K_row(const uint8_t* wb, KRow* o) {
    const __m256i three = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
        const __m256i Q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 16 + 32 * h));
        __m256i v[4];
        for (int j = 0; j < 4; ++j) v[j] = _mm256_and_si256(_mm256_srl_epi16(Q, _mm_cvtsi32_si128(2 * j)), three);
        // 64-byte stores: the kernels load these lines whole, and a load spanning two stores cannot be forwarded
        _mm512_store_si512(o->q + 128 * h, _mm512_inserti64x4(_mm512_castsi256_si512(v[0]), v[1], 1));
        _mm512_store_si512(o->q + 128 * h + 64, _mm512_inserti64x4(_mm512_castsi256_si512(v[2]), v[3], 1));
    }
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb)));
    _mm512_storeu_ps(o->gs, _mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(15))));
    _mm512_storeu_ps(o->cc, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4)), _mm512_set1_ps(-h2f(wb + 82))));
    o->d = h2f(wb + 80);
}

// Q3_K: value = d * (sc - 32) * ((q & 3) - (hbit ? 0 : 4)); stored as (q & 3) + 4 * hbit (0..7), offset 4.
inline void unpack_q3_K_row(const uint8_t* wb, KRow* o) {
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    const __m256i H = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb));
    for (int h = 0; h < 2; ++h) {
        const __m256i Q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 32 + 32 * h));
        __m256i v[4];
        for (int j = 0; j < 4; ++j) {
            const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(Q, _mm_cvtsi32_si128(2 * j)), three);
            const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(H, _mm_cvtsi32_si128(4 * h + j)), one);
            v[j] = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
        }
        _mm512_store_si512(o->q + 128 * h, _mm512_inserti64x4(_mm512_castsi256_si512(v[0]), v[1], 1));
        _mm512_store_si512(o->q + 128 * h + 64, _mm512_inserti64x4(_mm512_castsi256_si512(v[2]), v[3], 1));
    }
    // 16 six-bit scales: low 4 bits from byte g % 8 (high nibble for g >= 8), high 2 bits from byte 8 + g % 4
    // shifted by 2 * (g / 4)
    const uint8_t* sb = wb + 96;
    const float d = h2f(wb + 108);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // the 12 scale bytes end 2 bytes before the block does: a 16-byte load would read past the last block of a row
    alignas(16) uint8_t s16[16] = {};
    std::memcpy(s16, sb, 12);
    const __m512i b = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(s16)));  // bytes 0..11
    const __m512i lo =
        _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(_mm512_and_si512(lanes, _mm512_set1_epi32(7)), b),
                                           _mm512_slli_epi32(_mm512_srli_epi32(lanes, 3), 2)),
                         _mm512_set1_epi32(15));
    const __m512i hi = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_permutexvar_epi32(
                              _mm512_add_epi32(_mm512_and_si512(lanes, _mm512_set1_epi32(3)), _mm512_set1_epi32(8)), b),
                          _mm512_slli_epi32(_mm512_srli_epi32(lanes, 2), 1)),
        _mm512_set1_epi32(3));
    const __m512 sc =
        _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32)));
    _mm512_storeu_ps(o->gs, sc);
    _mm512_storeu_ps(o->cc, _mm512_mul_ps(sc, _mm512_set1_ps(-4.0f * d)));
    o->d = d;
}

// IQ4_XS: value = d * (ls - 32) * kvalues[nibble], 8 groups of 32; stored as kvalues + 128, offset 128.
inline void unpack_iq4_xs_row(const uint8_t* wb, KRow* o) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
                      static_cast<char>(153), static_cast<char>(166), static_cast<char>(181), static_cast<char>(197),
                      static_cast<char>(217), static_cast<char>(241)));
    __m256i v[8];
    for (int ib = 0; ib < 8; ++ib) {
        const __m256i b =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + 8 + 16 * ib)));
        const __m256i nib =
            _mm256_and_si256(_mm256_srlv_epi64(b, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(0x0F));
        v[ib] = _mm256_shuffle_epi8(table, nib);
    }
    for (int c = 0; c < 4; ++c)
        _mm512_store_si512(o->q + 64 * c, _mm512_inserti64x4(_mm512_castsi256_si512(v[2 * c]), v[2 * c + 1], 1));
    // ls(ib) = ((scales_l[ib / 2] >> 4 * (ib % 2)) & 15) | (((scales_h >> 2 * ib) & 3) << 4), lanes 0..7; written with
    // whole-vector stores, as the kernels load them (a vector load over scalar stores cannot be forwarded)
    const float d = h2f(wb);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i bl = _mm512_cvtepu8_epi32(_mm_cvtsi32_si128(static_cast<int>(ld32(wb + 4))));
    const __m512i lo =
        _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(_mm512_srli_epi32(lanes, 1), bl),
                                           _mm512_slli_epi32(_mm512_and_si512(lanes, _mm512_set1_epi32(1)), 2)),
                         _mm512_set1_epi32(15));
    const __m512i hi = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(ld16(wb + 2)), _mm512_slli_epi32(lanes, 1)),
                                        _mm512_set1_epi32(3));
    const __m512 sc =
        _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32)));
    _mm512_storeu_ps(o->gs, sc);
    _mm512_storeu_ps(o->cc, _mm512_mul_ps(sc, _mm512_set1_ps(-128.0f * d)));
    o->d = d;
}

// kG: group size (32: Q4_K/Q5_K with 8 groups; 16: Q6_K with 16 groups)
template <int kG, int R, int U, void (*Unpack)(const uint8_t*, KRow*), int kBytes>
void panelK_rows(const uint8_t* w, size_t ws, const uint8_t* panel, size_t tile_bytes, int64_t nsb, const int* nt,
                 float* y, int64_t ys) {
    constexpr int kGroups = 256 / kG, kSteps = kG / 4;
    constexpr size_t kCorr = kG == 32 ? 4096 + 64 : 4096 + 64 + 512;  // F8 or F16
    __m512 acc[R][U];
    for (int r = 0; r < R; ++r)
        for (int u = 0; u < U; ++u) acc[r][u] = _mm512_setzero_ps();
    KRow kr[R];
    for (int64_t sb = 0; sb < nsb; ++sb) {
        for (int r = 0; r < R; ++r) Unpack(w + r * ws + sb * kBytes, &kr[r]);
        const uint8_t* pb = panel + sb * kPKBlock;
        __m512 fs[R][U];
        for (int r = 0; r < R; ++r)
            for (int u = 0; u < U; ++u) fs[r][u] = _mm512_setzero_ps();
        for (int g = 0; g < kGroups; ++g) {
            __m512i ai[R][U];
            for (int r = 0; r < R; ++r)
                for (int u = 0; u < U; ++u) ai[r][u] = _mm512_setzero_si512();
            for (int st = 0; st < kSteps; ++st) {
                const int step = g * kSteps + st;
                __m512i P[U];
                for (int u = 0; u < U; ++u) P[u] = _mm512_load_si512(pb + u * tile_bytes + 64 * step);
                for (int r = 0; r < R; ++r) {
                    int32_t v;
                    std::memcpy(&v, kr[r].q + 4 * step, 4);
                    const __m512i wv = _mm512_set1_epi32(v);
                    for (int u = 0; u < U; ++u) ai[r][u] = _mm512_dpbusd_epi32(ai[r][u], wv, P[u]);
                }
            }
            for (int u = 0; u < U; ++u) {
                const __m512 corr =
                    _mm512_load_ps(reinterpret_cast<const float*>(pb + u * tile_bytes + kCorr + 64 * g));
                for (int r = 0; r < R; ++r) {
                    fs[r][u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[r][u]), _mm512_set1_ps(kr[r].gs[g]), fs[r][u]);
                    acc[r][u] = _mm512_fmadd_ps(_mm512_set1_ps(kr[r].cc[g]), corr, acc[r][u]);
                }
            }
        }
        for (int u = 0; u < U; ++u) {
            const __m512 dxv = _mm512_load_ps(reinterpret_cast<const float*>(pb + u * tile_bytes + 4096));
            for (int r = 0; r < R; ++r)
                acc[r][u] = _mm512_fmadd_ps(fs[r][u], _mm512_mul_ps(_mm512_set1_ps(kr[r].d), dxv), acc[r][u]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int u = 0; u < U; ++u) store_lanes(acc[r][u], nt[u], y + 16 * u * ys + r, ys);
}

template <int kG, void (*Unpack)(const uint8_t*, KRow*), int kBytes>
void panel_gemmK(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
                 int64_t ys) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(xq);
    const int64_t nsb = k / 256;
    const size_t tile_bytes = static_cast<size_t>(nsb) * kPKBlock;
    uint8_t* panel = t_panel.get(tile_bytes * kPanelTiles);
    for_panels<2>(
        n, nrows, tile_bytes, panel,
        [&](int64_t t, int nt, uint8_t* out) { build_panelK(xb + t * xs, xs, nt, nsb, out); },
        [&](int64_t t0, int64_t r, auto R, auto U, const int* nt) {
            panelK_rows<kG, R, U, Unpack, kBytes>(wb + r * ws, ws, panel, tile_bytes, nsb, nt, y + t0 * ys + r, ys);
        });
}

// ---- float formats: panels of f32 (one zmm = one k element of 16 tokens), weights broadcast one element at a time.
// k is processed in chunks so the panels stay in L2; partial sums go through y between chunks.
constexpr int64_t kFloatKC = 1024;

template <class L>
float elem(const uint8_t* p, int64_t i) {
    if constexpr (L::kSize == 4) {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        return f;
    } else if constexpr (std::is_same_v<L, F16L>) {
        return _cvtsh_ss(ld16(p + 2 * i));
    } else {
        const uint32_t u = static_cast<uint32_t>(ld16(p + 2 * i)) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
}

template <class L>
void build_panel_float(const uint8_t* x, size_t xs, int nt, int64_t i0, int64_t kc, float* out) {
    for (int64_t i = 0; i < kc; ++i)
        for (int t = 0; t < 16; ++t) out[16 * i + t] = t < nt ? elem<L>(x + t * xs, i0 + i) : 0.0f;
}

template <class L, int R, int U>
void panel_float_rows(const uint8_t* w, size_t ws, const float* panel, int64_t i0, int64_t kc, bool first,
                      const int* nt, float* y, int64_t ys, float* wbuf) {
    __m512 acc[R][U];
    for (int r = 0; r < R; ++r) {
        for (int u = 0; u < U; ++u) {
            if (first) {
                acc[r][u] = _mm512_setzero_ps();
            } else {
                alignas(64) float tmp[16] = {};
                for (int t = 0; t < nt[u]; ++t) tmp[t] = y[(16 * u + t) * ys + r];
                acc[r][u] = _mm512_load_ps(tmp);
            }
        }
    }
    // weight rows of this chunk as f32 (F16/BF16 converted once here, used for all 16 * U tokens)
    const float* wr[R];
    for (int r = 0; r < R; ++r) {
        if constexpr (L::kSize == 4) {
            wr[r] = reinterpret_cast<const float*>(w + r * ws) + i0;
        } else {
            float* dst = wbuf + r * kFloatKC;
            int64_t i = 0;
            for (; i + 16 <= kc; i += 16) _mm512_store_ps(dst + i, L::load(w + r * ws, i0 + i));
            for (; i < kc; ++i) dst[i] = elem<L>(w + r * ws, i0 + i);
            wr[r] = dst;
        }
    }
    const size_t tile = static_cast<size_t>(kFloatKC) * 16;
    for (int64_t i = 0; i < kc; ++i) {
        __m512 P[U];
        for (int u = 0; u < U; ++u) P[u] = _mm512_load_ps(panel + u * tile + 16 * i);
        for (int r = 0; r < R; ++r) {
            const __m512 wv = _mm512_set1_ps(wr[r][i]);
            for (int u = 0; u < U; ++u) acc[r][u] = _mm512_fmadd_ps(wv, P[u], acc[r][u]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int u = 0; u < U; ++u) store_lanes(acc[r][u], nt[u], y + 16 * u * ys + r, ys);
}

template <class L>
void panel_gemm_float(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n,
                      float* y, int64_t ys) {
    constexpr int kTiles = 2, kRows = 6;
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(xq);
    const size_t tile = static_cast<size_t>(kFloatKC) * 16;
    float* panel = reinterpret_cast<float*>(t_panel.get((tile * kTiles + kRows * kFloatKC) * sizeof(float)));
    float* wbuf = panel + tile * kTiles;
    for (int64_t t0 = 0; t0 < n; t0 += 16 * kTiles) {
        int nt[kTiles];
        int U = 0;
        for (int u = 0; u < kTiles; ++u) {
            const int64_t left = n - t0 - 16 * u;
            nt[u] = left <= 0 ? 0 : left >= 16 ? 16 : static_cast<int>(left);
            if (nt[u] > 0) U = u + 1;
        }
        float* yt = y + t0 * ys;
        for (int64_t i0 = 0; i0 < k; i0 += kFloatKC) {
            const int64_t kc = k - i0 < kFloatKC ? k - i0 : kFloatKC;
            for (int u = 0; u < U; ++u)
                build_panel_float<L>(xb + (t0 + 16 * u) * xs, xs, nt[u], i0, kc, panel + u * tile);
            const bool first = i0 == 0;
            int64_t r = 0;
            if (U == 2) {
                for (; r + kRows <= nrows; r += kRows)
                    panel_float_rows<L, kRows, 2>(wb + r * ws, ws, panel, i0, kc, first, nt, yt + r, ys, wbuf);
                for (; r < nrows; ++r)
                    panel_float_rows<L, 1, 2>(wb + r * ws, ws, panel, i0, kc, first, nt, yt + r, ys, wbuf);
            } else {
                for (; r + kRows <= nrows; r += kRows)
                    panel_float_rows<L, kRows, 1>(wb + r * ws, ws, panel, i0, kc, first, nt, yt + r, ys, wbuf);
                for (; r < nrows; ++r)
                    panel_float_rows<L, 1, 1>(wb + r * ws, ws, panel, i0, kc, first, nt, yt + r, ys, wbuf);
            }
        }
    }
}

// Matrix-vector (few tokens) for K-quants given by a KRow unpacker: elements in the lanes, vpdpbusd per 64 bytes,
// group scales applied per lane in float (a group is 4 or 8 int32 lanes), group corrections through Q8_K's bsums.
template <int kG, void (*Unpack)(const uint8_t*, KRow*), int kBytes>
void gemv_K(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
            int64_t ys) {
    constexpr int kMaxTok = 8;
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(xq);
    const int64_t nsb = k / 256;
    // lane i of chunk c (16 int32 lanes = 64 elements) belongs to group (64c + 4i) / kG
    __m512i gidx[4];
    for (int c = 0; c < 4; ++c) {
        alignas(64) int32_t a[16];
        for (int i = 0; i < 16; ++i) a[i] = (64 * c + 4 * i) / kG;
        gidx[c] = _mm512_load_si512(a);
    }
    KRow kr;
    for (int64_t t0 = 0; t0 < n; t0 += kMaxTok) {
        const int nt = static_cast<int>(n - t0 < kMaxTok ? n - t0 : kMaxTok);
        for (int64_t r = 0; r < nrows; ++r) {
            __m512 acc[kMaxTok];
            for (int t = 0; t < nt; ++t) acc[t] = _mm512_setzero_ps();
            for (int64_t sb = 0; sb < nsb; ++sb) {
                Unpack(wb + r * ws + sb * kBytes, &kr);
                const __m512 gs = _mm512_loadu_ps(kr.gs), cc = _mm512_loadu_ps(kr.cc);
                __m512i q[4];
                __m512 gsv[4];
                for (int c = 0; c < 4; ++c) {
                    q[c] = _mm512_load_si512(kr.q + 64 * c);
                    gsv[c] = _mm512_permutexvar_ps(gidx[c], gs);
                }
                for (int t = 0; t < nt; ++t) {
                    const uint8_t* xt = xb + (t0 + t) * xs + sb * kQ8KBytes;
                    float dx;
                    std::memcpy(&dx, xt, 4);
                    __m512 fc[4];  // independent per chunk: no dependency chain through the four chunks
                    for (int c = 0; c < 4; ++c) {
                        const __m512i p =
                            _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[c], _mm512_loadu_si512(xt + 4 + 64 * c));
                        fc[c] = _mm512_mul_ps(_mm512_cvtepi32_ps(p), gsv[c]);
                    }
                    const __m512 f = _mm512_add_ps(_mm512_add_ps(fc[0], fc[1]), _mm512_add_ps(fc[2], fc[3]));
                    // corrections: sum over groups of cc[g] * dx * (sum of the group's q); bsums are per 16
                    const __m512 bs = _mm512_cvtepi32_ps(
                        _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt + 260))));
                    __m512 corr;
                    if constexpr (kG == 16) {
                        corr = _mm512_mul_ps(cc, bs);
                    } else {  // group j of 32 = bsums 2j and 2j+1: spread cc[j] over both
                        corr = _mm512_mul_ps(
                            _mm512_permutexvar_ps(
                                _mm512_srli_epi32(
                                    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1),
                                cc),
                            bs);
                    }
                    acc[t] = _mm512_fmadd_ps(f, _mm512_set1_ps(kr.d * dx), acc[t]);
                    acc[t] = _mm512_fmadd_ps(corr, _mm512_set1_ps(dx), acc[t]);
                }
            }
            for (int t = 0; t < nt; ++t) y[(t0 + t) * ys + r] = _mm512_reduce_add_ps(acc[t]);
        }
    }
}

// The entries fill_gemm set (row tiles) serve calls of fewer than kPanelMinTokens tokens.
GemmFn g_small[kNumTypes];

template <DType D, GemmFn Panel>
void panel_or_small(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
                    int64_t ys) {
    if (n >= kPanelMinTokens) {
        Panel(w, ws, nrows, k, xq, xs, n, y, ys);
    } else {
        g_small[idx(D)](w, ws, nrows, k, xq, xs, n, y, ys);
    }
}

template <DType D, GemmFn Panel>
void route(Kernels& t) {
    g_small[idx(D)] = t.gemm[idx(D)];
    t.gemm[idx(D)] = panel_or_small<D, Panel>;
}

// Small n: the matrix-vector kernel above; n >= kPanelMinTokens: token panels.
template <GemmFn Small, GemmFn Panel>
void gemm_auto(const void* w, size_t ws, int64_t nrows, int64_t k, const void* xq, size_t xs, int64_t n, float* y,
               int64_t ys) {
    if (n >= kPanelMinTokens) {
        Panel(w, ws, nrows, k, xq, xs, n, y, ys);
    } else {
        Small(w, ws, nrows, k, xq, xs, n, y, ys);
    }
}

}  // namespace

void fill_gemm_panels(Kernels& t) {
    route<DType::F32, panel_gemm_float<F32L>>(t);
    route<DType::F16, panel_gemm_float<F16L>>(t);
    route<DType::BF16, panel_gemm_float<BF16L>>(t);
    route<DType::Q4_0, panel_gemm32<Q4_0F>>(t);
    route<DType::Q4_1, panel_gemm32<Q4_1F>>(t);
    route<DType::Q5_0, panel_gemm32<Q5_0F>>(t);
    route<DType::Q5_1, panel_gemm32<Q5_1F>>(t);
    route<DType::Q8_0, panel_gemm32<Q8_0F>>(t);
    route<DType::IQ4_NL, panel_gemm32<IQ4_NLF>>(t);
    route<DType::Q4_K, panel_gemmK<32, unpack_q45_K_row<false>, sizeof(block_q4_K)>>(t);
    route<DType::Q5_K, panel_gemmK<32, unpack_q45_K_row<true>, sizeof(block_q5_K)>>(t);
    route<DType::Q6_K, panel_gemmK<16, unpack_q6_K_row, sizeof(block_q6_K)>>(t);
    auto set = [&](DType d, GemmFn f) { t.gemm[idx(d)] = f; };
    set(DType::Q2_K, gemm_auto<gemv_K<16, unpack_q2_K_row, sizeof(block_q2_K)>,
                               panel_gemmK<16, unpack_q2_K_row, sizeof(block_q2_K)>>);
    set(DType::Q3_K, gemm_auto<gemv_K<16, unpack_q3_K_row, sizeof(block_q3_K)>,
                               panel_gemmK<16, unpack_q3_K_row, sizeof(block_q3_K)>>);
    set(DType::IQ4_XS, gemm_auto<gemv_K<32, unpack_iq4_xs_row, sizeof(block_iq4_xs)>,
                                 panel_gemmK<32, unpack_iq4_xs_row, sizeof(block_iq4_xs)>>);
}

}  // namespace lc::cpu::avx512
