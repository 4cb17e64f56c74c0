// Every SIMD kernel level this CPU runs (NEON under qemu-aarch64 in CI; AVX2 and AVX-512 natively) against the
// generic (scalar) level, op by op: activation quantizers and format conversions bit for bit, matmul of every
// weight format and the float ops within error budgets, and the ops.h entry points (rope, attention, get_rows,
// softmax) through set_cpu_level. Exit status 0 when everything passes; one line per failure otherwise.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "llamacore/cpu.h"
#include "llamacore/ops.h"
#include "llamacore/threadpool.h"
#include "quant/fp16.h"
#include "quant/quants.h"

using namespace lc;
using lc::cpu::Kernels;

namespace {

int g_fail = 0, g_checks = 0;
std::string g_ctx;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        ++g_checks;                                                                       \
        if (!(cond)) {                                                                    \
            ++g_fail;                                                                     \
            std::fprintf(stderr, "FAIL [%s] %s:%d: ", g_ctx.c_str(), __FILE__, __LINE__); \
            std::fprintf(stderr, __VA_ARGS__);                                            \
            std::fputc('\n', stderr);                                                     \
        }                                                                                 \
    } while (0)

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ULL + 1) {}
    uint32_t u32() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<uint32_t>(s >> 11);
    }
    float uniform() { return (u32() >> 8) * (1.0f / 16777216.0f); }
    float normal() {
        const float u1 = uniform() + 1e-7f, u2 = uniform();
        return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
    }
};

std::vector<float> normals(Rng& r, size_t n, float scale = 1.0f) {
    std::vector<float> v(n);
    for (auto& x : v) x = r.normal() * scale;
    return v;
}

// Offsets of fp16 scale fields in each weight block (and whether they may be negative).
struct Field {
    int off;
    bool sign;
};
std::vector<Field> f16_fields(DType t) {
    switch (t) {
        case DType::Q4_0:
        case DType::Q5_0:
        case DType::Q8_0:
        case DType::IQ4_NL:
        case DType::IQ4_XS: return {{0, false}};
        case DType::Q4_1:
        case DType::Q5_1: return {{0, false}, {2, true}};
        case DType::Q2_K: return {{80, false}, {82, false}};
        case DType::Q3_K: return {{108, false}};
        case DType::Q4_K:
        case DType::Q5_K: return {{0, false}, {2, false}};
        case DType::Q6_K: return {{208, false}};
        default: return {};
    }
}

// Raw rows of a weight type: random bytes (all bit patterns of quants are valid) with sane fp16 scales; float types
// get random normal values.
std::vector<uint8_t> random_weights(DType t, int64_t nrows, int64_t k, Rng& r) {
    const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
    const size_t rb = row_bytes(*tr, k);
    std::vector<uint8_t> w(rb * nrows);
    if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
        for (int64_t i = 0; i < nrows * k; ++i) {
            const float v = r.normal();
            if (t == DType::F32) std::memcpy(&w[4 * i], &v, 4);
            const uint16_t h = t == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
            if (t != DType::F32) std::memcpy(&w[2 * i], &h, 2);
        }
        return w;
    }
    for (auto& b : w) b = static_cast<uint8_t>(r.u32());
    const int64_t nb = k / tr->block_size;
    for (int64_t row = 0; row < nrows; ++row) {
        for (int64_t b = 0; b < nb; ++b) {
            for (const Field& f : f16_fields(t)) {
                float v = 0.002f + 0.018f * r.uniform();
                if (f.sign && (r.u32() & 1)) v = -v;
                const uint16_t h = fp32_to_fp16(v);
                std::memcpy(&w[row * rb + b * tr->type_size + f.off], &h, 2);
            }
        }
    }
    return w;
}

const Kernels& G() { return cpu::kernels_for(CpuLevel::generic); }

// ---------------------------------------------------------------------------------------------------------------

