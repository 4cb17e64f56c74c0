// AVX-512 weight-format traits shared by the matmul files of the level (gemm_avx512.cpp: register tiles,
// gemm_panels_avx512.cpp: token panels): how a format's blocks become unsigned bytes and scales, and how a float
// format's elements load. Included inside each file's anonymous namespace of lc::cpu::avx512, after level_util.h
// (see cpu/README.md on why level code is not shared through ordinary inline functions).

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

constexpr int kQ8KBytes = sizeof(block_q8_K);  // d f32 at 0, qs at 4, bsums at 260

inline __m512i bcast256(const uint8_t* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
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

// Q4_K / Q5_K (kHigh): 64-byte chunk c (elements 64c .. 64c + 63) of super-block wb's quants as bytes in natural
// order (the low nibbles of 32 bytes, then their high nibbles; Q5_K adds 16 where its high bit is set). hb: Q5_K's
// high bits broadcast, bcast256(wb + 16) (ignored for Q4_K).
template <bool kHigh>
inline __m512i q45_K_chunk(const uint8_t* wb, int c, __m512i hb) {
    constexpr int kQs = kHigh ? 48 : 16;
    const __m512i nib_shift = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
    __m512i q = _mm512_and_si512(_mm512_srlv_epi64(bcast256(wb + kQs + 32 * c), nib_shift), _mm512_set1_epi8(0x0F));
    if constexpr (kHigh) {
        const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                                _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1))), 1);
        q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(hb, bits), q, _mm512_set1_epi8(0x10));
    }
    return q;
}
