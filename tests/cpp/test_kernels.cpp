// Kernel tests in C++: each SIMD level this CPU runs (neon on arm64, run under qemu-aarch64 by run-neon.sh; avx2 and
// avx512 on x86) against the generic level, on random data.
//
// Part 1 calls every entry of the level's kernel table (csrc/cpu/kernels.h) beside the generic entry. Part 2 goes
// through the public API (llamacore/ops.h) with the level selected, on a thread pool, against the same calls on the
// generic level and, where it is cheap, against float64 references. Error budgets are written at each comparison;
// the activation quantizers and float conversions must be bit-identical (to generic and to csrc/quant/quants.h).
//
// Usage: test_kernels [--verbose] [--seed N] [--expect-selected LEVEL] [--level LEVEL]...
//   --level: the levels to test (default: every supported level but generic). A level that cannot run here is a
//            failure, so run-neon.sh cannot pass by testing nothing.
//   --expect-selected: check that start-up dispatch chose LEVEL.  --verbose: a line per check.  --seed N: other data.
// Output: a line per failed check, a summary per level, and a closing "N passed, M failed"; exit status 1 on failure.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "llamacore/cpu.h"
#include "llamacore/ops.h"
#include "llamacore/threadpool.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/quants.h"

namespace {

using lc::DType;
using lc::cpu::Kernels;

// ---------------------------------------------------------------------------------------------------------------
// reporting and comparison
// ---------------------------------------------------------------------------------------------------------------

int g_passed = 0, g_failed = 0;
std::string g_level;         // name of the level under test, prefixed to failure lines
bool g_verbose = false;      // --verbose: a line per check, with the share of its budget used
uint64_t g_seed = 20240601;  // --seed

void check(bool ok, const std::string& name, const std::string& detail = "") {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        std::printf("FAIL [%s] %s%s%s\n", g_level.c_str(), name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    }
}

std::string strf(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string strf(const char* f, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof(buf), f, ap);
    va_end(ap);
    return buf;
}

// got[i] vs want[i] with an allowed absolute difference per element. Equal infinities and two nans agree.
void check_close(const std::string& name, const float* got, const float* want, int64_t n,
                 const std::function<double(int64_t)>& allowed) {
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < n; ++i) {
        const double g = got[i], w = want[i];
        if (std::isnan(g) && std::isnan(w)) continue;
        if (std::isinf(w) && g == w) continue;
        const double d = std::fabs(g - w);
        const double lim = allowed(i);
        const double r = std::isnan(d) ? INFINITY : (lim > 0 ? d / lim : (d > 0 ? INFINITY : 0));
        if (r > worst) worst = r, at = i;
    }
    if (g_verbose && worst <= 1.0)
        std::printf("ok   [%s] %s (%.3g of the budget)\n", g_level.c_str(), name.c_str(), worst);
    check(worst <= 1.0, name,
          at < 0 ? ""
                 : strf("element %lld: got %.9g, want %.9g (%.3g x the budget)", static_cast<long long>(at), got[at],
                        want[at], worst));
}

void check_close(const std::string& name, const std::vector<float>& got, const std::vector<float>& want,
                 const std::function<double(int64_t)>& allowed) {
    check(got.size() == want.size(), name + " (sizes)");
    check_close(name, got.data(), want.data(), static_cast<int64_t>(std::min(got.size(), want.size())), allowed);
}

void check_bytes(const std::string& name, const void* got, const void* want, size_t n) {
    const auto* a = static_cast<const uint8_t*>(got);
    const auto* b = static_cast<const uint8_t*>(want);
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) {
            check(false, name, strf("first difference at byte %zu: 0x%02x vs 0x%02x", i, a[i], b[i]));
            return;
        }
    }
    check(true, name);
}

// ---------------------------------------------------------------------------------------------------------------
// data
// ---------------------------------------------------------------------------------------------------------------

struct Rng {
    std::mt19937_64 g{g_seed};
    float normal(float sd = 1.0f) { return std::normal_distribution<float>(0.0f, sd)(g); }
    float uniform(float a, float b) { return std::uniform_real_distribution<float>(a, b)(g); }
    int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(g); }
    std::vector<float> normals(int64_t n, float sd = 1.0f) {
        std::vector<float> v(n);
        for (auto& x : v) x = normal(sd);
        return v;
    }
};

std::string tname(DType t) { return lc::dtype_traits(static_cast<int32_t>(t))->name; }
int64_t block_size(DType t) { return lc::dtype_traits(static_cast<int32_t>(t))->block_size; }
size_t row_bytes(DType t, int64_t k) {
    const lc::DTypeTraits* tr = lc::dtype_traits(static_cast<int32_t>(t));
    return static_cast<size_t>(k / tr->block_size * tr->type_size);
}

const std::vector<DType> kWeightTypes = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,   DType::Q4_1,
                                         DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL, DType::Q2_K,
                                         DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,   DType::IQ4_XS};

// Byte offsets of the fp16 scale fields in a block, and whether the field may be negative (a min).
std::vector<std::pair<int, bool>> f16_fields(DType t) {
    switch (t) {
        case DType::Q4_1:
        case DType::Q5_1: return {{0, false}, {2, true}};
        case DType::Q2_K: return {{80, false}, {82, false}};
        case DType::Q3_K: return {{108, false}};
        case DType::Q4_K:
        case DType::Q5_K: return {{0, false}, {2, false}};
        case DType::Q6_K: return {{208, false}};
        default: return {{0, false}};  // d first: Q4_0, Q5_0, Q8_0, IQ4_NL, IQ4_XS
    }
}

// nrows rows of k elements of t. Quant blocks are random bytes (every bit pattern of quants, scales and high bits is
// valid) with sane fp16 scale fields; float formats hold random normal values.
std::vector<uint8_t> random_weights(DType t, int64_t nrows, int64_t k, Rng& rng) {
    const size_t rb = row_bytes(t, k);
    std::vector<uint8_t> w(rb * nrows);
    if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
        for (int64_t i = 0; i < nrows * k; ++i) {
            const float v = rng.normal();
            if (t == DType::F32) {
                std::memcpy(&w[4 * i], &v, 4);
            } else {
                const uint16_t h = t == DType::F16 ? lc::fp32_to_fp16(v) : lc::fp32_to_bf16(v);
                std::memcpy(&w[2 * i], &h, 2);
            }
        }
        return w;
    }
    for (auto& b : w) b = static_cast<uint8_t>(rng.integer(0, 255));
    const lc::DTypeTraits* tr = lc::dtype_traits(static_cast<int32_t>(t));
    for (size_t b = 0; b < w.size() / tr->type_size; ++b) {
        for (auto [off, may_be_negative] : f16_fields(t)) {
            float v = rng.uniform(0.002f, 0.02f);
            if (may_be_negative && rng.integer(0, 1)) v = -v;
            const uint16_t h = lc::fp32_to_fp16(v);
            std::memcpy(&w[b * tr->type_size + off], &h, 2);
        }
    }
    return w;
}

