// Scalar float kernels: norms, softmax, rope rotation, activations, element-wise ops, KV-cache row primitives.
#include <cmath>
#include <cstring>

#include "cpu/generic/generic.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace lc::cpu::generic {
namespace {

constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluCoef = 0.044715f;
constexpr float kInvSqrt2 = 0.70710678118654752440f;

inline float silu1(float x) { return x / (1.0f + std::exp(-x)); }
inline float gelu1(float x) { return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kGeluCoef * x * x))); }
inline float gelu_erf1(float x) { return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2)); }

void rms_norm(const float* x, int64_t n, float eps, const float* w, float* y) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
    if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r * w[i];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r;
    }
}

void layer_norm(const float* x, int64_t n, float eps, const float* w, const float* b, float* y) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += x[i];
    const double mean = s / n;
    double v = 0;
    for (int64_t i = 0; i < n; ++i) v += (x[i] - mean) * (x[i] - mean);
    const float r = static_cast<float>(1.0 / std::sqrt(v / n + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < n; ++i) {
        float t = (x[i] - m) * r;
        if (w) t *= w[i];
        if (b) t += b[i];
        y[i] = t;
    }
}

void softmax(const float* x, int64_t n, float scale, const float* mask, int64_t n_visible, float* y) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n_visible; ++i) {
        const float v = x[i] * scale + (mask ? mask[i] : 0.0f);
        y[i] = v;
        mx = std::fmax(mx, v);
    }
    if (mx == -INFINITY) {  // nothing visible
        for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
        return;
    }
    double sum = 0;
    for (int64_t i = 0; i < n_visible; ++i) {
        const float e = std::exp(y[i] - mx);
        y[i] = e;
        sum += e;
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n_visible; ++i) y[i] *= inv;
    for (int64_t i = n_visible; i < n; ++i) y[i] = 0.0f;
}

void rope_rotate(const float* x, float* y, const float* cs, int64_t n_pairs, int64_t s0, int64_t off) {
    for (int64_t i = 0; i < n_pairs; ++i) {
        const float a = x[i * s0], b = x[i * s0 + off];
        const float c = cs[2 * i], s = cs[2 * i + 1];
        y[i * s0] = a * c - b * s;
        y[i * s0 + off] = a * s + b * c;
    }
}

void u_silu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = silu1(x[i]);
}
void u_gelu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = gelu1(x[i]);
}
void u_gelu_erf(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = gelu_erf1(x[i]);
}
void u_relu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
void u_tanh(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void u_neg(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
}
void u_sqr(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
}
void u_sqrt(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
}
void u_exp(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

void g_swiglu(const float* g, const float* u, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = silu1(g[i]) * u[i];
}
void g_geglu(const float* g, const float* u, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = gelu1(g[i]) * u[i];
}
void g_geglu_erf(const float* g, const float* u, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = gelu_erf1(g[i]) * u[i];
}

void b_add(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void b_mul(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void scale(const float* x, float s, float b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s + b;
}

float kdot_f32(const float* q, const void* k, int64_t n) {
    const float* kk = static_cast<const float*>(k);
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += q[i] * kk[i];
    return s;
}
float kdot_f16(const float* q, const void* k, int64_t n) {
    const uint16_t* kk = static_cast<const uint16_t*>(k);
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += q[i] * fp16_to_fp32(kk[i]);
    return s;
}
float kdot_q8_0(const float* q, const void* k, int64_t n) {
    const auto* b = static_cast<const block_q8_0*>(k);
    float s = 0;
    for (int64_t i = 0; i < n / QK8_0; ++i) {
        float sb = 0;
        for (int j = 0; j < QK8_0; ++j) sb += q[i * QK8_0 + j] * b[i].qs[j];
        s += sb * fp16_to_fp32(b[i].d);
    }
    return s;
}
void vaxpy_f32(float a, const void* v, float* y, int64_t n) {
    const float* vv = static_cast<const float*>(v);
    for (int64_t i = 0; i < n; ++i) y[i] += a * vv[i];
}
void vaxpy_f16(float a, const void* v, float* y, int64_t n) {
    const uint16_t* vv = static_cast<const uint16_t*>(v);
    for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(vv[i]);
}
void vaxpy_q8_0(float a, const void* v, float* y, int64_t n) {
    const auto* b = static_cast<const block_q8_0*>(v);
    for (int64_t i = 0; i < n / QK8_0; ++i) {
        const float ad = a * fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK8_0; ++j) y[i * QK8_0 + j] += ad * b[i].qs[j];
    }
}
void vscale(float* y, float s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] *= s;
}
float exp_sum(const float* x, float m, float* y, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; ++i) {
        y[i] = std::exp(x[i] - m);
        s += y[i];
    }
    return s;
}

template <int kSlot>
void attn_scores(const float* q, int64_t q_stride, int G, const void* k, size_t cell_stride, const float* offs,
                 int64_t n, int64_t d, float scale, float softcap, float* s, int64_t s_stride) {
    const auto* kb = static_cast<const uint8_t*>(k);
    const KDotFn dot = kSlot == 0 ? kdot_f32 : kSlot == 1 ? kdot_f16 : kdot_q8_0;
    for (int g = 0; g < G; ++g) {
        for (int64_t j = 0; j < n; ++j) {
            if (offs[j] == -INFINITY) {
                s[g * s_stride + j] = -INFINITY;
                continue;
            }
            float x = dot(q + g * q_stride, kb + j * cell_stride, d) * scale;
            if (softcap > 0.0f) x = softcap * std::tanh(x);
            s[g * s_stride + j] = x + offs[j];
        }
    }
}

template <int kSlot>
void attn_accum(const float* w, int64_t w_stride, int G, const void* v, size_t cell_stride, int64_t n, int64_t dv,
                float* acc) {
    const auto* vb = static_cast<const uint8_t*>(v);
    const VAxpyFn axpy = kSlot == 0 ? vaxpy_f32 : kSlot == 1 ? vaxpy_f16 : vaxpy_q8_0;
    for (int g = 0; g < G; ++g) {
        for (int64_t j = 0; j < n; ++j) {
            const float a = w[g * w_stride + j];
            if (a != 0.0f) axpy(a, vb + j * cell_stride, acc + g * dv, dv);
        }
    }
}

void attn_block(const float* qt, int64_t R, int64_t d, const float* kf, const float* vf, int64_t dv, int64_t nb,
                float softcap, const int32_t* qpos, const int32_t* kvpos, int32_t window, const float* offs, float* s,
                float* m, float* l, float* o) {
    for (int64_t r = 0; r < R; ++r) {
        float bmax = -INFINITY;
        for (int64_t j = 0; j < nb; ++j) {
            float x = 0.0f;
            for (int64_t i = 0; i < d; ++i) x += qt[i * R + r] * kf[j * d + i];
            if (softcap > 0.0f) x = softcap * std::tanh(x);
            float off;
            if (offs) {
                off = offs[j * R + r];
            } else {
                const int32_t kp = kvpos[j], qp = qpos[r];
                off = kp >= 0 && kp <= qp && (window <= 0 || qp - kp < window) ? 0.0f : -INFINITY;
            }
            x += off;
            s[j * R + r] = x;
            bmax = std::fmax(bmax, x);
        }
        const float mn = std::fmax(m[r], bmax);
        const float base = mn == -INFINITY ? 0.0f : mn;  // a row that has seen nothing keeps zeros
        const float f = std::exp(m[r] - base);
        if (f != 1.0f) {
            l[r] *= f;
            for (int64_t i = 0; i < dv; ++i) o[r * dv + i] *= f;
        }
        m[r] = mn;
        for (int64_t j = 0; j < nb; ++j) {
            const float pj = std::exp(s[j * R + r] - base);
            l[r] += pj;
            if (pj == 0.0f) continue;
            for (int64_t i = 0; i < dv; ++i) o[r * dv + i] += pj * vf[j * dv + i];
        }
    }
}

void deq_f32(const void* x, float* y, int64_t k) { std::memcpy(y, x, k * sizeof(float)); }
void deq_f16(const void* x, float* y, int64_t k) {
    const uint16_t* h = static_cast<const uint16_t*>(x);
    for (int64_t i = 0; i < k; ++i) y[i] = fp16_to_fp32(h[i]);
}
void deq_bf16(const void* x, float* y, int64_t k) {
    const uint16_t* h = static_cast<const uint16_t*>(x);
    for (int64_t i = 0; i < k; ++i) y[i] = bf16_to_fp32(h[i]);
}

}  // namespace

