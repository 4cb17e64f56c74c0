// Float kernels written once over a SIMD traits type S (lane count S::W, load/store/arithmetic/exp), included by
// each SIMD level's ops file INSIDE that level's own namespace, so every instantiation is compiled with that level's
// flags and no inline code is shared between levels (an AVX-512 copy of a shared inline function must never be
// picked by the linker for the AVX2 or generic table). Tails shorter than a vector run the scalar formula.
//
// Requires before inclusion: <math.h>, <cstdint>, the traits type S, Kernels, and the level's activation quantizers
// quantize_q8_0, quantize_q8_1, quantize_q8_K, to_f16, to_bf16 (fill_float_ops_impl puts them in the table). Only C
// library functions (expf, sqrtf) are called, never inline C++ wrappers such as std::exp, whose out-of-line copies
// could be compiled with this level's flags and picked by the linker for another level.
// clang-format off
inline float sc_exp(float x) { return expf(x); }
inline float sc_silu(float x) { return x / (1.0f + expf(-x)); }
inline float sc_gelu(float x) {
    const float z = 0.79788456080286535588f * x * (1.0f + 0.044715f * x * x);
    return x / (1.0f + expf(-2.0f * z));
}
// clang-format on

// x / (1 + exp(-x))
inline typename S::V v_silu(typename S::V x) { return S::div(x, S::add(S::set1(1.0f), S::exp(S::sub(S::zero(), x)))); }
// gelu (tanh approximation) = x * sigmoid(2 * sqrt(2/pi) * (x + 0.044715 x^3)): no 1 + tanh cancellation
inline typename S::V v_gelu(typename S::V x) {
    const typename S::V x2 = S::mul(x, x);
    const typename S::V z =
        S::mul(S::mul(S::set1(-2.0f * 0.79788456080286535588f), x), S::fmadd(S::set1(0.044715f), x2, S::set1(1.0f)));
    return S::div(x, S::add(S::set1(1.0f), S::exp(z)));
}

void f_silu(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, v_silu(S::load(x + i)));
    for (; i < n; ++i) y[i] = sc_silu(x[i]);
}
void f_gelu(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, v_gelu(S::load(x + i)));
    for (; i < n; ++i) y[i] = sc_gelu(x[i]);
}
void f_exp(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::exp(S::load(x + i)));
    for (; i < n; ++i) y[i] = sc_exp(x[i]);
}
void f_swiglu(const float* g, const float* u, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::mul(v_silu(S::load(g + i)), S::load(u + i)));
    for (; i < n; ++i) y[i] = sc_silu(g[i]) * u[i];
}
void f_geglu(const float* g, const float* u, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::mul(v_gelu(S::load(g + i)), S::load(u + i)));
    for (; i < n; ++i) y[i] = sc_gelu(g[i]) * u[i];
}
void f_add(const float* a, const float* b, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::add(S::load(a + i), S::load(b + i)));
    for (; i < n; ++i) y[i] = a[i] + b[i];
}
void f_mul(const float* a, const float* b, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::mul(S::load(a + i), S::load(b + i)));
    for (; i < n; ++i) y[i] = a[i] * b[i];
}
void f_scale(const float* x, float s, float b, float* y, int64_t n) {
    const typename S::V vs = S::set1(s), vb = S::set1(b);
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::fmadd(S::load(x + i), vs, vb));
    for (; i < n; ++i) y[i] = x[i] * s + b;
}
void f_vscale(float* y, float s, int64_t n) {
    const typename S::V vs = S::set1(s);
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::mul(S::load(y + i), vs));
    for (; i < n; ++i) y[i] *= s;
}

