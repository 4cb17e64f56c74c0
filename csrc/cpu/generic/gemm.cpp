// Scalar dot products of every weight format with its activation format, as llama.cpp's generic vec_dot_*: integer
// sums inside a block (exact), one float multiply-add per block (or per 16/32-element group for the K-quants).
#include <cstring>

#include "cpu/generic/generic.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace lc::cpu::generic {
namespace {

inline float h2f(f16_t h) { return fp16_to_fp32(h); }

float vd_f32(const void* vw, const void* vx, int64_t k) {
    const float* w = static_cast<const float*>(vw);
    const float* x = static_cast<const float*>(vx);
    double s = 0;
    for (int64_t i = 0; i < k; ++i) s += static_cast<double>(w[i]) * x[i];
    return static_cast<float>(s);
}

float vd_f16(const void* vw, const void* vx, int64_t k) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* x = static_cast<const uint16_t*>(vx);
    double s = 0;
    for (int64_t i = 0; i < k; ++i) s += static_cast<double>(h2f(w[i])) * h2f(x[i]);
    return static_cast<float>(s);
}

float vd_bf16(const void* vw, const void* vx, int64_t k) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* x = static_cast<const uint16_t*>(vx);
    double s = 0;
    for (int64_t i = 0; i < k; ++i) s += static_cast<double>(bf16_to_fp32(w[i])) * bf16_to_fp32(x[i]);
    return static_cast<float>(s);
}

float vd_q4_0(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q4_0*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK4_0; ++i) {
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            sumi += ((w[i].qs[j] & 0xF) - 8) * x[i].qs[j] + ((w[i].qs[j] >> 4) - 8) * x[i].qs[j + 16];
        }
        s += sumi * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

float vd_q4_1(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q4_1*>(vw);
    const auto* x = static_cast<const block_q8_1*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK4_1; ++i) {
        int sumi = 0;
        for (int j = 0; j < 16; ++j) sumi += (w[i].qs[j] & 0xF) * x[i].qs[j] + (w[i].qs[j] >> 4) * x[i].qs[j + 16];
        s += h2f(w[i].d) * h2f(x[i].d) * sumi + h2f(w[i].m) * h2f(x[i].s);
    }
    return s;
}

float vd_q5_0(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q5_0*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK5_0; ++i) {
        uint32_t qh;
        std::memcpy(&qh, w[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            sumi += (((w[i].qs[j] & 0xF) | h0) - 16) * x[i].qs[j] + (((w[i].qs[j] >> 4) | h1) - 16) * x[i].qs[j + 16];
        }
        s += sumi * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

float vd_q5_1(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q5_1*>(vw);
    const auto* x = static_cast<const block_q8_1*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK5_1; ++i) {
        uint32_t qh;
        std::memcpy(&qh, w[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            sumi += ((w[i].qs[j] & 0xF) | h0) * x[i].qs[j] + ((w[i].qs[j] >> 4) | h1) * x[i].qs[j + 16];
        }
        s += h2f(w[i].d) * h2f(x[i].d) * sumi + h2f(w[i].m) * h2f(x[i].s);
    }
    return s;
}

float vd_q8_0(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q8_0*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK8_0; ++i) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; ++j) sumi += w[i].qs[j] * x[i].qs[j];
        s += sumi * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

float vd_iq4_nl(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_iq4_nl*>(vw);
    const auto* x = static_cast<const block_q8_0*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK4_NL; ++i) {
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            sumi += kvalues_iq4nl[w[i].qs[j] & 0xF] * x[i].qs[j] + kvalues_iq4nl[w[i].qs[j] >> 4] * x[i].qs[j + 16];
        }
        s += sumi * h2f(w[i].d) * h2f(x[i].d);
    }
    return s;
}

float vd_q2_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q2_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const uint8_t* sc = w[i].scales;
        int summs = 0;
        for (int j = 0; j < 16; ++j) summs += x[i].bsums[j] * (sc[j] >> 4);
        int isum = 0;
        for (int g = 0; g < 16; ++g) {  // 16 groups of 16: group g = half g/8, shift 2*((g/2)%4), sub g%2
            const uint8_t* q = w[i].qs + 32 * (g / 8) + 16 * (g % 2);
            const int shift = 2 * ((g / 2) % 4);
            const int8_t* y = x[i].qs + 16 * g;
            int sumg = 0;
            for (int l = 0; l < 16; ++l) sumg += y[l] * ((q[l] >> shift) & 3);
            isum += (sc[g] & 0xF) * sumg;
        }
        s += x[i].d * h2f(w[i].d) * isum - x[i].d * h2f(w[i].dmin) * summs;
    }
    return s;
}