// Float rows to the format the weight type's dot product consumes, with the given level's quantizer.
lc::cpu::QuantizeFn act_quantizer(const Kernels& kt, DType at) {
    switch (at) {
        case DType::Q8_0: return kt.quantize_q8_0;
        case DType::Q8_1: return kt.quantize_q8_1;
        case DType::Q8_K: return kt.quantize_q8_K;
        case DType::F16: return kt.to_f16;
        case DType::BF16: return kt.to_bf16;
        default: return nullptr;
    }
}

std::vector<uint8_t> quantize_acts(const Kernels& kt, DType wtype, const std::vector<float>& x, int64_t n, int64_t k) {
    const DType at = lc::ops::act_type(wtype);
    const size_t rb = row_bytes(at, k);
    std::vector<uint8_t> q(rb * n);
    const lc::cpu::QuantizeFn f = act_quantizer(kt, at);
    for (int64_t t = 0; t < n; ++t) {
        if (f) {
            f(x.data() + t * k, q.data() + t * rb, k);
        } else {
            std::memcpy(q.data() + t * rb, x.data() + t * k, k * sizeof(float));
        }
    }
    return q;
}

// Reference dequantization (csrc/quant) of n rows of k elements.
std::vector<float> dequant_rows(DType t, const uint8_t* data, int64_t n, int64_t k) {
    std::vector<float> out(n * k);
    for (int64_t r = 0; r < n; ++r) lc::dequantize_row(t, data + r * row_bytes(t, k), out.data() + r * k, k);
    return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Part 1: the kernel table, entry by entry
// ---------------------------------------------------------------------------------------------------------------

// Rows that exercise the activation quantizers: normal data at several scales, zero blocks, rounding ties, equal
// magnitudes of both signs (Q8_K takes the first one), a constant block, and a product iscale * x that only a
// fused multiply-add would round differently (the references round the float product). k = 6 * 256.
std::vector<float> quantizer_input(Rng& rng) {
    const int64_t k = 6 * 256;
    std::vector<float> x(k);
    for (int64_t i = 0; i < k; ++i) x[i] = rng.normal(i < 256 ? 1.0f : i < 512 ? 1e-3f : 1e4f);
    float* b = x.data() + 512;  // super-block 2: zeros in its first 32 (a zero Q8_0 block)
    for (int j = 0; j < 32; ++j) b[j] = j % 2 ? 0.0f : -0.0f;
    b = x.data() + 768;  // super-block 3: ties, |max| = 127 so scale 1: x * id exact
    for (int j = 0; j < 256; ++j) b[j] = static_cast<float>((j % 200) - 100) + 0.5f;
    for (int j = 0; j < 256; j += 32) b[j] = j % 64 ? 127.0f : -127.0f;
    b = x.data() + 1024;  // super-block 4: +-5 at several places, the rest smaller
    for (int j = 0; j < 256; ++j) b[j] = rng.uniform(-4.0f, 4.0f);
    b[37] = -5.0f, b[38] = 5.0f, b[200] = 5.0f, b[3] = 4.99999f;
    b = x.data() + 1280;  // super-block 5: constant, but for a Q8_K product that rounds to a tie in float (64.5)
    for (int j = 0; j < 256; ++j) b[j] = 0.75f;
    b[0] = 0x1.860d7cp+1f;   // 3.0472865: max, iscale = -127 / max
    b[1] = -0x1.8c31fcp+0f;  // -1.5476377: iscale * x = 64.5000021 exactly, 64.5 in float: 64 unfused, 65 fused
    return x;
}

using RefQuantizer = void (*)(const float* x, void* y, int64_t k);
void ref_q8_0(const float* x, void* y, int64_t k) { lc::quantize_row_q8_0_ref(x, static_cast<lc::block_q8_0*>(y), k); }
void ref_q8_1(const float* x, void* y, int64_t k) { lc::quantize_row_q8_1_ref(x, static_cast<lc::block_q8_1*>(y), k); }
void ref_q8_K(const float* x, void* y, int64_t k) { lc::quantize_row_q8_K_ref(x, static_cast<lc::block_q8_K*>(y), k); }

void test_quantizers(const Kernels& L, const Kernels& G, Rng& rng) {
    struct Case {
        const char* name;
        DType t;
        lc::cpu::QuantizeFn lv, gen;
        RefQuantizer ref;
    };
    const Case cases[] = {{"quantize_q8_0", DType::Q8_0, L.quantize_q8_0, G.quantize_q8_0, ref_q8_0},
                          {"quantize_q8_1", DType::Q8_1, L.quantize_q8_1, G.quantize_q8_1, ref_q8_1},
                          {"quantize_q8_K", DType::Q8_K, L.quantize_q8_K, G.quantize_q8_K, ref_q8_K}};
    // the crafted rows, then 64 super-blocks of normal data at random scales (many chances for a rounding tie)
    std::vector<float> crafted = quantizer_input(rng), many(64 * 256);
    for (int64_t b = 0; b < 64; ++b) {
        const float sd = std::pow(10.0f, rng.uniform(-4.0f, 4.0f));
        for (int j = 0; j < 256; ++j) many[b * 256 + j] = rng.normal(sd);
    }
    for (const Case& c : cases) {
        for (const std::vector<float>* x : {&crafted, &many}) {
            const int64_t k = static_cast<int64_t>(x->size());
            const size_t nb = row_bytes(c.t, k);
            std::vector<uint8_t> a(nb, 0xAA), g(nb, 0x55), r(nb, 0x11);
            c.lv(x->data(), a.data(), k);
            c.gen(x->data(), g.data(), k);
            c.ref(x->data(), r.data(), k);
            const std::string what = std::string(c.name) + (x == &crafted ? " (crafted rows)" : " (random scales)");
            check_bytes(what + " vs generic", a.data(), g.data(), nb);
            check_bytes(what + " vs quants.h reference", a.data(), r.data(), nb);
            check_bytes(what + ": generic vs quants.h reference", g.data(), r.data(), nb);
        }
        // a call on a part of a row (matmul_quantize splits rows between threads by blocks)
        const int64_t qk = block_size(c.t), off = 3 * 256, k = 2 * qk;
        const size_t nb = row_bytes(c.t, k);
        std::vector<uint8_t> a(nb), g(nb);
        c.lv(crafted.data() + off, a.data(), k);
        c.gen(crafted.data() + off, g.data(), k);
        check_bytes(std::string(c.name) + " (two blocks) vs generic", a.data(), g.data(), nb);
    }
}

// float -> fp16 / bf16 on normal data and every special case of the conversions, 103 values (a tail after the
// vector loop of any width).
void test_conversions(const Kernels& L, const Kernels& G, Rng& rng) {
    std::vector<float> x = rng.normals(103, 100.0f);
    const float specials[] = {0.0f,        -0.0f,       INFINITY,  -INFINITY, NAN,           -NAN,        65504.0f,
                              65519.99f,   65520.0f,    1e5f,      6e-8f,     3e-8f,         2.98e-8f,    1e-10f,
                              5.96e-8f,    -1e-7f,      1e-40f,    3.4e38f,   1.00048828f,   1.00146484f, 1.00390625f,
                              1.01171875f, -6.1035e-5f, 6.097e-5f, 1.5e-5f,   -2.9802322e-8f};
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); ++i) x[3 * i] = specials[i];
    const int64_t k = static_cast<int64_t>(x.size());
    std::vector<uint16_t> a(k), g(k);
    L.to_f16(x.data(), a.data(), k);
    G.to_f16(x.data(), g.data(), k);
    check_bytes("to_f16 vs generic", a.data(), g.data(), k * 2);
    L.to_bf16(x.data(), a.data(), k);
    G.to_bf16(x.data(), g.data(), k);
    check_bytes("to_bf16 vs generic", a.data(), g.data(), k * 2);
}

