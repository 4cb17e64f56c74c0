// The matrix product as one vec_dot per (weight row, token), and the table filler over a level's vd_<type> functions:
// what the generic level (generic/gemm.cpp) and NEON (arm/gemm_neon.cpp) share. Included INSIDE the level's
// anonymous namespace, after its vd_* functions and VecDotFn: each level gets its own copy, compiled with its own
// flags (csrc/cpu/README.md). No include guard on purpose.

template <VecDotFn VD>
void gemm_rows(const void* w, size_t w_stride, int64_t nrows, int64_t k, const void* xq, size_t xq_stride, int64_t n,
               float* y, int64_t y_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(xq);
    for (int64_t r = 0; r < nrows; ++r) {
        for (int64_t t = 0; t < n; ++t) y[t * y_stride + r] = VD(wb + r * w_stride, xb + t * xq_stride, k);
    }
}

inline void fill_vec_dot_gemm(Kernels& t) {
#define LC_GEMM(T, FN) t.gemm[static_cast<int>(DType::T)] = gemm_rows<FN>
    LC_GEMM(F32, vd_f32);
    LC_GEMM(F16, vd_f16);
    LC_GEMM(BF16, vd_bf16);
    LC_GEMM(Q4_0, vd_q4_0);
    LC_GEMM(Q4_1, vd_q4_1);
    LC_GEMM(Q5_0, vd_q5_0);
    LC_GEMM(Q5_1, vd_q5_1);
    LC_GEMM(Q8_0, vd_q8_0);
    LC_GEMM(IQ4_NL, vd_iq4_nl);
    LC_GEMM(Q2_K, vd_q2_K);
    LC_GEMM(Q3_K, vd_q3_K);
    LC_GEMM(Q4_K, vd_q4_K);
    LC_GEMM(Q5_K, vd_q5_K);
    LC_GEMM(Q6_K, vd_q6_K);
    LC_GEMM(IQ4_XS, vd_iq4_xs);
#undef LC_GEMM
}