void test_quantizers(const Kernels& L) {
    Rng r(1);
    for (int64_t k : {256, 768, 4096}) {
        std::vector<float> x = normals(r, 6 * k);
        for (int64_t i = 0; i < k; ++i) {
            x[k + i] *= 1e-3f;                                // fp16-subnormal scales
            if (i < k / 2) x[2 * k + i] = 0.0f;               // zero blocks
            x[3 * k + i] = std::round(x[3 * k + i] * 4) / 4;  // rounding ties
            x[4 * k + i] *= 100.0f;
            if (i % 7 == 0) x[5 * k + i] = -50.0f;  // largest magnitude negative (Q8_K's signed max)
        }
        struct Q {
            const char* name;
            cpu::QuantizeFn g, l;
            size_t bytes;
        } qs[] = {
            {"q8_0", G().quantize_q8_0, L.quantize_q8_0, sizeof(block_q8_0) * (k / 32)},
            {"q8_1", G().quantize_q8_1, L.quantize_q8_1, sizeof(block_q8_1) * (k / 32)},
            {"q8_K", G().quantize_q8_K, L.quantize_q8_K, sizeof(block_q8_K) * (k / 256)},
            {"f16", G().to_f16, L.to_f16, 2 * static_cast<size_t>(k)},
            {"bf16", G().to_bf16, L.to_bf16, 2 * static_cast<size_t>(k)},
        };
        for (const Q& q : qs) {
            for (int row = 0; row < 6; ++row) {
                std::vector<uint8_t> a(q.bytes), b(q.bytes);
                q.g(x.data() + row * k, a.data(), k);
                q.l(x.data() + row * k, b.data(), k);
                CHECK(a == b, "%s k=%lld row %d differs from the reference", q.name, (long long)k, row);
            }
        }
        // the generic level is the reference itself
        std::vector<block_q8_K> ref(k / 256), got(k / 256);
        quantize_row_q8_K_ref(x.data() + 5 * k, ref.data(), k);
        G().quantize_q8_K(x.data() + 5 * k, got.data(), k);
        CHECK(std::memcmp(ref.data(), got.data(), ref.size() * sizeof(block_q8_K)) == 0, "generic q8_K != reference");
    }
}

DType act_of(DType w) { return ops::act_type(w); }

void dequant_act(DType at, const uint8_t* q, float* y, int64_t k) {
    switch (at) {
        case DType::F32: std::memcpy(y, q, 4 * k); break;
        case DType::F16:
        case DType::BF16:
        case DType::Q8_0:
        case DType::Q8_1:
        case DType::Q8_K: dequantize_row(at, q, y, k); break;
        default: break;
    }
}

void test_gemm(const Kernels& L) {
    Rng r(2);
    const DType types[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,   DType::Q4_1,
                           DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K,   DType::Q3_K,
                           DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};
    struct Shape {
        int64_t nrows, n;
    } shapes[] = {{9, 1}, {16, 2}, {5, 5}, {7, 17}};
    for (DType t : types) {
        const int64_t qk = dtype_traits(static_cast<int32_t>(t))->block_size;
        std::vector<int64_t> ks = qk == 1    ? std::vector<int64_t>{5, 64, 100}
                                  : qk == 32 ? std::vector<int64_t>{32, 96, 288}
                                             : std::vector<int64_t>{256, 768};
        for (int64_t k : ks) {
            for (const Shape& s : shapes) {
                const std::vector<uint8_t> w = random_weights(t, s.nrows, k, r);
                const size_t ws = w.size() / s.nrows;
                const std::vector<float> x = normals(r, s.n * k);
                const size_t xs = ops::act_row_bytes(t, k);
                std::vector<uint8_t> xq(xs * s.n);
                ops::matmul_quantize(t, x.data(), k, s.n, k, xq.data(), 0, 1);  // bit-identical on every level
                std::vector<float> yg(s.n * s.nrows), yl(s.n * s.nrows);
                G().gemm[static_cast<int>(t)](w.data(), ws, s.nrows, k, xq.data(), xs, s.n, yg.data(), s.nrows);
                L.gemm[static_cast<int>(t)](w.data(), ws, s.nrows, k, xq.data(), xs, s.n, yl.data(), s.nrows);
                // budget: float rounding of block sums, relative to sum |w| |x| of the row pair
                std::vector<float> wd(k), xd(k);
                for (int64_t row = 0; row < s.nrows; ++row) {
                    dequantize_row(t, w.data() + row * ws, wd.data(), k);
                    for (int64_t tok = 0; tok < s.n; ++tok) {
                        dequant_act(act_of(t), xq.data() + tok * xs, xd.data(), k);
                        double bound = 0;
                        for (int64_t i = 0; i < k; ++i) bound += std::fabs(wd[i] * xd[i]);
                        const float a = yg[tok * s.nrows + row], b = yl[tok * s.nrows + row];
                        CHECK(std::fabs(a - b) <= 2e-5 * bound + 1e-30,
                              "gemm %s k=%lld %lldx%lld [%lld,%lld]: %g vs %g",
                              dtype_traits(static_cast<int32_t>(t))->name, (long long)k, (long long)s.nrows,
                              (long long)s.n, (long long)tok, (long long)row, a, b);
                    }
                }
            }
        }
    }
}