// Dot products of every weight format with its activation format. The integer work is exact on every level; the
// block scales are applied in float, so a level may differ from generic by float rounding: budget 2e-5 of
// sum |w| |x| (w, x dequantized) per output. Outputs past nrows in each y row must be left alone.
void test_gemm(const Kernels& L, const Kernels& G, Rng& rng) {
    for (DType t : kWeightTypes) {
        const int id = static_cast<int>(t);
        if (!L.gemm[id] || !G.gemm[id]) {
            check(false, "gemm " + tname(t), "missing table entry");
            continue;
        }
        const int64_t qk = block_size(t);
        const std::vector<int64_t> ks = qk == 1    ? std::vector<int64_t>{5, 64, 100, 300}
                                        : qk == 32 ? std::vector<int64_t>{32, 96, 288}
                                                   : std::vector<int64_t>{256, 768};
        const DType at = lc::ops::act_type(t);
        for (int64_t k : ks) {
            const int64_t nrows = 13, n = 3, y_stride = nrows + 3;
            const std::vector<uint8_t> w = random_weights(t, nrows, k, rng);
            const std::vector<float> x = rng.normals(n * k);
            const std::vector<uint8_t> xq = quantize_acts(G, t, x, n, k);
            std::vector<float> yl(n * y_stride, 12345.0f), yg(n * y_stride, 12345.0f), mag(n * y_stride, 0.0f);
            L.gemm[id](w.data(), row_bytes(t, k), nrows, k, xq.data(), row_bytes(at, k), n, yl.data(), y_stride);
            G.gemm[id](w.data(), row_bytes(t, k), nrows, k, xq.data(), row_bytes(at, k), n, yg.data(), y_stride);
            const std::vector<float> wd = dequant_rows(t, w.data(), nrows, k), xd = dequant_rows(at, xq.data(), n, k);
            for (int64_t tk = 0; tk < n; ++tk) {
                for (int64_t r = 0; r < nrows; ++r) {
                    double s = 0;
                    for (int64_t i = 0; i < k; ++i) s += std::fabs(static_cast<double>(wd[r * k + i]) * xd[tk * k + i]);
                    mag[tk * y_stride + r] = static_cast<float>(s);
                }
            }
            check_close("gemm " + tname(t) + " k=" + std::to_string(k) + " vs generic", yl, yg,
                        [&](int64_t i) { return 2e-5 * mag[i] + 1e-30; });
        }
    }
}

// Dequantize entries the level overrides: bit-identical to generic (plain conversions).
void test_dequantize(const Kernels& L, const Kernels& G, Rng& rng) {
    for (DType t : kWeightTypes) {
        const int id = static_cast<int>(t);
        if (!L.dequantize[id] || L.dequantize[id] == G.dequantize[id]) continue;
        const int64_t k = 8 * block_size(t) + (block_size(t) == 1 ? 3 : 0);
        std::vector<uint8_t> w = random_weights(t, 1, k, rng);
        if (t == DType::F16) {  // specials: inf, nan, subnormals, -0
            const uint16_t sp[] = {0x7C00, 0xFC00, 0x7E00, 0x0001, 0x83FF, 0x8000, 0x7BFF};
            std::memcpy(w.data(), sp, sizeof(sp));
        }
        std::vector<float> a(k), g(k);
        L.dequantize[id](w.data(), a.data(), k);
        G.dequantize[id](w.data(), g.data(), k);
        check_bytes("dequantize " + tname(t) + " vs generic", a.data(), g.data(), k * sizeof(float));
    }
}

const std::vector<int64_t> kLengths = {1, 3, 4, 7, 16, 17, 64, 100, 576, 1000};

void test_norms(const Kernels& L, const Kernels& G, Rng& rng) {
    for (int64_t n : kLengths) {
        const std::vector<float> x = rng.normals(n, 3.0f), w = rng.normals(n), b = rng.normals(n);
        for (bool weighted : {false, true}) {
            std::vector<float> yl(n), yg(n);
            const float* wp = weighted ? w.data() : nullptr;
            L.rms_norm(x.data(), n, 1e-6f, wp, yl.data());
            G.rms_norm(x.data(), n, 1e-6f, wp, yg.data());
            // the sum of squares in float vs double: relative error of r well under 1e-5
            check_close("rms_norm n=" + std::to_string(n) + (weighted ? " with weight" : ""), yl, yg,
                        [&](int64_t i) { return 1e-5 * std::fabs(yg[i]) + 1e-30; });
            L.layer_norm(x.data(), n, 1e-5f, wp, weighted ? b.data() : nullptr, yl.data());
            G.layer_norm(x.data(), n, 1e-5f, wp, weighted ? b.data() : nullptr, yg.data());
            // x - mean can be small next to x: budget 1e-5 of |y| plus 1e-5 of the scale of (x - mean) * r * w
            double scale = 0;
            for (int64_t i = 0; i < n; ++i) scale = std::max(scale, weighted ? std::fabs(w[i]) : 1.0);
            check_close("layer_norm n=" + std::to_string(n) + (weighted ? " with weight and bias" : ""), yl, yg,
                        [&](int64_t i) { return 1e-5 * (std::fabs(yg[i]) + scale); });
        }
    }
}

void test_softmax(const Kernels& L, const Kernels& G, Rng& rng) {
    for (int64_t n : kLengths) {
        const std::vector<float> x = rng.normals(n, 4.0f);
        std::vector<float> mask(n);
        for (auto& m : mask) m = rng.integer(0, 3) == 0 ? -INFINITY : rng.normal();
        for (int64_t vis : {n, n / 2, int64_t{0}}) {
            for (bool masked : {false, true}) {
                std::vector<float> yl(n, 7.0f), yg(n, 7.0f);
                L.softmax(x.data(), n, 0.7f, masked ? mask.data() : nullptr, vis, yl.data());
                G.softmax(x.data(), n, 0.7f, masked ? mask.data() : nullptr, vis, yg.data());
                check_close(
                    "softmax n=" + std::to_string(n) + " visible=" + std::to_string(vis) + (masked ? " masked" : ""),
                    yl, yg, [&](int64_t i) { return 1e-5 * yg[i] + 1e-7; });
            }
        }
        // exp_sum and vscale, the online-softmax primitives of attention
        std::vector<float> yl(n), yg(n);
        const float sl = L.exp_sum(x.data(), 1.5f, yl.data(), n), sg = G.exp_sum(x.data(), 1.5f, yg.data(), n);
        check_close("exp_sum n=" + std::to_string(n) + " values", yl, yg,
                    [&](int64_t i) { return 2e-6 * std::fabs(yg[i]) + 1e-30; });
        check_close("exp_sum n=" + std::to_string(n) + " sum", &sl, &sg, 1, [&](int64_t) { return 1e-5 * sg; });
        L.vscale(yl.data(), 0.3f, n);
        G.vscale(yg.data(), 0.3f, n);
        check_close("vscale n=" + std::to_string(n), yl, yg,
                    [&](int64_t i) { return 3e-6 * std::fabs(yg[i]) + 1e-30; });
    }
}