// sum of squares with 4 independent accumulators
inline float sum_sq(const float* x, int64_t n) {
    typename S::V a0 = S::zero(), a1 = S::zero(), a2 = S::zero(), a3 = S::zero();
    int64_t i = 0;
    for (; i + 4 * S::W <= n; i += 4 * S::W) {
        const typename S::V v0 = S::load(x + i), v1 = S::load(x + i + S::W), v2 = S::load(x + i + 2 * S::W),
                            v3 = S::load(x + i + 3 * S::W);
        a0 = S::fmadd(v0, v0, a0);
        a1 = S::fmadd(v1, v1, a1);
        a2 = S::fmadd(v2, v2, a2);
        a3 = S::fmadd(v3, v3, a3);
    }
    for (; i + S::W <= n; i += S::W) {
        const typename S::V v = S::load(x + i);
        a0 = S::fmadd(v, v, a0);
    }
    float s = S::hsum(S::add(S::add(a0, a1), S::add(a2, a3)));
    for (; i < n; ++i) s += x[i] * x[i];
    return s;
}

inline float sum(const float* x, int64_t n) {
    typename S::V a0 = S::zero(), a1 = S::zero();
    int64_t i = 0;
    for (; i + 2 * S::W <= n; i += 2 * S::W) {
        a0 = S::add(a0, S::load(x + i));
        a1 = S::add(a1, S::load(x + i + S::W));
    }
    for (; i + S::W <= n; i += S::W) a0 = S::add(a0, S::load(x + i));
    float s = S::hsum(S::add(a0, a1));
    for (; i < n; ++i) s += x[i];
    return s;
}

void f_rms_norm(const float* x, int64_t n, float eps, const float* w, float* y) {
    const float r = 1.0f / sqrtf(sum_sq(x, n) / static_cast<float>(n) + eps);
    const typename S::V vr = S::set1(r);
    int64_t i = 0;
    if (w) {
        for (; i + S::W <= n; i += S::W) S::store(y + i, S::mul(S::mul(S::load(x + i), vr), S::load(w + i)));
        for (; i < n; ++i) y[i] = x[i] * r * w[i];
    } else {
        for (; i + S::W <= n; i += S::W) S::store(y + i, S::mul(S::load(x + i), vr));
        for (; i < n; ++i) y[i] = x[i] * r;
    }
}

void f_layer_norm(const float* x, int64_t n, float eps, const float* w, const float* b, float* y) {
    const float mean = sum(x, n) / static_cast<float>(n);
    const typename S::V vm = S::set1(mean);
    typename S::V acc = S::zero();
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) {
        const typename S::V d = S::sub(S::load(x + i), vm);
        acc = S::fmadd(d, d, acc);
    }
    float var = S::hsum(acc);
    for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    const float r = 1.0f / sqrtf(var / static_cast<float>(n) + eps);
    const typename S::V vr = S::set1(r);
    i = 0;
    for (; i + S::W <= n; i += S::W) {
        typename S::V t = S::mul(S::sub(S::load(x + i), vm), vr);
        if (w) t = S::mul(t, S::load(w + i));
        if (b) t = S::add(t, S::load(b + i));
        S::store(y + i, t);
    }
    for (; i < n; ++i) {
        float t = (x[i] - mean) * r;
        if (w) t *= w[i];
        if (b) t += b[i];
        y[i] = t;
    }
}

float f_exp_sum(const float* x, float m, float* y, int64_t n) {
    const typename S::V vm = S::set1(m);
    typename S::V acc = S::zero();
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) {
        const typename S::V e = S::exp(S::sub(S::load(x + i), vm));
        S::store(y + i, e);
        acc = S::add(acc, e);
    }
    float s = S::hsum(acc);
    for (; i < n; ++i) {
        y[i] = sc_exp(x[i] - m);
        s += y[i];
    }
    return s;
}

void f_softmax(const float* x, int64_t n, float scale, const float* mask, int64_t n_visible, float* y) {
    const typename S::V vs = S::set1(scale);
    typename S::V vmax = S::set1(-INFINITY);
    int64_t i = 0;
    for (; i + S::W <= n_visible; i += S::W) {
        typename S::V v = S::mul(S::load(x + i), vs);
        if (mask) v = S::add(v, S::load(mask + i));
        S::store(y + i, v);
        vmax = S::max(vmax, v);
    }
    float mx = S::hmax(vmax);
    for (; i < n_visible; ++i) {
        y[i] = x[i] * scale + (mask ? mask[i] : 0.0f);
        mx = fmaxf(mx, y[i]);
    }
    if (mx == -INFINITY) {
        for (int64_t j = 0; j < n; ++j) y[j] = 0.0f;
        return;
    }
    const float s = f_exp_sum(y, mx, y, n_visible);
    f_vscale(y, 1.0f / s, n_visible);
    for (int64_t j = n_visible; j < n; ++j) y[j] = 0.0f;
}