bool close(float a, float b, float rtol, float atol) { return std::fabs(a - b) <= atol + rtol * std::fabs(b); }

void compare(const char* what, const std::vector<float>& got, const std::vector<float>& want, float rtol, float atol) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        if (!close(got[i], want[i], rtol, atol) && bad++ == 0) first = i;
    }
    CHECK(bad == 0, "%s: %zu of %zu values off, first at %zu: %g vs %g", what, bad, want.size(), first,
          bad ? got[first] : 0.0f, bad ? want[first] : 0.0f);
}

void test_float_ops(const Kernels& L) {
    Rng r(3);
    for (int64_t n : {1, 3, 16, 37, 576, 1037}) {
        std::vector<float> x = normals(r, n, 3.0f), u = normals(r, n), w = normals(r, n), b = normals(r, n);
        std::vector<float> yg(n), yl(n);
        G().rms_norm(x.data(), n, 1e-6f, w.data(), yg.data());
        L.rms_norm(x.data(), n, 1e-6f, w.data(), yl.data());
        compare("rms_norm", yl, yg, 2e-5f, 1e-6f);
        G().layer_norm(x.data(), n, 1e-5f, w.data(), b.data(), yg.data());
        L.layer_norm(x.data(), n, 1e-5f, w.data(), b.data(), yl.data());
        compare("layer_norm", yl, yg, 2e-5f, 5e-6f);
        const char* un[] = {"silu", "gelu", "gelu_erf", "relu", "tanh", "neg", "sqr", "sqrt", "exp"};
        for (int op = 0; op < 9; ++op) {
            std::vector<float> in = x;
            if (op == 7)
                for (auto& v : in) v = std::fabs(v);
            G().unary[op](in.data(), yg.data(), n);
            L.unary[op](in.data(), yl.data(), n);
            compare(un[op], yl, yg, 5e-6f, op == 1 || op == 2 ? 2e-6f : 1e-7f);
        }
        const char* gl[] = {"swiglu", "geglu", "geglu_erf"};
        for (int op = 0; op < 3; ++op) {
            G().glu[op](x.data(), u.data(), yg.data(), n);
            L.glu[op](x.data(), u.data(), yl.data(), n);
            compare(gl[op], yl, yg, 5e-6f, 5e-6f);
        }
        G().add(x.data(), u.data(), yg.data(), n);
        L.add(x.data(), u.data(), yl.data(), n);
        compare("add", yl, yg, 0, 0);
        G().mul(x.data(), u.data(), yg.data(), n);
        L.mul(x.data(), u.data(), yl.data(), n);
        compare("mul", yl, yg, 0, 0);
        G().scale(x.data(), 0.3f, 1.5f, yg.data(), n);
        L.scale(x.data(), 0.3f, 1.5f, yl.data(), n);
        compare("scale", yl, yg, 1e-6f, 1e-6f);
        // softmax with a mask and a visible prefix
        std::vector<float> mask(n);
        for (int64_t i = 0; i < n; ++i) mask[i] = (i % 5 == 2) ? -INFINITY : 0.1f * u[i];
        const int64_t vis = n - n / 3;
        G().softmax(x.data(), n, 0.7f, mask.data(), vis, yg.data());
        L.softmax(x.data(), n, 0.7f, mask.data(), vis, yl.data());
        compare("softmax", yl, yg, 1e-5f, 1e-8f);
        float sg = G().exp_sum(x.data(), 2.0f, yg.data(), n), sl = L.exp_sum(x.data(), 2.0f, yl.data(), n);
        compare("exp_sum values", yl, yg, 5e-6f, 0);
        CHECK(close(sl, sg, 1e-5f, 0), "exp_sum total %g vs %g", sl, sg);
        // rope rotation, both layouts
        if (n % 2 == 0 || n == 37) {
            const int64_t pairs = n / 2;
            std::vector<float> cs = normals(r, 2 * pairs);
            for (int neox = 0; neox < 2; ++neox) {
                std::fill(yg.begin(), yg.end(), 0.0f);
                std::fill(yl.begin(), yl.end(), 0.0f);
                G().rope_rotate(x.data(), yg.data(), cs.data(), pairs, neox ? 1 : 2, neox ? pairs : 1);
                L.rope_rotate(x.data(), yl.data(), cs.data(), pairs, neox ? 1 : 2, neox ? pairs : 1);
                compare("rope_rotate", yl, yg, 1e-6f, 1e-6f);
            }
        }
        // KV primitives on each cache type
        if (n % 32 == 0) {
            std::vector<uint16_t> kh(n);
            for (int64_t i = 0; i < n; ++i) kh[i] = fp32_to_fp16(u[i]);
            std::vector<block_q8_0> k8(n / 32);
            quantize_row_q8_0_ref(u.data(), k8.data(), n);
            const void* caches[3] = {u.data(), kh.data(), k8.data()};
            for (int slot = 0; slot < 3; ++slot) {
                const float dg = G().kdot[slot](x.data(), caches[slot], n),
                            dl = L.kdot[slot](x.data(), caches[slot], n);
                CHECK(close(dl, dg, 1e-4f, 1e-4f), "kdot slot %d: %g vs %g", slot, dl, dg);
                yg = w;
                yl = w;
                G().vaxpy[slot](0.37f, caches[slot], yg.data(), n);
                L.vaxpy[slot](0.37f, caches[slot], yl.data(), n);
                compare("vaxpy", yl, yg, 1e-6f, 1e-6f);
            }
            std::vector<float> fg(n), fl(n);
            G().dequantize[static_cast<int>(DType::F16)](kh.data(), fg.data(), n);
            L.dequantize[static_cast<int>(DType::F16)](kh.data(), fl.data(), n);
            compare("dequantize F16", fl, fg, 0, 0);
        }
        yg = x;
        yl = x;
        G().vscale(yg.data(), 0.25f, n);
        L.vscale(yl.data(), 0.25f, n);
        compare("vscale", yl, yg, 0, 0);
    }
}