void test_rope_rotate(const Kernels& L, const Kernels& G, Rng& rng) {
    for (int64_t n_pairs : {1, 3, 4, 5, 16, 33, 64}) {
        std::vector<float> cs(2 * n_pairs);
        for (int64_t i = 0; i < n_pairs; ++i) {
            const float th = rng.uniform(-50.0f, 50.0f), m = rng.uniform(0.5f, 1.5f);
            cs[2 * i] = std::cos(th) * m, cs[2 * i + 1] = std::sin(th) * m;
        }
        for (bool neox : {false, true}) {
            const int64_t n = 2 * n_pairs + 3, s0 = neox ? 1 : 2, off = neox ? n_pairs : 1;
            const std::vector<float> x = rng.normals(n);
            std::vector<float> yl(n, 9.0f), yg(n, 9.0f);
            L.rope_rotate(x.data(), yl.data(), cs.data(), n_pairs, s0, off);
            G.rope_rotate(x.data(), yg.data(), cs.data(), n_pairs, s0, off);
            auto budget = [&](int64_t) { return 1e-6 * 4.0 * 2.0; };  // |x| < ~4 here, |c|, |s| < 1.5
            const std::string name =
                std::string("rope_rotate ") + (neox ? "neox" : "normal") + " pairs=" + std::to_string(n_pairs);
            check_close(name, yl, yg, budget);
            std::vector<float> il = x, ig = x;  // in place
            L.rope_rotate(il.data(), il.data(), cs.data(), n_pairs, s0, off);
            G.rope_rotate(ig.data(), ig.data(), cs.data(), n_pairs, s0, off);
            check_close(name + " in place", il, ig, budget);
        }
    }
}

// Inputs for the element-wise functions: normal data, then large, tiny and special values.
std::vector<float> elementwise_input(Rng& rng, int64_t n) {
    std::vector<float> x = rng.normals(n, 3.0f);
    const float sp[] = {-100.0f, -20.0f, -5.0f, 0.0f, -0.0f, 5.0f, 20.0f, 100.0f, 88.5f, 89.0f, -88.0f, 1e-30f, -9.0f};
    for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]) && i < static_cast<size_t>(n); ++i) x[i] = sp[i];
    return x;
}

const char* const kUnaryNames[9] = {"silu", "gelu", "gelu_erf", "relu", "tanh", "neg", "sqr", "sqrt", "exp"};
const char* const kGluNames[3] = {"swiglu", "geglu", "geglu_erf"};

// Budget of unary op u at input x with generic output y: exp and the sigmoid forms come from a polynomial exp
// (a few ulp); gelu's generic form 0.5 x (1 + tanh) cancels for negative x, so it is only good to 1e-7 |x|.
double unary_budget(int u, float x, float y) {
    switch (u) {
        case 0:
        case 8: return 2e-6 * std::fabs(y) + 1e-30;
        case 1:
        case 2:
        case 4: return 2e-6 * std::fabs(y) + 1e-6 * std::max(1.0f, std::fabs(x));
        default: return 0.0;  // relu, neg, sqr, sqrt: one correctly rounded operation
    }
}

void test_elementwise(const Kernels& L, const Kernels& G, Rng& rng) {
    for (int64_t n : {int64_t{13}, int64_t{100}, int64_t{1000}}) {
        const std::vector<float> x = elementwise_input(rng, n), u = rng.normals(n);
        for (int op = 0; op < 9; ++op) {
            if (L.unary[op] == G.unary[op]) continue;
            std::vector<float> xi = x;
            if (op == 7) {
                for (auto& v : xi) v = std::fabs(v);
            }
            std::vector<float> yl(n), yg(n);
            L.unary[op](xi.data(), yl.data(), n);
            G.unary[op](xi.data(), yg.data(), n);
            check_close(std::string("unary ") + kUnaryNames[op] + " n=" + std::to_string(n), yl, yg,
                        [&](int64_t i) { return unary_budget(op, xi[i], yg[i]); });
        }
        for (int op = 0; op < 3; ++op) {
            if (L.glu[op] == G.glu[op]) continue;
            std::vector<float> yl(n), yg(n);
            L.glu[op](x.data(), u.data(), yl.data(), n);
            G.glu[op](x.data(), u.data(), yg.data(), n);
            check_close(std::string("glu ") + kGluNames[op] + " n=" + std::to_string(n), yl, yg, [&](int64_t i) {
                return 2e-6 * std::fabs(yg[i]) +
                       (op == 0 ? 1e-30 : 1e-6 * std::max(1.0f, std::fabs(x[i])) * std::fabs(u[i]));
            });
        }
        std::vector<float> yl(n), yg(n);
        L.add(x.data(), u.data(), yl.data(), n);
        G.add(x.data(), u.data(), yg.data(), n);
        check_close("add n=" + std::to_string(n), yl, yg, [](int64_t) { return 0.0; });
        L.mul(x.data(), u.data(), yl.data(), n);
        G.mul(x.data(), u.data(), yg.data(), n);
        check_close("mul n=" + std::to_string(n), yl, yg, [](int64_t) { return 0.0; });
        L.scale(x.data(), -0.37f, 0.25f, yl.data(), n);
        G.scale(x.data(), -0.37f, 0.25f, yg.data(), n);
        // x * s + b fused or not: one rounding of x * s apart
        check_close("scale n=" + std::to_string(n), yl, yg,
                    [&](int64_t i) { return 2.4e-7 * (std::fabs(x[i] * 0.37) + 0.25); });
    }
}

// KV-cache rows: F32, F16, Q8_0 of n floats.
std::vector<uint8_t> cache_row(int slot, const std::vector<float>& v) {
    const DType t = slot == 0 ? DType::F32 : slot == 1 ? DType::F16 : DType::Q8_0;
    const int64_t n = static_cast<int64_t>(v.size());
    std::vector<uint8_t> out(row_bytes(t, n));
    lc::quantize_row_ref(t, v.data(), out.data(), n);
    return out;
}