void fill_float_ops(Kernels& t) {
    t.rms_norm = rms_norm;
    t.layer_norm = layer_norm;
    t.softmax = softmax;
    t.rope_rotate = rope_rotate;
    t.unary[idx(ops::Unary::silu)] = u_silu;
    t.unary[idx(ops::Unary::gelu)] = u_gelu;
    t.unary[idx(ops::Unary::gelu_erf)] = u_gelu_erf;
    t.unary[idx(ops::Unary::relu)] = u_relu;
    t.unary[idx(ops::Unary::tanh)] = u_tanh;
    t.unary[idx(ops::Unary::neg)] = u_neg;
    t.unary[idx(ops::Unary::sqr)] = u_sqr;
    t.unary[idx(ops::Unary::sqrt)] = u_sqrt;
    t.unary[idx(ops::Unary::exp)] = u_exp;
    t.glu[idx(ops::Glu::swiglu)] = g_swiglu;
    t.glu[idx(ops::Glu::geglu)] = g_geglu;
    t.glu[idx(ops::Glu::geglu_erf)] = g_geglu_erf;
    t.add = b_add;
    t.mul = b_mul;
    t.scale = scale;
    t.kdot[kv_slot(DType::F32)] = kdot_f32;
    t.kdot[kv_slot(DType::F16)] = kdot_f16;
    t.kdot[kv_slot(DType::Q8_0)] = kdot_q8_0;
    t.vaxpy[kv_slot(DType::F32)] = vaxpy_f32;
    t.vaxpy[kv_slot(DType::F16)] = vaxpy_f16;
    t.vaxpy[kv_slot(DType::Q8_0)] = vaxpy_q8_0;
    t.attn_scores[kv_slot(DType::F32)] = attn_scores<0>;
    t.attn_scores[kv_slot(DType::F16)] = attn_scores<1>;
    t.attn_scores[kv_slot(DType::Q8_0)] = attn_scores<2>;
    t.attn_accum[kv_slot(DType::F32)] = attn_accum<0>;
    t.attn_accum[kv_slot(DType::F16)] = attn_accum<1>;
    t.attn_accum[kv_slot(DType::Q8_0)] = attn_accum<2>;
    t.attn_block = attn_block;
    t.vscale = vscale;
    t.exp_sum = exp_sum;
    t.dequantize[static_cast<int>(DType::F32)] = deq_f32;
    t.dequantize[static_cast<int>(DType::F16)] = deq_f16;
    t.dequantize[static_cast<int>(DType::BF16)] = deq_bf16;
}

}  // namespace lc::cpu::generic