float f_kdot_f32(const float* q, const void* k, int64_t n) {
    const float* kk = static_cast<const float*>(k);
    typename S::V a0 = S::zero(), a1 = S::zero();
    int64_t i = 0;
    for (; i + 2 * S::W <= n; i += 2 * S::W) {
        a0 = S::fmadd(S::load(q + i), S::load(kk + i), a0);
        a1 = S::fmadd(S::load(q + i + S::W), S::load(kk + i + S::W), a1);
    }
    for (; i + S::W <= n; i += S::W) a0 = S::fmadd(S::load(q + i), S::load(kk + i), a0);
    float s = S::hsum(S::add(a0, a1));
    for (; i < n; ++i) s += q[i] * kk[i];
    return s;
}
float f_kdot_f16(const float* q, const void* k, int64_t n) {
    const uint16_t* kk = static_cast<const uint16_t*>(k);
    typename S::V a0 = S::zero(), a1 = S::zero();
    int64_t i = 0;
    for (; i + 2 * S::W <= n; i += 2 * S::W) {
        a0 = S::fmadd(S::load(q + i), S::load_f16(kk + i), a0);
        a1 = S::fmadd(S::load(q + i + S::W), S::load_f16(kk + i + S::W), a1);
    }
    for (; i + S::W <= n; i += S::W) a0 = S::fmadd(S::load(q + i), S::load_f16(kk + i), a0);
    float s = S::hsum(S::add(a0, a1));
    for (; i < n; ++i) s += q[i] * S::h2f(kk[i]);
    return s;
}
void f_vaxpy_f32(float a, const void* v, float* y, int64_t n) {
    const float* vv = static_cast<const float*>(v);
    const typename S::V va = S::set1(a);
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::fmadd(va, S::load(vv + i), S::load(y + i)));
    for (; i < n; ++i) y[i] += a * vv[i];
}
void f_vaxpy_f16(float a, const void* v, float* y, int64_t n) {
    const uint16_t* vv = static_cast<const uint16_t*>(v);
    const typename S::V va = S::set1(a);
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::fmadd(va, S::load_f16(vv + i), S::load(y + i)));
    for (; i < n; ++i) y[i] += a * S::h2f(vv[i]);
}
void f_deq_f16(const void* x, float* y, int64_t n) {
    const uint16_t* h = static_cast<const uint16_t*>(x);
    int64_t i = 0;
    for (; i + S::W <= n; i += S::W) S::store(y + i, S::load_f16(h + i));
    for (; i < n; ++i) y[i] = S::h2f(h[i]);
}

// Attention blocks: each K/V row is loaded (and converted from f16) once for all G heads of the group.
struct KvF32 {
    static constexpr int kSize = 4;
    static typename S::V load(const uint8_t* p, int64_t i) { return S::load(reinterpret_cast<const float*>(p) + i); }
    static float at(const uint8_t* p, int64_t i) { return reinterpret_cast<const float*>(p)[i]; }
};
struct KvF16 {
    static constexpr int kSize = 2;
    static typename S::V load(const uint8_t* p, int64_t i) {
        return S::load_f16(reinterpret_cast<const uint16_t*>(p) + i);
    }
    static float at(const uint8_t* p, int64_t i) { return S::h2f(reinterpret_cast<const uint16_t*>(p)[i]); }
};