// ops.h entry points under set_cpu_level (rope, attention, get_rows, softmax, matmul through the pool).
template <class F>
std::vector<float> at_level(CpuLevel lvl, F&& f) {
    const CpuLevel old = cpu_level();
    set_cpu_level(lvl);
    std::vector<float> out = f();
    set_cpu_level(old);
    return out;
}

void test_ops_api(CpuLevel lvl) {
    Rng r(4);
    ThreadPool pool(3);
    // rope: normal and neox, YaRN and freq factors
    {
        const int64_t T = 3, H = 2, D = 64;
        const std::vector<float> x = normals(r, T * H * D);
        const int32_t pos[T] = {0, 7, 1000};
        std::vector<float> ff(32);
        for (auto& v : ff) v = 1.0f + 3.0f * r.uniform();
        for (int mode : {ops::ROPE_NORMAL, ops::ROPE_NEOX}) {
            ops::RopeParams p;
            p.n_dims = 48;
            p.mode = mode;
            p.freq_base = 10000.0f;
            p.freq_scale = 0.5f;
            p.ext_factor = 1.0f;
            p.n_ctx_orig = 2048;
            p.freq_factors = ff.data();
            auto run = [&] {
                std::vector<float> y(x.size());
                ops::rope(x.data(), H * D, D, T, H, D, pos, p, y.data(), H * D, D, 0, 1);
                return y;
            };
            compare("ops::rope", at_level(lvl, run), at_level(CpuLevel::generic, run), 1e-5f, 1e-5f);
        }
    }
    // attention over an f16 cache with GQA, sliding window and soft-capping, on 3 threads
    for (DType ct : {DType::F16, DType::F32, DType::Q8_0}) {
        ops::AttentionParams p;
        p.n_tokens = 3;
        p.n_head = 4;
        p.n_head_kv = 2;
        p.head_dim = p.head_dim_v = 64;
        p.n_kv = 150;
        p.scale = 0.125f;
        p.softcap = 30.0f;
        p.sliding_window = 100;
        p.k_type = p.v_type = ct;
        const size_t eb = row_bytes(*dtype_traits(static_cast<int32_t>(ct)), p.head_dim);
        p.k_head_stride = p.v_head_stride = eb;
        p.k_cell_stride = p.v_cell_stride = eb * p.n_head_kv;
        p.q_token_stride = p.out_token_stride = p.n_head * p.head_dim;
        p.q_head_stride = p.out_head_stride = p.head_dim;
        std::vector<int32_t> qpos = {147, 148, 149}, kvpos(p.n_kv);
        for (int64_t j = 0; j < p.n_kv; ++j) kvpos[j] = static_cast<int32_t>(j);
        kvpos[20] = -1;
        p.q_pos = qpos.data();
        p.kv_pos = kvpos.data();
        ops::check_attention(p);
        const std::vector<float> q = normals(r, p.n_tokens * p.n_head * p.head_dim);
        const std::vector<float> kf = normals(r, p.n_kv * p.n_head_kv * p.head_dim);
        const std::vector<float> vf = normals(r, p.n_kv * p.n_head_kv * p.head_dim);
        std::vector<uint8_t> kc(eb * p.n_head_kv * p.n_kv), vc(kc.size());
        ops::copy_rows(kf.data(), p.head_dim, p.n_kv * p.n_head_kv, p.head_dim, ct, kc.data(), eb, nullptr, 0, 1);
        ops::copy_rows(vf.data(), p.head_dim, p.n_kv * p.n_head_kv, p.head_dim, ct, vc.data(), eb, nullptr, 0, 1);
        std::vector<uint8_t> ws(ops::attention_wsize(p, pool.n_threads()));
        auto run = [&] {
            std::vector<float> out(p.n_tokens * p.n_head * p.head_dim_v);
            pool.run([&](int ith, int nth) {
                ops::attention(p, q.data(), kc.data(), vc.data(), out.data(), ws.data(), ith, nth);
            });
            return out;
        };
        compare("ops::attention", at_level(lvl, run), at_level(CpuLevel::generic, run), 1e-4f, 2e-5f);
    }
    // get_rows of a Q4_K table, matmul through the pool
    {
        const int64_t k = 512, rows = 20;
        const std::vector<uint8_t> tab = random_weights(DType::Q4_K, rows, k, r);
        const size_t rb = tab.size() / rows;
        const int32_t ids[4] = {19, 0, 3, 3};
        auto run = [&] {
            std::vector<float> out(4 * k);
            ops::get_rows(DType::Q4_K, tab.data(), rb, k, ids, 4, out.data(), k, 0, 1);
            return out;
        };
        compare("ops::get_rows", at_level(lvl, run), at_level(CpuLevel::generic, run), 0, 0);
        const std::vector<float> x = normals(r, 5 * k);
        auto mm = [&] {
            std::vector<float> y(5 * rows);
            ops::matmul(pool, DType::Q4_K, tab.data(), rb, rows, k, x.data(), k, 5, y.data(), rows);
            return y;
        };
        compare("ops::matmul", at_level(lvl, mm), at_level(CpuLevel::generic, mm), 1e-4f, 1e-4f);
    }
}