void test_attention_rows(const Kernels& L, const Kernels& G, Rng& rng) {
    const char* names[3] = {"F32", "F16", "Q8_0"};
    for (int slot = 0; slot < 3; ++slot) {
        for (int64_t n : {5, 17, 32, 40, 64, 96, 128, 256}) {
            if (slot == 2 && n % 32) continue;
            const std::vector<float> q = rng.normals(n), v = rng.normals(n), y0 = rng.normals(n);
            const std::vector<uint8_t> row = cache_row(slot, v);
            std::vector<float> vd(n);
            lc::dequantize_row(slot == 0 ? DType::F32 : slot == 1 ? DType::F16 : DType::Q8_0, row.data(), vd.data(), n);
            double mag = 0;
            for (int64_t i = 0; i < n; ++i) mag += std::fabs(static_cast<double>(q[i]) * vd[i]);
            const float dl = L.kdot[slot](q.data(), row.data(), n), dg = G.kdot[slot](q.data(), row.data(), n);
            check_close(std::string("kdot ") + names[slot] + " n=" + std::to_string(n), &dl, &dg, 1,
                        [&](int64_t) { return 1e-5 * mag; });
            std::vector<float> yl = y0, yg = y0;
            L.vaxpy[slot](-0.6f, row.data(), yl.data(), n);
            G.vaxpy[slot](-0.6f, row.data(), yg.data(), n);
            check_close(std::string("vaxpy ") + names[slot] + " n=" + std::to_string(n), yl, yg,
                        [&](int64_t i) { return 2.4e-7 * (std::fabs(y0[i]) + 0.6 * std::fabs(vd[i])); });
        }
    }
}

void test_table(lc::CpuLevel level, Rng& rng) {
    const Kernels& L = lc::cpu::kernels_for(level);
    const Kernels& G = lc::cpu::kernels_for(lc::CpuLevel::generic);
    test_quantizers(L, G, rng);
    test_conversions(L, G, rng);
    test_gemm(L, G, rng);
    test_dequantize(L, G, rng);
    test_norms(L, G, rng);
    test_softmax(L, G, rng);
    test_rope_rotate(L, G, rng);
    test_elementwise(L, G, rng);
    test_attention_rows(L, G, rng);
}

// ---------------------------------------------------------------------------------------------------------------
// Part 2: the public API (llamacore/ops.h) at the level, on a pool of two threads, against generic
// ---------------------------------------------------------------------------------------------------------------

// f() run with the level selected, then with generic; the level is restored.
template <class F>
auto at_levels(lc::CpuLevel level, F&& f) {
    const lc::CpuLevel old = lc::cpu_level();
    lc::set_cpu_level(level);
    auto a = f();
    lc::set_cpu_level(lc::CpuLevel::generic);
    auto g = f();
    lc::set_cpu_level(old);
    return std::make_pair(a, g);
}

// Relative Frobenius error of the matmul against float64 W @ X with X unquantized: what rounding X to the
// activation format costs. Over 40 outputs it varies with the data: Q8 reaches 2.1% on some seeds, 4% is the budget
// (a wrong block layout or scale gives errors of order 100%).
double loose_budget(DType at) {
    switch (at) {
        case DType::F32: return 1e-6;
        case DType::F16: return 2e-3;
        case DType::BF16: return 1.5e-2;
        default: return 4e-2;  // Q8_0, Q8_1, Q8_K
    }
}

void test_api_matmul(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    for (DType t : kWeightTypes) {
        if (!lc::ops::matmul_supported(t)) {
            check(false, "matmul " + tname(t), "not supported");
            continue;
        }
        const int64_t qk = block_size(t), k = qk == 1 ? 100 : qk == 32 ? 160 : 512;
        // (40 rows, 1 token): the rows are split between the threads; (20 rows, 7 tokens): the tokens are
        for (auto [nrows, n] : {std::pair<int64_t, int64_t>{40, 1}, {20, 7}}) {
            const int64_t x_stride = k + 4, y_stride = nrows + 2;
            const size_t rb = row_bytes(t, k);
            const std::vector<uint8_t> w = random_weights(t, nrows, k, rng);
            const std::vector<float> x = rng.normals(n * x_stride);
            auto [yl, yg] = at_levels(level, [&] {
                std::vector<float> y(n * y_stride, 0.0f);
                lc::ops::matmul(pool, t, w.data(), rb, nrows, k, x.data(), x_stride, n, y.data(), y_stride);
                return y;
            });
            const std::vector<float> wd = dequant_rows(t, w.data(), nrows, k);
            std::vector<double> ref(n * y_stride, 0.0), mag(n * y_stride, 0.0);
            for (int64_t tk = 0; tk < n; ++tk) {
                for (int64_t r = 0; r < nrows; ++r) {
                    double s = 0, a = 0;
                    for (int64_t i = 0; i < k; ++i) {
                        const double p = static_cast<double>(wd[r * k + i]) * x[tk * x_stride + i];
                        s += p, a += std::fabs(p);
                    }
                    ref[tk * y_stride + r] = s, mag[tk * y_stride + r] = a;
                }
            }
            const std::string name =
                "matmul " + tname(t) + " rows=" + std::to_string(nrows) + " n=" + std::to_string(n);
            // the level against generic: same integer sums, float rounding only (activation rounding differs from
            // sum |w| |x| by a few %, hence 4e-5 rather than the table test's 2e-5)
            check_close(name + " vs generic", yl, yg, [&](int64_t i) { return 4e-5 * mag[i] + 1e-30; });
            double err = 0, nrm = 0;
            for (size_t i = 0; i < ref.size(); ++i) err += (yl[i] - ref[i]) * (yl[i] - ref[i]), nrm += ref[i] * ref[i];
            const double rel = std::sqrt(err / nrm), budget = loose_budget(lc::ops::act_type(t));
            check(rel <= budget, name + " vs float64 W @ X", strf("relative error %.3g > %.3g", rel, budget));
        }
    }
}

void test_api_get_rows(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    for (DType t : kWeightTypes) {
        const int64_t n_cols = 2 * block_size(t) * (block_size(t) == 1 ? 33 : 1), n_rows = 9;
        const std::vector<int32_t> ids = {3, 0, 8, 3, 5};
        try {
            lc::ops::check_get_rows(t, n_cols, ids.data(), static_cast<int64_t>(ids.size()), n_rows);
        } catch (const std::invalid_argument&) {
            continue;  // not an embedding type of this build
        }
        const size_t rb = row_bytes(t, n_cols);
        const std::vector<uint8_t> table = random_weights(t, n_rows, n_cols, rng);
        const int64_t n = static_cast<int64_t>(ids.size());
        auto [yl, yg] = at_levels(level, [&] {
            std::vector<float> y(n * n_cols);
            pool.run([&](int ith, int nth) {
                lc::ops::get_rows(t, table.data(), rb, n_cols, ids.data(), n, y.data(), n_cols, ith, nth);
            });
            return y;
        });
        std::vector<float> ref(n * n_cols);
        for (int64_t i = 0; i < n; ++i)
            lc::dequantize_row(t, table.data() + ids[i] * rb, ref.data() + i * n_cols, n_cols);
        check_bytes("get_rows " + tname(t) + " vs generic", yl.data(), yg.data(), yl.size() * 4);
        check_bytes("get_rows " + tname(t) + " vs quants.h dequantize", yl.data(), ref.data(), yl.size() * 4);
    }
}