// GN heads at once (compile-time, so the accumulators stay in registers).
template <class KV, int GN>
void scores_heads(const float* q, int64_t q_stride, const uint8_t* kb, size_t cell_stride, const float* offs, int64_t n,
                  int64_t d, float scale, float softcap, float* s, int64_t s_stride) {
    for (int64_t j = 0; j < n; ++j) {
        if (offs[j] == -INFINITY) {
            for (int g = 0; g < GN; ++g) s[g * s_stride + j] = -INFINITY;
            continue;
        }
        const uint8_t* kr = kb + j * cell_stride;
        // cells are cell_stride apart (all KV heads of a cell are contiguous): prefetch a few cells ahead
        for (int64_t pf = 0; pf < d * KV::kSize; pf += 64) __builtin_prefetch(kr + 6 * cell_stride + pf);
        typename S::V acc[GN];
        for (int g = 0; g < GN; ++g) acc[g] = S::zero();
        int64_t i = 0;
        for (; i + S::W <= d; i += S::W) {
            const typename S::V kv = KV::load(kr, i);
            for (int g = 0; g < GN; ++g) acc[g] = S::fmadd(S::load(q + g * q_stride + i), kv, acc[g]);
        }
        for (int g = 0; g < GN; ++g) {
            float x = S::hsum(acc[g]);
            for (int64_t ii = i; ii < d; ++ii) x += q[g * q_stride + ii] * KV::at(kr, ii);
            x *= scale;
            if (softcap > 0.0f) x = softcap * tanhf(x);
            s[g * s_stride + j] = x + offs[j];
        }
    }
}

template <class KV>
void f_attn_scores(const float* q, int64_t q_stride, int G, const void* k, size_t cell_stride, const float* offs,
                   int64_t n, int64_t d, float scale, float softcap, float* s, int64_t s_stride) {
    const auto* kb = static_cast<const uint8_t*>(k);
    for (int g0 = 0; g0 < G; g0 += 4) {
        const float* qg = q + g0 * q_stride;
        float* sg = s + g0 * s_stride;
        switch (G - g0 < 4 ? G - g0 : 4) {
            case 1: scores_heads<KV, 1>(qg, q_stride, kb, cell_stride, offs, n, d, scale, softcap, sg, s_stride); break;
            case 2: scores_heads<KV, 2>(qg, q_stride, kb, cell_stride, offs, n, d, scale, softcap, sg, s_stride); break;
            case 3: scores_heads<KV, 3>(qg, q_stride, kb, cell_stride, offs, n, d, scale, softcap, sg, s_stride); break;
            default:
                scores_heads<KV, 4>(qg, q_stride, kb, cell_stride, offs, n, d, scale, softcap, sg, s_stride);
                break;
        }
    }
}

// acc[g][i0 .. i0 + kChunk * W) += sum_j w[g][j] * v_j[...] for GN heads, accumulators in registers.
template <class KV, int GN>
void accum_heads(const float* w, int64_t w_stride, const uint8_t* vb, size_t cell_stride, int64_t n, int64_t dv,
                 float* acc) {
    constexpr int kChunk = 4;
    int64_t i0 = 0;
    for (; i0 + kChunk * S::W <= dv; i0 += kChunk * S::W) {
        typename S::V a[GN][kChunk];
        for (int g = 0; g < GN; ++g)
            for (int c = 0; c < kChunk; ++c) a[g][c] = S::load(acc + g * dv + i0 + c * S::W);
        for (int64_t j = 0; j < n; ++j) {
            bool any = false;
            for (int g = 0; g < GN; ++g) any |= w[g * w_stride + j] != 0.0f;
            if (!any) continue;
            const uint8_t* vr = vb + j * cell_stride;
            __builtin_prefetch(vr + 6 * cell_stride + i0 * KV::kSize);
            typename S::V vv[kChunk];
            for (int c = 0; c < kChunk; ++c) vv[c] = KV::load(vr, i0 + c * S::W);
            for (int g = 0; g < GN; ++g) {
                const typename S::V wj = S::set1(w[g * w_stride + j]);
                for (int c = 0; c < kChunk; ++c) a[g][c] = S::fmadd(wj, vv[c], a[g][c]);
            }
        }
        for (int g = 0; g < GN; ++g)
            for (int c = 0; c < kChunk; ++c) S::store(acc + g * dv + i0 + c * S::W, a[g][c]);
    }
    for (; i0 < dv; i0 += S::W) {  // remaining vectors one at a time, then the scalar tail
        const bool full = i0 + S::W <= dv;
        for (int g = 0; g < GN; ++g) {
            float* ar = acc + g * dv;
            for (int64_t j = 0; j < n; ++j) {
                const float wj = w[g * w_stride + j];
                if (wj == 0.0f) continue;
                const uint8_t* vr = vb + j * cell_stride;
                if (full) {
                    S::store(ar + i0, S::fmadd(S::set1(wj), KV::load(vr, i0), S::load(ar + i0)));
                } else {
                    for (int64_t ii = i0; ii < dv; ++ii) ar[ii] += wj * KV::at(vr, ii);
                }
            }
        }
    }
}