float vd_q3_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q3_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const uint8_t* sb = w[i].scales;
        int isum = 0;
        for (int g = 0; g < 16; ++g) {  // group g: 128-half g/8, shift 2*((g/2)%4), bytes 16*(g%2).., hmask bit g/2
            const int lo = g < 8 ? (sb[g] & 0xF) : (sb[g - 8] >> 4);
            const int hi = (sb[8 + g % 4] >> (2 * (g / 4))) & 3;
            const int sc = (lo | (hi << 4)) - 32;
            const uint8_t* q = w[i].qs + 32 * (g / 8) + 16 * (g % 2);
            const uint8_t* hm = w[i].hmask + 16 * (g % 2);
            const int shift = 2 * ((g / 2) % 4);
            const uint8_t m = static_cast<uint8_t>(1u << (g / 2));
            const int8_t* y = x[i].qs + 16 * g;
            int sumg = 0;
            for (int l = 0; l < 16; ++l) sumg += y[l] * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            isum += sc * sumg;
        }
        s += x[i].d * h2f(w[i].d) * isum;
    }
    return s;
}

inline void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

float vd_q4_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q4_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; ++j) {  // sub-block j: bytes 32*(j/2).., low nibble if j even
            int sc, m;
            scale_min_k4(j, w[i].scales, &sc, &m);
            const uint8_t* q = w[i].qs + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            const int8_t* y = x[i].qs + 32 * j;
            int sumj = 0;
            for (int l = 0; l < 32; ++l) sumj += y[l] * ((q[l] >> shift) & 0xF);
            isum += sc * sumj;
            summs += m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        }
        s += x[i].d * h2f(w[i].d) * isum - x[i].d * h2f(w[i].dmin) * summs;
    }
    return s;
}

float vd_q5_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q5_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        int isum = 0, summs = 0;
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            scale_min_k4(j, w[i].scales, &sc, &m);
            const uint8_t* q = w[i].qs + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            const int8_t* y = x[i].qs + 32 * j;
            int sumj = 0;
            for (int l = 0; l < 32; ++l) {
                const int v = ((q[l] >> shift) & 0xF) | (((w[i].qh[l] >> j) & 1) << 4);
                sumj += y[l] * v;
            }
            isum += sc * sumj;
            summs += m * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        }
        s += x[i].d * h2f(w[i].d) * isum - x[i].d * h2f(w[i].dmin) * summs;
    }
    return s;
}

float vd_q6_K(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_q6_K*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        int isum = 0;
        for (int g = 0; g < 16; ++g) {
            // element e = 128*h + 32*c + l (h: half, c: 0..3 quarter, l: 0..31); group g = e / 16
            const int h = g / 8, c = (g / 2) % 4, l0 = 16 * (g % 2);
            const uint8_t* ql = w[i].ql + 64 * h + 32 * (c % 2);
            const uint8_t* qh = w[i].qh + 32 * h;
            const int8_t* y = x[i].qs + 16 * g;
            int sumg = 0;
            for (int l = 0; l < 16; ++l) {
                const int lo = (ql[l0 + l] >> (4 * (c / 2))) & 0xF;
                const int hi = (qh[l0 + l] >> (2 * c)) & 3;
                sumg += y[l] * ((lo | (hi << 4)) - 32);
            }
            isum += w[i].scales[g] * sumg;
        }
        s += x[i].d * h2f(w[i].d) * isum;
    }
    return s;
}

float vd_iq4_xs(const void* vw, const void* vx, int64_t k) {
    const auto* w = static_cast<const block_iq4_xs*>(vw);
    const auto* x = static_cast<const block_q8_K*>(vx);
    float s = 0;
    for (int64_t i = 0; i < k / QK_K; ++i) {
        const float d = h2f(w[i].d) * x[i].d;
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = ((w[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((w[i].scales_h >> (2 * ib)) & 3) << 4);
            const uint8_t* q = w[i].qs + 16 * ib;
            const int8_t* y = x[i].qs + 32 * ib;
            int sumi = 0;
            for (int j = 0; j < 16; ++j)
                sumi += kvalues_iq4nl[q[j] & 0xF] * y[j] + kvalues_iq4nl[q[j] >> 4] * y[j + 16];
            s += d * (ls - 32) * sumi;
        }
    }
    return s;
}

#include "cpu/vec_dot_gemm.h"  // gemm_rows, fill_vec_dot_gemm

}  // namespace

VecDotFn vec_dot(DType t) {
    switch (t) {
        case DType::F32: return vd_f32;
        case DType::F16: return vd_f16;
        case DType::BF16: return vd_bf16;
        case DType::Q4_0: return vd_q4_0;
        case DType::Q4_1: return vd_q4_1;
        case DType::Q5_0: return vd_q5_0;
        case DType::Q5_1: return vd_q5_1;
        case DType::Q8_0: return vd_q8_0;
        case DType::IQ4_NL: return vd_iq4_nl;
        case DType::Q2_K: return vd_q2_K;
        case DType::Q3_K: return vd_q3_K;
        case DType::Q4_K: return vd_q4_K;
        case DType::Q5_K: return vd_q5_K;
        case DType::Q6_K: return vd_q6_K;
        case DType::IQ4_XS: return vd_iq4_xs;
        default: return nullptr;
    }
}

void fill_gemm(Kernels& t) { fill_vec_dot_gemm(t); }

}  // namespace lc::cpu::generic
