// CPU kernels of llamacore: the API the graph runtime calls.
//
// Conventions
// - Plain pointers and shapes. Matrices are row-major; a "row stride" is in elements for float arrays and in bytes
//   for typed (possibly block-quantized) arrays. Shapes are given numpy-style here: x[n, k] has n rows of k.
// - Every kernel takes (ith, nth): thread ith of nth does its share and touches nothing else, so the runtime can call
//   it from all threads of a ThreadPool run. Kernels do not allocate; where scratch memory is needed the caller
//   passes a work buffer sized by the matching *_wsize() query. Single-threaded use: ith = 0, nth = 1.
// - Kernels do not validate their arguments in the hot path: call the check_*() helpers (they throw
//   std::invalid_argument with a clear message) once when a graph is planned.
// - Each kernel dispatches on lc::cpu_level() at call time (generic, avx2, avx512 or neon), so set_cpu_level()
//   takes effect at once. All levels compute the same function; results differ only by float rounding, except the
//   activation quantizers, which are bit-identical across levels.
// - Batch shape and rounding: a token's result does not depend on the thread count. It can depend, in the last bits,
//   on how many tokens share the call: AVX-512 matmul with 8 or more tokens and attention with 64 or more tokens use
//   matrix-matrix kernels whose float summation order differs from the one-token kernels (llama.cpp behaves alike).
//   Below those sizes, and on the generic and AVX2 levels for matmul, results are bit-identical to one-token calls.
#pragma once

#include <cstddef>
#include <cstdint>

#include "llamacore/dtype.h"

namespace lc {
class ThreadPool;
}