template <class KV>
void f_attn_accum(const float* w, int64_t w_stride, int G, const void* v, size_t cell_stride, int64_t n, int64_t dv,
                  float* acc) {
    const auto* vb = static_cast<const uint8_t*>(v);
    for (int g0 = 0; g0 < G; g0 += 3) {  // 3 heads x 4 vectors: 12 accumulators (fits AVX2's 16 registers)
        const float* wg = w + g0 * w_stride;
        float* ag = acc + g0 * dv;
        switch (G - g0 < 3 ? G - g0 : 3) {
            case 1: accum_heads<KV, 1>(wg, w_stride, vb, cell_stride, n, dv, ag); break;
            case 2: accum_heads<KV, 2>(wg, w_stride, vb, cell_stride, n, dv, ag); break;
            default: accum_heads<KV, 3>(wg, w_stride, vb, cell_stride, n, dv, ag); break;
        }
    }
}

// ---- prefill attention block, query rows in the lanes ----
constexpr int kRowVecs = 4;                   // row vectors per pass (64 or 32 rows)
constexpr int kMaxAttnRowVecs = 1024 / S::W;  // R <= 1024 (16 tokens x 64 heads per KV head)
constexpr int kCellsPerPass = S::W == 16 ? 4 : 2;

// s[j][rows of this pass] = qt^T kf_j for cells j in [j0, j0 + JC)
template <int RV, int JC>
inline void qk_cells(const float* qt, int64_t R, int64_t d, const float* kf, int64_t j0, float* s) {
    typename S::V acc[JC][RV];
    for (int jj = 0; jj < JC; ++jj)
        for (int v = 0; v < RV; ++v) acc[jj][v] = S::zero();
    for (int64_t i = 0; i < d; ++i) {
        typename S::V q[RV];
        for (int v = 0; v < RV; ++v) q[v] = S::load(qt + i * R + v * S::W);
        for (int jj = 0; jj < JC; ++jj) {
            const typename S::V k = S::set1(kf[(j0 + jj) * d + i]);
            for (int v = 0; v < RV; ++v) acc[jj][v] = S::fmadd(k, q[v], acc[jj][v]);
        }
    }
    for (int jj = 0; jj < JC; ++jj)
        for (int v = 0; v < RV; ++v) S::store(s + (j0 + jj) * R + v * S::W, acc[jj][v]);
}

template <int RV>
inline void qk_pass(const float* qt, int64_t R, int64_t d, const float* kf, int64_t nb, float* s) {
    int64_t j = 0;
    for (; j + kCellsPerPass <= nb; j += kCellsPerPass) qk_cells<RV, kCellsPerPass>(qt, R, d, kf, j, s);
    for (; j < nb; ++j) qk_cells<RV, 1>(qt, R, d, kf, j, s);
}

// tanh(x) = 1 - 2 / (1 + e^(2x)) (absolute error ~1e-7: fine for soft-capped logits)
inline typename S::V v_tanh(typename S::V x) {
    const typename S::V e = S::exp(S::add(x, x));
    return S::sub(S::set1(1.0f), S::div(S::set1(2.0f), S::add(S::set1(1.0f), e)));
}