void test_api_norms(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    const int64_t n_rows = 5, n_cols = 576, stride = 600;
    const std::vector<float> x = rng.normals(n_rows * stride, 2.0f), w = rng.normals(n_cols), b = rng.normals(n_cols);
    for (bool in_place : {false, true}) {
        auto [rl, rg] = at_levels(level, [&] {
            std::vector<float> y = x;  // in place: y is x
            pool.run([&](int ith, int nth) {
                lc::ops::rms_norm(in_place ? y.data() : x.data(), stride, n_rows, n_cols, 1e-6f, w.data(), y.data(),
                                  stride, ith, nth);
            });
            return y;
        });
        check_close(std::string("ops::rms_norm") + (in_place ? " in place" : ""), rl, rg,
                    [&](int64_t i) { return 1e-5 * std::fabs(rg[i]) + 1e-30; });
        auto [ll, lg] = at_levels(level, [&] {
            std::vector<float> y = x;
            pool.run([&](int ith, int nth) {
                lc::ops::layer_norm(in_place ? y.data() : x.data(), stride, n_rows, n_cols, 1e-5f, w.data(), b.data(),
                                    y.data(), stride, ith, nth);
            });
            return y;
        });
        check_close(std::string("ops::layer_norm") + (in_place ? " in place" : ""), ll, lg,
                    [&](int64_t i) { return 1e-5 * (std::fabs(lg[i]) + 4.0); });
    }
}

void test_api_rope(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    const int64_t n_tokens = 3, n_heads = 4, head_dim = 64;
    const std::vector<int32_t> pos = {0, 7, 1000};
    const std::vector<float> x = rng.normals(n_tokens * n_heads * head_dim);
    std::vector<float> ff(head_dim / 2);
    for (auto& f : ff) f = rng.uniform(1.0f, 8.0f);
    struct Case {
        const char* name;
        int mode, n_dims;
        bool freq_factors, yarn;
    };
    const Case cases[] = {{"normal", lc::ops::ROPE_NORMAL, 64, false, false},
                          {"neox", lc::ops::ROPE_NEOX, 64, false, false},
                          {"normal, 32 of 64 dims", lc::ops::ROPE_NORMAL, 32, false, false},
                          {"neox, 32 of 64 dims", lc::ops::ROPE_NEOX, 32, false, false},
                          {"neox, freq_factors", lc::ops::ROPE_NEOX, 64, true, false},
                          {"normal, YaRN", lc::ops::ROPE_NORMAL, 64, false, true}};
    for (const Case& c : cases) {
        lc::ops::RopeParams p;
        p.n_dims = c.n_dims;
        p.mode = c.mode;
        p.freq_base = 500000.0f;
        if (c.freq_factors) p.freq_factors = ff.data();
        if (c.yarn) p.ext_factor = 1.0f, p.freq_scale = 0.25f, p.n_ctx_orig = 4096;
        lc::ops::check_rope(p, head_dim);
        for (bool in_place : {false, true}) {
            auto [yl, yg] = at_levels(level, [&] {
                std::vector<float> y = x;
                pool.run([&](int ith, int nth) {
                    lc::ops::rope(in_place ? y.data() : x.data(), n_heads * head_dim, head_dim, n_tokens, n_heads,
                                  head_dim, pos.data(), p, y.data(), n_heads * head_dim, head_dim, ith, nth);
                });
                return y;
            });
            check_close(std::string("ops::rope ") + c.name + (in_place ? " in place" : ""), yl, yg,
                        [&](int64_t) { return 1e-6 * 4.0 * 2.0; });
        }
    }
}

void test_api_softmax(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    const int64_t n_rows = 4, n_cols = 70;
    const std::vector<float> x = rng.normals(n_rows * n_cols, 3.0f);
    std::vector<float> mask(n_rows * n_cols);
    for (auto& m : mask) m = rng.integer(0, 4) == 0 ? -INFINITY : rng.normal();
    for (int64_t j = 0; j < n_cols; ++j) mask[2 * n_cols + j] = -INFINITY;  // row 2: nothing visible
    for (bool masked : {false, true}) {
        for (int64_t causal : {int64_t{-1}, int64_t{30}}) {
            auto [yl, yg] = at_levels(level, [&] {
                std::vector<float> y(n_rows * n_cols);
                pool.run([&](int ith, int nth) {
                    lc::ops::softmax(x.data(), n_cols, n_rows, n_cols, 0.125f, masked ? mask.data() : nullptr, n_cols,
                                     causal, y.data(), n_cols, ith, nth);
                });
                return y;
            });
            check_close(std::string("ops::softmax") + (masked ? " masked" : "") + (causal >= 0 ? " causal" : ""), yl,
                        yg, [&](int64_t i) { return 1e-5 * yg[i] + 1e-7; });
        }
    }
}