void test_threadpool() {
    ThreadPool pool(4);
    std::vector<int> slot(4 * 16, 0);
    int bad = 0;
    for (int run = 0; run < 50; ++run) {
        pool.run([&](int ith, int nth) {
            for (int b = 0; b < 3; ++b) {
                slot[ith * 16] = run * 10 + b;
                pool.barrier();
                for (int j = 0; j < nth; ++j)
                    if (slot[j * 16] != run * 10 + b) __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
                pool.barrier();
            }
        });
    }
    CHECK(bad == 0, "thread pool barrier let %d reads through early", bad);
}

}  // namespace

int main() {
    std::printf("%s\n", system_info().c_str());
    test_threadpool();
    int tested = 0;
    for (CpuLevel lvl : {CpuLevel::avx2, CpuLevel::avx512, CpuLevel::neon}) {
        if (!cpu_level_supported(lvl)) continue;
        ++tested;
        g_ctx = cpu_level_name(lvl);
        const Kernels& L = cpu::kernels_for(lvl);
        test_quantizers(L);
        test_gemm(L);
        test_float_ops(L);
        test_ops_api(lvl);
        std::printf("level %s checked against generic\n", g_ctx.c_str());
    }
    if (tested == 0) std::printf("no SIMD level runs here: only the generic level and the thread pool were checked\n");
    std::printf("%d checks, %d failures\n", g_checks, g_fail);
    return g_fail == 0 ? 0 : 1;
}