// o rows [r0, r0 + RR) += sum_j p[j][r] * vf[j], p = s ([nb, R]), dv columns [i0, i0 + CV * W)
template <int RR, int CV>
inline void pv_chunkT(const float* s, int64_t R, int64_t r0, const float* vf, int64_t dv, int64_t nb, float* o,
                      int64_t i0) {
    typename S::V a[RR][CV];
    for (int r = 0; r < RR; ++r)
        for (int c = 0; c < CV; ++c) a[r][c] = S::load(o + (r0 + r) * dv + i0 + c * S::W);
    for (int64_t j = 0; j < nb; ++j) {
        typename S::V v[CV];
        for (int c = 0; c < CV; ++c) v[c] = S::load(vf + j * dv + i0 + c * S::W);
        for (int r = 0; r < RR; ++r) {
            const typename S::V pj = S::set1(s[j * R + r0 + r]);
            for (int c = 0; c < CV; ++c) a[r][c] = S::fmadd(pj, v[c], a[r][c]);
        }
    }
    for (int r = 0; r < RR; ++r)
        for (int c = 0; c < CV; ++c) S::store(o + (r0 + r) * dv + i0 + c * S::W, a[r][c]);
}

constexpr int kPvVecs = S::W == 16 ? 8 : 4;

template <int RR>
inline void pv_rowsT(const float* s, int64_t R, int64_t r0, const float* vf, int64_t dv, int64_t nb, float* o) {
    int64_t i0 = 0;
    for (; i0 + kPvVecs * S::W <= dv; i0 += kPvVecs * S::W) pv_chunkT<RR, kPvVecs>(s, R, r0, vf, dv, nb, o, i0);
    if (i0 + 4 * S::W <= dv) pv_chunkT<RR, 4>(s, R, r0, vf, dv, nb, o, i0), i0 += 4 * S::W;
    if (i0 + 2 * S::W <= dv) pv_chunkT<RR, 2>(s, R, r0, vf, dv, nb, o, i0), i0 += 2 * S::W;
    if (i0 + S::W <= dv) pv_chunkT<RR, 1>(s, R, r0, vf, dv, nb, o, i0), i0 += S::W;
    for (int r = 0; r < RR; ++r)
        for (int64_t ii = i0; ii < dv; ++ii)
            for (int64_t j = 0; j < nb; ++j) o[(r0 + r) * dv + ii] += s[j * R + r0 + r] * vf[j * dv + ii];
}