namespace lc::ops {

// [begin, end) of thread ith's share of n items, in chunks that are multiples of `align` (except the last).
void split_range(int64_t n, int ith, int nth, int64_t* begin, int64_t* end, int64_t align = 1);

// ---------------------------------------------------------------------------------------------------------------
// Matrix multiplication: Y[n, nrows] = X[n, k] @ W[nrows, k]^T, W in any weight format, X and Y float32.
//
// Two phases, as in llama.cpp, because the activations are first converted to the format the weight type's dot
// product consumes (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants and IQ4_XS, F16 for
// F16, BF16 for BF16, F32 for F32):
//   1. matmul_quantize: X -> work buffer (all threads, each a share of the rows/blocks);
//   2. barrier;
//   3. matmul_compute: dot products (all threads, each a share of the weight rows).
// The quantized activations may be reused by several matmuls with weights of the same act_type (Q, K and V
// projections of one normed input): quantize once, compute three times.
// ---------------------------------------------------------------------------------------------------------------

bool matmul_supported(DType wtype);            // the formats listed in weight_formats()
DType act_type(DType wtype);                   // activation format for this weight type (throws if unsupported)
size_t act_row_bytes(DType wtype, int64_t k);  // bytes of one quantized activation row
size_t matmul_wsize(DType wtype, int64_t n, int64_t k);  // work buffer bytes for n activation rows (64-aligned)
// Throws std::invalid_argument unless wtype is supported and k is a multiple of its block size.
void check_matmul(DType wtype, int64_t k);

// Phase 1. x: [n, k] f32 with row stride x_stride (elements). wdata: matmul_wsize(wtype, n, k) bytes.
void matmul_quantize(DType wtype, const float* x, int64_t x_stride, int64_t n, int64_t k, void* wdata, int ith,
                     int nth);
// Phase 3. w: [nrows, k] of wtype, row stride w_stride bytes. xq: phase 1's output for n rows.
// y: [n, nrows] f32 with row stride y_stride (elements): y[t * y_stride + r] = dot(W row r, X row t).
void matmul_compute(DType wtype, const void* w, size_t w_stride, int64_t nrows, int64_t k, const void* xq, int64_t n,
                    float* y, int64_t y_stride, int ith, int nth);
// Both phases on a pool (eager use: tests, benchmarks). wdata may be null (then allocated here).
void matmul(ThreadPool& pool, DType wtype, const void* w, size_t w_stride, int64_t nrows, int64_t k, const float* x,
            int64_t x_stride, int64_t n, float* y, int64_t y_stride, void* wdata = nullptr);

// Activation quantizers (bit-identical on every level to the scalar references of csrc/quant/quants.h).
// k must be a multiple of 32 (Q8_0, Q8_1) or 256 (Q8_K). y: k / block blocks.
void quantize_row_q8_0(const float* x, void* y, int64_t k);
void quantize_row_q8_1(const float* x, void* y, int64_t k);
void quantize_row_q8_K(const float* x, void* y, int64_t k);

// ---------------------------------------------------------------------------------------------------------------
// Embedding lookup: out[i, :] = dequantize(table row ids[i]). table: rows of n_cols elements of type t (any weight
// format), row stride in bytes. ids are not checked here (check_get_rows does).
// ---------------------------------------------------------------------------------------------------------------
void get_rows(DType t, const void* table, size_t row_stride, int64_t n_cols, const int32_t* ids, int64_t n_ids,
              float* out, int64_t out_stride, int ith, int nth);
// Throws std::invalid_argument if t cannot be dequantized, n_cols is not a multiple of its block, or an id is
// outside [0, n_rows).
void check_get_rows(DType t, int64_t n_cols, const int32_t* ids, int64_t n_ids, int64_t n_rows);
// One row to float (any weight format): y[k].
void dequantize_row(DType t, const void* x, float* y, int64_t k);

// ---------------------------------------------------------------------------------------------------------------
// Normalisation over the last dimension of x[n_rows, n_cols]. weight (and bias) [n_cols] may be null. In place
// (y == x) is allowed.
//   rms_norm:   y = x / sqrt(mean(x^2) + eps) * weight
//   layer_norm: y = (x - mean) / sqrt(var + eps) * weight + bias
// ---------------------------------------------------------------------------------------------------------------
void rms_norm(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float eps, const float* weight,
              float* y, int64_t y_stride, int ith, int nth);
void layer_norm(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float eps, const float* weight,
                const float* bias, float* y, int64_t y_stride, int ith, int nth);

// ---------------------------------------------------------------------------------------------------------------
// Rotary position embedding, ggml's rope with llama.cpp's parameter names.
// x: [n_tokens, n_heads, head_dim] with strides (elements) token_stride and head_stride; y likewise (may be x).
// pos[n_tokens]: the position of each token. The first n_dims of each head are rotated, the rest copied.
//   mode ROPE_NORMAL rotates adjacent pairs (x[2i], x[2i+1]); ROPE_NEOX rotates halves (x[i], x[i + n_dims/2]).
//   theta_i = pos * freq_base^(-2i/n_dims) / freq_factors[i]   (freq_factors: llama3's rope_freqs.weight, or null)
//   YaRN when ext_factor != 0 (beta_fast, beta_slow, n_ctx_orig as in ggml_rope_yarn_corr_dims); freq_scale is
//   linear position interpolation; attn_factor scales cos and sin.
// ---------------------------------------------------------------------------------------------------------------
enum RopeMode : int { ROPE_NORMAL = 0, ROPE_NEOX = 2 };
struct RopeParams {
    int n_dims = 0;  // rotated dimensions (<= head_dim, even)
    int mode = ROPE_NORMAL;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;
    float ext_factor = 0.0f;
    float attn_factor = 1.0f;
    float beta_fast = 32.0f;
    float beta_slow = 1.0f;
    int n_ctx_orig = 0;
    const float* freq_factors = nullptr;  // [n_dims / 2] or null
};
void check_rope(const RopeParams& p, int64_t head_dim);
void rope(const float* x, int64_t token_stride, int64_t head_stride, int64_t n_tokens, int64_t n_heads,
          int64_t head_dim, const int32_t* pos, const RopeParams& p, float* y, int64_t y_token_stride,
          int64_t y_head_stride, int ith, int nth);

// ---------------------------------------------------------------------------------------------------------------
// Softmax over the last dimension of x[n_rows, n_cols]: y = softmax(x * scale + mask).
// mask: [n_rows, n_cols] additive (-INFINITY hides), row stride mask_stride, or null.
// causal_offset >= 0 additionally hides column j of row i when j > i + causal_offset (decode after n_past tokens:
// causal_offset = n_past); -1 disables it. A row with every column hidden becomes all zeros.
// ---------------------------------------------------------------------------------------------------------------
void softmax(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float scale, const float* mask,
             int64_t mask_stride, int64_t causal_offset, float* y, int64_t y_stride, int ith, int nth);

// ---------------------------------------------------------------------------------------------------------------
// Attention over a KV cache, streaming K and V once per query-head group (online softmax, flash-attention style).
//   q:   [n_tokens, n_head, head_dim] f32, strides q_token_stride / q_head_stride (elements)
//   K:   cache cells [n_kv, n_head_kv, head_dim] of k_type (F32, F16 or Q8_0), strides in bytes
//   V:   cache cells [n_kv, n_head_kv, head_dim_v] of v_type (F32, F16 or Q8_0), strides in bytes
//   out: [n_tokens, n_head, head_dim_v] f32, strides in elements
// Query head h reads KV head h / (n_head / n_head_kv) (grouped-query attention).
// score(t, j) = scale * q_t . k_j; softcap > 0: score = softcap * tanh(score / softcap) (Gemma 2); then + mask.
// Visibility of cell j to token t:
//   mask != null: mask[t * mask_stride + j] is added (additive, -INFINITY hides; built by the caller, e.g. for
//                 several sequences in one batch); positions are not used.
//   mask == null: kv_pos[j] >= 0 and kv_pos[j] <= q_pos[t] (causal; kv_pos < 0 = empty cell), and when
//                 sliding_window > 0 also q_pos[t] - kv_pos[j] < sliding_window.
// A token that sees no cell gets zeros. wdata: attention_wsize(...) bytes.
// ---------------------------------------------------------------------------------------------------------------
struct AttentionParams {
    int64_t n_tokens = 0, n_head = 0, n_head_kv = 0, head_dim = 0, head_dim_v = 0;
    int64_t n_kv = 0;  // cache cells to scan
    float scale = 1.0f;
    float softcap = 0.0f;
    int32_t sliding_window = 0;
    DType k_type = DType::F16, v_type = DType::F16;
    size_t k_cell_stride = 0, k_head_stride = 0;  // bytes
    size_t v_cell_stride = 0, v_head_stride = 0;  // bytes
    int64_t q_token_stride = 0, q_head_stride = 0;
    int64_t out_token_stride = 0, out_head_stride = 0;
    const float* mask = nullptr;
    int64_t mask_stride = 0;
    const int32_t* q_pos = nullptr;   // [n_tokens]
    const int32_t* kv_pos = nullptr;  // [n_kv]
};
void check_attention(const AttentionParams& p);
size_t attention_wsize(const AttentionParams& p, int nth);
void attention(const AttentionParams& p, const float* q, const void* k, const void* v, float* out, void* wdata, int ith,
               int nth);

// ---------------------------------------------------------------------------------------------------------------
// Element-wise ops on [n_rows, n_cols] float arrays with row strides (elements). In place (y == a) is allowed.
// b_stride = 0 broadcasts one row of b over every row (bias, per-channel scale).
// ---------------------------------------------------------------------------------------------------------------
enum class Unary : int { silu, gelu, gelu_erf, relu, tanh, neg, sqr, sqrt, exp, count };
enum class Glu : int { swiglu, geglu, geglu_erf, count };  // y = act(gate) * up
constexpr int kNumUnary = static_cast<int>(Unary::count);
constexpr int kNumGlu = static_cast<int>(Glu::count);
void unary(Unary op, const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float* y, int64_t y_stride,
           int ith, int nth);
void glu(Glu op, const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t n_rows,
         int64_t n_cols, float* y, int64_t y_stride, int ith, int nth);
void add(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n_rows, int64_t n_cols, float* y,
         int64_t y_stride, int ith, int nth);
void mul(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n_rows, int64_t n_cols, float* y,
         int64_t y_stride, int ith, int nth);
// y = x * s + bias
void scale(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, float s, float bias, float* y,
           int64_t y_stride, int ith, int nth);

// ---------------------------------------------------------------------------------------------------------------
// Copy/convert float rows into a typed array (KV-cache writes): dst row rows[i] (or i when rows is null) of dst_type
// (F32, F16, BF16 or Q8_0; n_cols a multiple of 32 for Q8_0) = x row i. dst_stride in bytes.
// ---------------------------------------------------------------------------------------------------------------
void check_copy_rows(DType dst_type, int64_t n_cols);
void copy_rows(const float* x, int64_t x_stride, int64_t n_rows, int64_t n_cols, DType dst_type, void* dst,
               size_t dst_stride, const int32_t* rows, int ith, int nth);

}  // namespace lc::ops