// Attention against generic and against a float64 reference computed here from the dequantized cache.
void test_api_attention(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    struct Case {
        DType kt, vt;
        int64_t n_tokens, head_dim;
        float softcap;
        int32_t window;
        bool mask;
    };
    const Case cases[] = {
        {DType::F16, DType::F16, 1, 64, 0.0f, 0, false},   {DType::F16, DType::F16, 4, 64, 0.0f, 0, false},
        {DType::Q8_0, DType::Q8_0, 1, 64, 0.0f, 0, false}, {DType::Q8_0, DType::Q8_0, 4, 64, 0.0f, 0, false},
        {DType::F32, DType::F32, 3, 40, 0.0f, 0, false},   {DType::F16, DType::F16, 3, 40, 0.0f, 0, false},
        {DType::F16, DType::Q8_0, 4, 64, 1.5f, 0, false},  {DType::Q8_0, DType::F16, 4, 64, 0.0f, 16, false},
        {DType::F16, DType::F16, 4, 64, 1.5f, 16, false},  {DType::F16, DType::F16, 4, 64, 0.0f, 0, true},
        {DType::Q8_0, DType::Q8_0, 2, 96, 1.5f, 0, true},
    };
    const int64_t n_head = 8, n_head_kv = 2, n_kv = 70;  // 70 cells: a full block of 64 and a partial one
    for (const Case& c : cases) {
        lc::ops::AttentionParams p;
        p.n_tokens = c.n_tokens, p.n_head = n_head, p.n_head_kv = n_head_kv;
        p.head_dim = p.head_dim_v = c.head_dim, p.n_kv = n_kv;
        p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
        p.softcap = c.softcap, p.sliding_window = c.window;
        p.k_type = c.kt, p.v_type = c.vt;
        p.k_head_stride = row_bytes(c.kt, c.head_dim), p.k_cell_stride = n_head_kv * p.k_head_stride;
        p.v_head_stride = row_bytes(c.vt, c.head_dim), p.v_cell_stride = n_head_kv * p.v_head_stride;
        p.q_head_stride = c.head_dim, p.q_token_stride = n_head * c.head_dim;
        p.out_head_stride = c.head_dim, p.out_token_stride = n_head * c.head_dim;
        // the cache: cells at positions 0..69, with two empty cells (position -1)
        std::vector<int32_t> kv_pos(n_kv), q_pos(c.n_tokens);
        for (int64_t j = 0; j < n_kv; ++j) kv_pos[j] = j == 11 || j == 66 ? -1 : static_cast<int32_t>(j);
        for (int64_t t = 0; t < c.n_tokens; ++t) q_pos[t] = static_cast<int32_t>(n_kv - c.n_tokens + t);
        std::vector<float> kf = rng.normals(n_kv * n_head_kv * c.head_dim, 2.0f),
                           vf = rng.normals(n_kv * n_head_kv * c.head_dim);
        std::vector<uint8_t> kc(n_kv * p.k_cell_stride), vc(n_kv * p.v_cell_stride);
        lc::quantize_row_ref(c.kt, kf.data(), kc.data(), static_cast<int64_t>(kf.size()));
        lc::quantize_row_ref(c.vt, vf.data(), vc.data(), static_cast<int64_t>(vf.size()));
        lc::dequantize_row(c.kt, kc.data(), kf.data(), static_cast<int64_t>(kf.size()));  // what the cache holds
        lc::dequantize_row(c.vt, vc.data(), vf.data(), static_cast<int64_t>(vf.size()));
        const std::vector<float> q = rng.normals(c.n_tokens * n_head * c.head_dim);
        std::vector<float> mask;
        if (c.mask) {
            mask.resize(c.n_tokens * n_kv);
            for (auto& m : mask) m = rng.integer(0, 2) == 0 ? -INFINITY : rng.normal(0.5f);
            for (int64_t j = 0; j < n_kv; ++j) mask[j] = -INFINITY;  // token 0 sees nothing: zeros
            p.mask = mask.data(), p.mask_stride = n_kv;
        } else {
            p.q_pos = q_pos.data(), p.kv_pos = kv_pos.data();
        }
        lc::ops::check_attention(p);
        auto [ol, og] = at_levels(level, [&] {
            std::vector<float> out(c.n_tokens * n_head * c.head_dim, 5.0f);
            std::vector<uint8_t> ws(lc::ops::attention_wsize(p, pool.n_threads()));
            pool.run([&](int ith, int nth) {
                lc::ops::attention(p, q.data(), kc.data(), vc.data(), out.data(), ws.data(), ith, nth);
            });
            return out;
        });
        // float64 reference
        std::vector<float> ref(ol.size(), 0.0f);
        for (int64_t t = 0; t < c.n_tokens; ++t) {
            for (int64_t h = 0; h < n_head; ++h) {
                const int64_t hk = h / (n_head / n_head_kv);
                std::vector<double> s(n_kv, -INFINITY);
                double mx = -INFINITY;
                for (int64_t j = 0; j < n_kv; ++j) {
                    double off = 0;
                    if (c.mask) {
                        off = mask[t * n_kv + j];
                    } else {
                        const bool vis = kv_pos[j] >= 0 && kv_pos[j] <= q_pos[t] &&
                                         (c.window <= 0 || q_pos[t] - kv_pos[j] < c.window);
                        off = vis ? 0.0 : -INFINITY;
                    }
                    if (off == -INFINITY) continue;
                    double d = 0;
                    for (int64_t i = 0; i < c.head_dim; ++i) {
                        d += static_cast<double>(q[(t * n_head + h) * c.head_dim + i]) *
                             kf[(j * n_head_kv + hk) * c.head_dim + i];
                    }
                    d *= p.scale;
                    if (c.softcap > 0) d = c.softcap * std::tanh(d / c.softcap);
                    s[j] = d + off;
                    mx = std::max(mx, s[j]);
                }
                if (mx == -INFINITY) continue;  // sees nothing: zeros
                double sum = 0;
                for (auto& e : s) sum += (e = std::exp(e - mx));
                for (int64_t i = 0; i < c.head_dim; ++i) {
                    double o = 0;
                    for (int64_t j = 0; j < n_kv; ++j) o += s[j] * vf[(j * n_head_kv + hk) * c.head_dim + i];
                    ref[(t * n_head + h) * c.head_dim + i] = static_cast<float>(o / sum);
                }
            }
        }
        const std::string name =
            strf("ops::attention K %s V %s tokens=%lld head_dim=%lld%s%s%s", tname(c.kt).c_str(), tname(c.vt).c_str(),
                 static_cast<long long>(c.n_tokens), static_cast<long long>(c.head_dim),
                 c.softcap > 0 ? " softcap" : "", c.window > 0 ? " sliding window" : "", c.mask ? " mask" : "");
        // outputs are convex combinations of V rows (|v| < ~5): float rounding of scores and weights only
        check_close(name + " vs generic", ol, og, [](int64_t) { return 2e-6 * 5.0; });
        check_close(name + " vs float64", ol, ref, [](int64_t) { return 2e-5 * 5.0; });
    }
}

void test_api_elementwise(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    const int64_t n_rows = 3, n_cols = 100, stride = 104;
    std::vector<float> x = rng.normals(n_rows * stride, 3.0f);
    const std::vector<float> u = rng.normals(n_rows * stride), b = rng.normals(n_cols);
    for (int op = 0; op < 9; ++op) {
        std::vector<float> xi = x;
        if (op == 7) {
            for (auto& v : xi) v = std::fabs(v);
        }
        auto [yl, yg] = at_levels(level, [&] {
            std::vector<float> y(n_rows * stride, 0.0f);
            pool.run([&](int ith, int nth) {
                lc::ops::unary(static_cast<lc::ops::Unary>(op), xi.data(), stride, n_rows, n_cols, y.data(), stride,
                               ith, nth);
            });
            return y;
        });
        check_close(std::string("ops::unary ") + kUnaryNames[op], yl, yg,
                    [&](int64_t i) { return unary_budget(op, xi[i], yg[i]); });
    }
    for (int op = 0; op < 3; ++op) {
        auto [yl, yg] = at_levels(level, [&] {
            std::vector<float> y(n_rows * stride, 0.0f);
            pool.run([&](int ith, int nth) {
                lc::ops::glu(static_cast<lc::ops::Glu>(op), x.data(), stride, u.data(), stride, n_rows, n_cols,
                             y.data(), stride, ith, nth);
            });
            return y;
        });
        check_close(std::string("ops::glu ") + kGluNames[op], yl, yg, [&](int64_t i) {
            return 2e-6 * std::fabs(yg[i]) + 1e-6 * std::max(1.0f, std::fabs(x[i])) * std::fabs(u[i]);
        });
    }
    for (int op = 0; op < 3; ++op) {  // add with a broadcast row, mul in place, scale
        auto [yl, yg] = at_levels(level, [&] {
            std::vector<float> y = x;
            pool.run([&](int ith, int nth) {
                if (op == 0) lc::ops::add(x.data(), stride, b.data(), 0, n_rows, n_cols, y.data(), stride, ith, nth);
                if (op == 1)
                    lc::ops::mul(y.data(), stride, u.data(), stride, n_rows, n_cols, y.data(), stride, ith, nth);
                if (op == 2) lc::ops::scale(x.data(), stride, n_rows, n_cols, 0.3f, -1.0f, y.data(), stride, ith, nth);
            });
            return y;
        });
        const char* names[3] = {"ops::add (broadcast row)", "ops::mul (in place)", "ops::scale"};
        check_close(names[op], yl, yg,
                    [&](int64_t i) { return op == 2 ? 2.4e-7 * (std::fabs(x[i]) * 0.3 + 1.0) : 0.0; });
    }
}