void f_attn_block(const float* qt, int64_t R, int64_t d, const float* kf, const float* vf, int64_t dv, int64_t nb,
                  float softcap, const int32_t* qpos, const int32_t* kvpos, int32_t window, const float* offs, float* s,
                  float* m, float* l, float* o) {
    // 1. scores [nb, R]
    for (int64_t r0 = 0; r0 < R;) {
        const int64_t left = (R - r0) / S::W;
        switch (left >= kRowVecs ? kRowVecs : left) {
            case 4: qk_pass<4>(qt + r0, R, d, kf, nb, s + r0), r0 += 4 * S::W; break;
            case 3: qk_pass<3>(qt + r0, R, d, kf, nb, s + r0), r0 += 3 * S::W; break;
            case 2: qk_pass<2>(qt + r0, R, d, kf, nb, s + r0), r0 += 2 * S::W; break;
            default: qk_pass<1>(qt + r0, R, d, kf, nb, s + r0), r0 += S::W; break;
        }
    }
    // 2. cap, visibility, online softmax, per row vector
    const typename S::V ninf = S::set1(-INFINITY);
    const typename S::V wlim = S::set1(window > 0 ? static_cast<float>(window) : INFINITY);
    typename S::V qpf[kMaxAttnRowVecs];
    if (!offs) {
        for (int64_t v = 0; v < R; v += S::W) {
            alignas(64) float a[S::W];
            for (int u = 0; u < S::W; ++u) a[u] = static_cast<float>(qpos[v + u]);
            qpf[v / S::W] = S::load(a);
        }
    }
    alignas(64) float fac[S::W];
    for (int64_t v = 0; v < R; v += S::W) {
        typename S::V bmax = ninf;
        for (int64_t j = 0; j < nb; ++j) {
            typename S::V x = S::load(s + j * R + v);
            if (softcap > 0.0f) x = S::mul(S::set1(softcap), v_tanh(x));
            if (offs) {
                x = S::add(x, S::load(offs + j * R + v));
            } else if (kvpos[j] < 0) {
                x = ninf;  // empty cell
            } else {       // visible iff 0 <= qpos - kvpos < window (positions < 2^24: exact in float)
                const typename S::V dist = S::sub(qpf[v / S::W], S::set1(static_cast<float>(kvpos[j])));
                x = S::add(x, S::in_range(dist, wlim));
            }
            S::store(s + j * R + v, x);
            bmax = S::max(bmax, x);
        }
        const typename S::V mo = S::load(m + v);
        const typename S::V mn = S::max(mo, bmax);
        alignas(64) float mn_a[S::W], base_a[S::W];
        S::store(mn_a, mn);
        for (int u = 0; u < S::W; ++u) base_a[u] = mn_a[u] == -INFINITY ? 0.0f : mn_a[u];
        const typename S::V base = S::load(base_a);
        const typename S::V f = S::exp(S::sub(mo, base));
        S::store(fac, f);
        S::store(m + v, mn);
        typename S::V sum = S::mul(S::load(l + v), f);
        for (int64_t j = 0; j < nb; ++j) {
            const typename S::V pj = S::exp(S::sub(S::load(s + j * R + v), base));
            S::store(s + j * R + v, pj);
            sum = S::add(sum, pj);
        }
        S::store(l + v, sum);
        for (int u = 0; u < S::W; ++u) {
            if (fac[u] != 1.0f) f_vscale(o + (v + u) * dv, fac[u], dv);
        }
    }
    // 3. o += p v
    int64_t r = 0;
    for (; r + 2 <= R; r += 2) pv_rowsT<2>(s, R, r, vf, dv, nb, o);
    for (; r < R; ++r) pv_rowsT<1>(s, R, r, vf, dv, nb, o);
}

void fill_float_ops_impl(Kernels& t) {
    t.quantize_q8_0 = quantize_q8_0;
    t.quantize_q8_1 = quantize_q8_1;
    t.quantize_q8_K = quantize_q8_K;
    t.to_f16 = to_f16;
    t.to_bf16 = to_bf16;
    t.attn_block = f_attn_block;
    t.attn_scores[kv_slot(DType::F32)] = f_attn_scores<KvF32>;
    t.attn_scores[kv_slot(DType::F16)] = f_attn_scores<KvF16>;
    t.attn_accum[kv_slot(DType::F32)] = f_attn_accum<KvF32>;
    t.attn_accum[kv_slot(DType::F16)] = f_attn_accum<KvF16>;
    t.rms_norm = f_rms_norm;
    t.layer_norm = f_layer_norm;
    t.softmax = f_softmax;
    t.unary[idx(ops::Unary::silu)] = f_silu;
    t.unary[idx(ops::Unary::gelu)] = f_gelu;
    t.unary[idx(ops::Unary::exp)] = f_exp;
    t.glu[idx(ops::Glu::swiglu)] = f_swiglu;
    t.glu[idx(ops::Glu::geglu)] = f_geglu;
    t.add = f_add;
    t.mul = f_mul;
    t.scale = f_scale;
    t.kdot[kv_slot(DType::F32)] = f_kdot_f32;
    t.kdot[kv_slot(DType::F16)] = f_kdot_f16;
    t.vaxpy[kv_slot(DType::F32)] = f_vaxpy_f32;
    t.vaxpy[kv_slot(DType::F16)] = f_vaxpy_f16;
    t.vscale = f_vscale;
    t.exp_sum = f_exp_sum;
    t.dequantize[static_cast<int>(DType::F16)] = f_deq_f16;
}
