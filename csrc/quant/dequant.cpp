// Scalar reference dequantizers: one function per format, decode rules of ggml-quants.c (see quants.h).
// The float expressions keep llama.cpp's (and the gguf package's) operation order, e.g. Q4_K is (d*sc)*q - dmin*m,
// so results are bit-identical; fp contraction is switched off so no compiler fuses them into an FMA.
#include <stdexcept>
#include <string>

#include "quant/fp16.h"
#include "quant/quants.h"

// last, so it covers this file only: no fused multiply-adds from here on
#include "quant/exact_fp.h"

namespace lc {

void dequantize_row_q4_0(const block_q4_0* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK4_0; ++i, y += QK4_0) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; ++j) {  // byte j: element j (low nibble), element j+16 (high nibble)
            y[j] = static_cast<float>((x[i].qs[j] & 0xF) - 8) * d;
            y[j + QK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_row_q4_1(const block_q4_1* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK4_1; ++i, y += QK4_1) {
        const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            y[j] = static_cast<float>(x[i].qs[j] & 0xF) * d + m;
            y[j + QK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
        }
    }
}

// Bit j of the little-endian 32-bit qh is the 5th bit of element j.
static inline uint32_t load_qh(const uint8_t qh[4]) {
    return uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24;
}

void dequantize_row_q5_0(const block_q5_0* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK5_0; ++i, y += QK5_0) {
        const float d = fp16_to_fp32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = static_cast<float>(((x[i].qs[j] & 0xF) | h0) - 16) * d;
            y[j + QK5_0 / 2] = static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

void dequantize_row_q5_1(const block_q5_1* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK5_1; ++i, y += QK5_1) {
        const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = static_cast<float>((x[i].qs[j] & 0xF) | h0) * d + m;
            y[j + QK5_1 / 2] = static_cast<float>((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

void dequantize_row_q8_0(const block_q8_0* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK8_0; ++i, y += QK8_0) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

void dequantize_row_q8_1(const block_q8_1* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK8_1; ++i, y += QK8_1) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_1; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

// 256 values = 2 halves of 128; in each half, 32 bytes of qs hold 4 bit-planes (shift 0, 2, 4, 6), and each plane
// is two 16-value groups with their own 4-bit scale (low nibble) and min (high nibble).
void dequantize_row_q2_K(const block_q2_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        int is = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int g = 0; g < 2; ++g) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * static_cast<float>(sc & 0xF), ml = dmin * static_cast<float>(sc >> 4);
                    for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * g] >> shift) & 3) - ml;
                }
            }
        }
    }
}

// Like Q2_K's layout for the low 2 bits; hmask bit (bit b of byte l for plane b) set means +0, clear means -4.
void dequantize_row_q3_K(const block_q3_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        int8_t scales[16];
        unpack_q3_K_scales(x[i].scales, scales);
        const uint8_t* q = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int g = 0; g < 2; ++g) {
                    const float dl = d * static_cast<float>(scales[is++]);
                    for (int l = 16 * g; l < 16 * g + 16; ++l) {
                        const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                        *y++ = dl * static_cast<float>(v);
                    }
                }
            }
        }
    }
}

// 4 chunks of 64: 32 bytes of qs give sub-block 2c (low nibbles) and 2c+1 (high nibbles).
void dequantize_row_q4_K(const block_q4_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        for (int c = 0; c < 4; ++c, q += 32) {
            uint8_t sc, m;
            get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

// Q4_K plus a 5th bit from qh: chunk c uses bits 2c (first 32) and 2c+1 (next 32) of qh[l].
void dequantize_row_q5_K(const block_q5_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* ql = x[i].qs;
        const uint8_t* qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int c = 0; c < 4; ++c, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

// Per 128-half: ql[64] (low 4 bits; bytes l and l+32, low then high nibble) and qh[32] (2 bits each, 4 planes).
void dequantize_row_q6_K(const block_q6_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
            }
        }
    }
}

void dequantize_row_q8_K(const block_q8_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i, y += QK_K)
        for (int j = 0; j < QK_K; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
}