void test_api_copy_rows(lc::CpuLevel level, lc::ThreadPool& pool, Rng& rng) {
    const int64_t n_rows = 3, n_cols = 96;
    const std::vector<float> x = rng.normals(n_rows * n_cols, 10.0f);
    const std::vector<int32_t> rows = {4, 0, 2};
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
        lc::ops::check_copy_rows(t, n_cols);
        const size_t rb = row_bytes(t, n_cols);
        auto [cl, cg] = at_levels(level, [&] {
            std::vector<uint8_t> dst(5 * rb, 0);
            pool.run([&](int ith, int nth) {
                lc::ops::copy_rows(x.data(), n_cols, n_rows, n_cols, t, dst.data(), rb, rows.data(), ith, nth);
            });
            return dst;
        });
        check_bytes("ops::copy_rows to " + tname(t) + " vs generic", cl.data(), cg.data(), cl.size());
    }
}

void test_api(lc::CpuLevel level, Rng& rng) {
    lc::ThreadPool pool(2);
    test_api_matmul(level, pool, rng);
    test_api_get_rows(level, pool, rng);
    test_api_norms(level, pool, rng);
    test_api_rope(level, pool, rng);
    test_api_softmax(level, pool, rng);
    test_api_attention(level, pool, rng);
    test_api_elementwise(level, pool, rng);
    test_api_copy_rows(level, pool, rng);
}

// The thread pool's spin barrier: after barrier(), each thread sees what every other thread wrote before it (plain
// stores, ordered by the barrier alone). Under qemu the guest threads are host threads.
void test_threadpool() {
    lc::ThreadPool pool(4);
    constexpr int kPad = 16;  // a cache line per thread
    std::vector<int> slot(4 * kPad, -1), stale(4 * kPad, 0);
    for (int round = 0; round < 200; ++round) {
        pool.run([&](int ith, int nth) {
            for (int step = 0; step < 3; ++step) {
                slot[ith * kPad] = round * 3 + step;
                pool.barrier();
                for (int j = 0; j < nth; ++j) stale[ith * kPad] += slot[j * kPad] != round * 3 + step;
                pool.barrier();  // nobody writes the next value before everyone has read this one
            }
        });
    }
    int n_stale = 0;
    for (int i = 0; i < 4; ++i) n_stale += stale[i * kPad];
    check(pool.n_threads() == 4, "thread pool has 4 threads");
    check(n_stale == 0, "thread pool barrier orders the threads' writes", strf("%d stale reads", n_stale));
}

// Which entries of the level's table are its own (the rest are generic's).
std::string overridden(const Kernels& L, const Kernels& G) {
    std::string own, gen;
    auto note = [&](bool mine, const std::string& name) {
        std::string& list = mine ? own : gen;
        list += (list.empty() ? "" : " ") + name;
    };
    for (DType t : kWeightTypes) note(L.gemm[static_cast<int>(t)] != G.gemm[static_cast<int>(t)], "gemm:" + tname(t));
    note(L.quantize_q8_0 != G.quantize_q8_0, "quantize_q8_0");
    note(L.quantize_q8_1 != G.quantize_q8_1, "quantize_q8_1");
    note(L.quantize_q8_K != G.quantize_q8_K, "quantize_q8_K");
    note(L.to_f16 != G.to_f16, "to_f16");
    note(L.to_bf16 != G.to_bf16, "to_bf16");
    note(L.rms_norm != G.rms_norm, "rms_norm");
    note(L.layer_norm != G.layer_norm, "layer_norm");
    note(L.softmax != G.softmax, "softmax");
    note(L.rope_rotate != G.rope_rotate, "rope_rotate");
    for (int i = 0; i < 9; ++i) note(L.unary[i] != G.unary[i], kUnaryNames[i]);
    for (int i = 0; i < 3; ++i) note(L.glu[i] != G.glu[i], kGluNames[i]);
    note(L.add != G.add, "add");
    note(L.mul != G.mul, "mul");
    note(L.scale != G.scale, "scale");
    const char* slots[3] = {"F32", "F16", "Q8_0"};
    for (int i = 0; i < 3; ++i) note(L.kdot[i] != G.kdot[i], std::string("kdot:") + slots[i]);
    for (int i = 0; i < 3; ++i) note(L.vaxpy[i] != G.vaxpy[i], std::string("vaxpy:") + slots[i]);
    note(L.vscale != G.vscale, "vscale");
    note(L.exp_sum != G.exp_sum, "exp_sum");
    return "own: " + (own.empty() ? "-" : own) + "\n  generic: " + (gen.empty() ? "-" : gen);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<lc::CpuLevel> levels;
    for (int i = 1; i < argc; ++i) {
        lc::CpuLevel l;
        if (std::string(argv[i]) == "--verbose") {
            g_verbose = true;
        } else if (std::string(argv[i]) == "--seed" && i + 1 < argc) {
            g_seed = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::string(argv[i]) == "--expect-selected" && i + 1 < argc &&
                   lc::cpu_level_from_name(argv[i + 1], &l)) {
            g_level = "dispatch";
            check(lc::cpu_level() == l, std::string("the level selected at start-up is ") + argv[i + 1],
                  lc::system_info());
            ++i;
        } else if (std::string(argv[i]) == "--level" && i + 1 < argc && lc::cpu_level_from_name(argv[i + 1], &l)) {
            if (!lc::cpu_level_supported(l)) {
                std::printf("FAIL level %s cannot run here (compiled: %d) -- %s\n", argv[i + 1],
                            lc::cpu_level_compiled(l) ? 1 : 0, lc::system_info().c_str());
                std::printf("0 passed, 1 failed\n");
                return 1;
            }
            levels.push_back(l);
            ++i;
        } else {
            std::printf(
                "usage: %s [--verbose] [--seed N] [--expect-selected LEVEL] [--level LEVEL]...  (LEVEL: generic, avx2, "
                "avx512, neon)\n",
                argv[0]);
            return 2;
        }
    }
    if (levels.empty()) {
        for (lc::CpuLevel l : {lc::CpuLevel::avx2, lc::CpuLevel::avx512, lc::CpuLevel::neon}) {
            if (lc::cpu_level_supported(l)) levels.push_back(l);
        }
    }
    if (levels.empty()) levels.push_back(lc::CpuLevel::generic);  // still checks generic against the references
    std::printf("%s\n", lc::system_info().c_str());
    g_level = "threadpool";
    test_threadpool();
    for (lc::CpuLevel level : levels) {
        g_level = lc::cpu_level_name(level);
        const int p0 = g_passed, f0 = g_failed;
        Rng rng;
        test_table(level, rng);
        test_api(level, rng);
        std::printf("[%s] %d passed, %d failed\n  %s\n", g_level.c_str(), g_passed - p0, g_failed - f0,
                    overridden(lc::cpu::kernels_for(level), lc::cpu::kernels_for(lc::CpuLevel::generic)).c_str());
    }
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
