// Scalar helpers shared by the x86 kernel files. Included INSIDE each level's anonymous namespace (see
// csrc/cpu/README.md): every file compiled with its own ISA flags gets its own internal copy, so the linker can
// never hand one level's copy to another. No include guard on purpose (each namespace needs its own copy).
//
// Needs <cstring>, <new> and <immintrin.h> (F16C) before the namespace is opened.

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

// Horizontal sums (every x86 level has AVX).
inline float hsum128(__m128 v) {
    const __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
inline float hsum256(__m256 v) { return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }

// Q4_K / Q5_K: the 8 six-bit scales and 8 mins packed in 12 bytes, as two little-endian 8-byte words.
inline void unpack_k4_scales(const uint8_t* s, uint64_t* sc, uint64_t* mn) {
    const uint32_t u0 = ld32(s), u1 = ld32(s + 4), u2 = ld32(s + 8);
    const uint32_t sc_lo = u0 & 0x3f3f3f3f, sc_hi = (u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4);
    const uint32_t m_lo = u1 & 0x3f3f3f3f, m_hi = ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4);
    *sc = sc_lo | (static_cast<uint64_t>(sc_hi) << 32);
    *mn = m_lo | (static_cast<uint64_t>(m_hi) << 32);
}

// Per-thread scratch (64-byte aligned) that only grows: no allocation once it has the size a model needs.
struct Scratch {
    uint8_t* p = nullptr;
    size_t n = 0;
    ~Scratch() { ::operator delete(p, std::align_val_t(64)); }
    uint8_t* get(size_t want) {
        if (want > n) {
            ::operator delete(p, std::align_val_t(64));
            p = static_cast<uint8_t*>(::operator new(want, std::align_val_t(64)));
            n = want;
        }
        return p;
    }
};