void dequantize_row_iq4_nl(const block_iq4_nl* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK4_NL; ++i, y += QK4_NL) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_NL / 2; ++j) {
            y[j] = d * static_cast<float>(kvalues_iq4nl[x[i].qs[j] & 0xF]);
            y[j + QK4_NL / 2] = d * static_cast<float>(kvalues_iq4nl[x[i].qs[j] >> 4]);
        }
    }
}

// 8 sub-blocks of 32, each with a 6-bit scale: low 4 bits in scales_l (nibble ib%2 of byte ib/2), high 2 bits at
// bit 2*ib of scales_h; value d*(scale-32)*kvalues[nibble], nibbles in Q4_0 order.
void dequantize_row_iq4_xs(const block_iq4_xs* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const uint8_t* qs = x[i].qs;
        for (int ib = 0; ib < QK_K / 32; ++ib, y += 32, qs += 16) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * static_cast<float>(ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * static_cast<float>(kvalues_iq4nl[qs[j] & 0xF]);
                y[j + 16] = dl * static_cast<float>(kvalues_iq4nl[qs[j] >> 4]);
            }
        }
    }
}

bool dequantize_supported(DType t) {
    const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
    return tr && tr->get_rows;
}

bool quantize_supported(DType t) { return dequantize_supported(t); }

// Shared by dequantize_row and quantize_row_ref: known, supported type and a whole number of blocks.
void check_row_args(DType t, int64_t n, const char* what) {
    const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
    if (!tr) throw std::invalid_argument(std::string(what) + ": unknown type id " + std::to_string(int(t)));
    if (!dequantize_supported(t))
        throw std::invalid_argument(std::string(what) + ": type " + tr->name + " is not supported");
    if (n < 0 || n % tr->block_size != 0)
        throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) +
                                    " elements is not a multiple of the " + tr->name + " block size " +
                                    std::to_string(tr->block_size));
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
    check_row_args(t, n, "dequantize_row");
    switch (t) {
        case DType::F32: {
            const float* s = static_cast<const float*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
            break;
        }
        case DType::F16: {
            const uint16_t* s = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
            break;
        }
        case DType::BF16: {
            const uint16_t* s = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
            break;
        }
        case DType::Q4_0: dequantize_row_q4_0(static_cast<const block_q4_0*>(src), dst, n); break;
        case DType::Q4_1: dequantize_row_q4_1(static_cast<const block_q4_1*>(src), dst, n); break;
        case DType::Q5_0: dequantize_row_q5_0(static_cast<const block_q5_0*>(src), dst, n); break;
        case DType::Q5_1: dequantize_row_q5_1(static_cast<const block_q5_1*>(src), dst, n); break;
        case DType::Q8_0: dequantize_row_q8_0(static_cast<const block_q8_0*>(src), dst, n); break;
        case DType::Q8_1: dequantize_row_q8_1(static_cast<const block_q8_1*>(src), dst, n); break;
        case DType::Q2_K: dequantize_row_q2_K(static_cast<const block_q2_K*>(src), dst, n); break;
        case DType::Q3_K: dequantize_row_q3_K(static_cast<const block_q3_K*>(src), dst, n); break;
        case DType::Q4_K: dequantize_row_q4_K(static_cast<const block_q4_K*>(src), dst, n); break;
        case DType::Q5_K: dequantize_row_q5_K(static_cast<const block_q5_K*>(src), dst, n); break;
        case DType::Q6_K: dequantize_row_q6_K(static_cast<const block_q6_K*>(src), dst, n); break;
        case DType::Q8_K: dequantize_row_q8_K(static_cast<const block_q8_K*>(src), dst, n); break;
        case DType::IQ4_NL: dequantize_row_iq4_nl(static_cast<const block_iq4_nl*>(src), dst, n); break;
        case DType::IQ4_XS: dequantize_row_iq4_xs(static_cast<const block_iq4_xs*>(src), dst, n); break;
        default: break;  // unreachable: check_row_args threw
    }
}

}  // namespace lc
