// Helpers shared by the x86 kernel files: scalar loads and conversions, horizontal sums, scratch, the gemm row-tile
// driver. Included INSIDE each level's anonymous namespace (see csrc/cpu/README.md): every file compiled with its own
// ISA flags gets its own internal copy, so the linker can never hand one level's copy to another. No include guard on
// purpose (each namespace needs its own copy).
//
// Needs <cstring>, <new> and <immintrin.h> (F16C) before the namespace is opened, and "cpu/kernels.h".

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
inline uint16_t f2h(float f) { return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }
// float -> bf16 bits, rounding to nearest even; NaN stays a quiet NaN ((bits >> 16) | 64), as ggml's reference.
inline uint16_t f2bf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? static_cast<uint16_t>((u >> 16) | 64)
                                           : static_cast<uint16_t>((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
}

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

// ---- row-tile driver of the gemm files ----
// A family K gives tile<R, C>(w, ws, x, xs, len, y, ys) for R weight rows x C tokens over len blocks of kBlock
// elements, its tile sizes kR x kC, and kRv, the rows per tile for a single token (more rows share each activation
// load). gemm<K> covers row tiles of kR (then single rows) x token tiles of kC (then the remainder), kTokenBlock tokens
// per pass so their activations stay in L2.
constexpr int64_t kTokenBlock = 64;

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
        if (tn == 1) {  // matrix-vector: more rows per pass share each activation load
            for (; r + K::kRv <= nrows; r += K::kRv)
                K::template tile<K::kRv, 1>(wb + r * ws, ws, xt, xs, len, yt + r, ys);
        }
        for (; r + K::kR <= nrows; r += K::kR) token_tiles<K, K::kR>(wb + r * ws, ws, xt, xs, tn, len, yt + r, ys);
        for (; r < nrows; ++r) token_tiles<K, 1>(wb + r * ws, ws, xt, xs, tn, len, yt + r, ys);
    }
}
