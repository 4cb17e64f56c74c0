// The graph runtime: a model's forward pass as a list of nodes, planned once and executed in one call.
//
// Python (llamacore.graph) records the nodes of one architecture once per model; Program takes that description,
// checks it (runtime/checker.cpp), fuses neighbours into steps (runtime/fusions.cpp: one activation quantization
// shared by matmuls of the same input, rms_norm folded into that quantization, bias / residual add / glu in the
// matmul epilogue, norm + add, per-head q/k norm + rope, the KV-cache store in the rope of k), plans it
// (runtime/planner.cpp: a barrier only where a step needs what another thread wrote, arena offsets with
// lifetime-based reuse) and runs it on a persistent thread pool (runtime/executor.cpp): every thread walks the whole
// step list, each doing its (ith, nth) share of every step. A Llama layer is 10 steps and 10 barriers.
// One Program serves every batch size up to max_tokens: rows of activations are symbolic (the number of tokens of
// the call, or the number of output rows asked for); only the call's inputs change.
//
// A token's results do not depend on the batch around it as far as the runtime goes (row-wise ops, matmul columns
// split the same way, attention cell ranges aligned); the kernels decide the rest.
//
// Tensors are 2-D [rows, cols], row-major. Activations are float32; weights keep their GGUF type and are read in
// place (the caller keeps the memory alive: a read-only mmap). A view is a column range of another tensor with the
// base's row stride (the q/k/v parts of a fused projection).
//
// Per-call inputs (Batch): token ids, positions, sequence ids of the n_tokens rows, and the rows whose logits are
// wanted. The KV cache (KVCache below) lives in the Program; attention nodes write the batch's keys and values into
// it and attend over what each token's sequence holds.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llamacore/dtype.h"

namespace lc {
class ThreadPool;
}

namespace lc::graph {

// How many rows a tensor has in a call.
enum class Rows : int32_t {
    fixed = 0,    // a constant (weights)
    tokens = 1,   // the call's n_tokens
    outputs = 2,  // the call's n_outputs (rows picked by select_rows)
};

enum class TensorKind : int32_t {
    intermediate = 0,  // float32, placed in the arena by the planner
    weight = 1,        // caller memory of any weight type, read only
    input = 2,         // int32 per-call input (see Input)
    output = 3,        // float32, the caller's logits buffer [n_outputs, cols]
    view = 4,          // columns [col_offset, col_offset + cols) of tensor `base`
};

enum class Input : int32_t { tokens = 0, positions = 1 };

struct TensorSpec {
    TensorKind kind = TensorKind::intermediate;
    Rows rows_kind = Rows::tokens;
    int64_t rows = 0;  // Rows::fixed only
    int64_t cols = 0;
    // weight
    DType dtype = DType::F32;
    const void* data = nullptr;
    size_t row_bytes = 0;  // bytes per row (0: contiguous, computed from dtype and cols)
    // input
    Input input = Input::tokens;
    // view
    int32_t base = -1;
    int64_t col_offset = 0;
    std::string name;  // for error messages
};

// The graph's ops. Everything the runtime knows of an op besides its kernels is its row of the op table
// (op_info below, rows in runtime/op_table.cpp): name, inputs, parameter fields, shape rule, fusions.
enum class Op : int32_t {
    get_rows = 0,      // out[N, c] = dequantize(in0[in1[i]])        in0 weight table, in1 = tokens input
    matmul = 1,        // out[R, r] = in1[R, k] @ in0[r, k]^T (+ in2[r]) in0 weight, in2 optional F32 bias weight
    rms_norm = 2,      // out = in0 / rms(in0) * in1                    in1 optional F32 weight
    rope = 3,          // out = rope(in0, positions)                    in1 = positions input, in2 optional factors
    attention = 4,     // out[N, n_head*dv] = attention(q=in0, k=in1, v=in2) over the KV cache of layer `layer`
    add = 5,           // out = in0 + in1                               in1 may have 1 row (broadcast)
    mul = 6,           // out = in0 * in1                               in1 may have 1 row (broadcast)
    scale = 7,         // out = in0 * scale + bias
    glu = 8,           // out = act(in0) * in1                          kind: ops::Glu
    unary = 9,         // out = act(in0)                                kind: ops::Unary
    softcap = 10,      // out = softcap * tanh(in0 / softcap)
    select_rows = 11,  // out[O, c] = in0[out_rows]                     the call's output rows
    layer_norm = 12,   // out = (in0 - mean) / sqrt(var + eps) * in1 + in2   in1, in2 optional F32 weights
    count              // number of ops (sizes the op table)
};
constexpr int kNumOps = static_cast<int>(Op::count);

constexpr int kMaxInputs = 4;

// A node's parameters, by name. An op uses the fields its op-table row lists; the others keep these defaults.
// Python passes them as a dict keyed by field name; bind_graph.cpp rejects a field the op does not take and a
// field it takes but was not given.
struct NodeParams {
    float eps = 0.0f;   // rms_norm, layer_norm
    int64_t group = 0;  // rms_norm: normalise each run of `group` columns (0: the whole row; per-head q/k norms)
    // rope (ggml_rope_ext's parameters) and attention
    int64_t n_head = 0, head_dim = 0;
    int64_t n_dims = 0, mode = 0, n_ctx_orig = 0;  // mode: ops::RopeMode
    float freq_base = 0.0f, freq_scale = 0.0f, ext_factor = 0.0f, attn_factor = 0.0f, beta_fast = 0.0f,
          beta_slow = 0.0f;
    int64_t layer = 0, n_head_kv = 0, head_dim_v = 0, sliding_window = 0;  // attention (layer: its KV layer)
    float scale = 0.0f;    // attention: score scale; scale: the multiplier
    float softcap = 0.0f;  // attention: score soft-cap (0: none); softcap: the cap
    float bias = 0.0f;     // scale: added after the multiplier
    int64_t kind = 0;      // glu: ops::Glu; unary: ops::Unary
};

// One named field of NodeParams: exactly one of the member pointers is set.
struct ParamField {
    const char* name;
    int64_t NodeParams::* i;
    float NodeParams::* f;
};
constexpr int kMaxOpParams = 12;

// How an op's output shape follows from its inputs (the checker applies it; Python's builder mirrors it).
enum class ShapeRule : int32_t {
    like_input = 0,   // [rows of in0, cols of in0]
    lookup = 1,       // [tokens, cols of the table in0]
    matmul = 2,       // [rows of in1, rows of the weight in0]
    attention = 3,    // [rows of in0, n_head * head_dim_v]
    select_rows = 4,  // [outputs, cols of in0]
};

// Fusions (runtime/fusions.cpp) an op may be taken into; an op not listed in a fusion's flag is never fused by it.
enum Fusion : uint32_t {
    kFuseSharedQuant = 1u << 0,   // matmul: reuse the previous matmul's quantized input
    kFuseNormPrologue = 1u << 1,  // norm folded into the quantization of the matmuls reading it
    kFuseResidual = 1u << 2,      // a following add folded into this op's epilogue
    kFuseIntoEpilogue = 1u << 3,  // add / glu: taken into the producer's epilogue
    kFuseGlu = 1u << 4,           // matmul: a gate/up pair applies the glu to its columns
    kFuseNormIntoRope = 1u << 5,  // per-head norm done by the rope reading it
    kFuseKvStore = 1u << 6,       // rope of k stores keys and values into the KV cache
};

// The facts about one op that the checker, fusions, planner, executor and bindings read.
struct OpInfo {
    const char* name;
    std::array<const char*, kMaxInputs> inputs;    // input roles; a trailing '?' marks an optional one; null: none
    std::array<const char*, kMaxOpParams> params;  // NodeParams fields the op takes (all required); null: no more
    ShapeRule shape;
    uint32_t fusions;  // Fusion flags
    bool reads_kv;     // writes and reads the KV cache (one layer per node)
};

// The row of op (throws std::invalid_argument for a value outside the enum).
const OpInfo& op_info(Op op);
const char* op_name(Op op);
// Every NodeParams field by name, and one by name (null if there is none).
const std::vector<ParamField>& param_fields();
const ParamField* param_field(const std::string& name);
inline bool op_takes(Op op, uint32_t fusion) { return (op_info(op).fusions & fusion) != 0; }

struct NodeSpec {
    Op op = Op::add;
    std::array<int32_t, kMaxInputs> in{-1, -1, -1, -1};
    int32_t out = -1;
    NodeParams p;
};

struct GraphSpec {
    std::vector<TensorSpec> tensors;
    std::vector<NodeSpec> nodes;
};

struct Options {
    int64_t max_tokens = 512;  // rows of one call (n_batch)
    int64_t n_ctx = 4096;      // KV cells in all; each of n_seq sequences owns n_ctx / n_seq of them
    int32_t n_seq = 1;
    DType type_k = DType::F16, type_v = DType::F16;
    int n_threads = 0;  // 0: physical cores
    bool fuse = true;   // fold norms, residual adds, biases and glus into matmuls (false: one step per node)
};

// The KV cache: per layer K [cells, n_head_kv * head_dim] and V [cells, n_head_kv * head_dim_v] in type_k/type_v.
// Sequence s owns cells [s * n_ctx_seq, (s + 1) * n_ctx_seq); the token at position p of sequence s is stored in
// cell s * n_ctx_seq + p, so positions must be < n_ctx_seq, writing a position again replaces it, and truncating a
// sequence only marks cells empty. cell_pos[cell] is the position held there, or -1 when the cell is empty.
// Zero-initialised host memory from calloc: large blocks come straight from the OS as zero pages, so cells that
// are never written never count in the resident set.
class HostBuffer {
   public:
    HostBuffer() = default;
    explicit HostBuffer(size_t n);
    ~HostBuffer();
    HostBuffer(HostBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
    HostBuffer& operator=(HostBuffer&& o) noexcept;
    HostBuffer(const HostBuffer&) = delete;
    HostBuffer& operator=(const HostBuffer&) = delete;
    uint8_t* data() const { return p_; }
    size_t size() const { return n_; }

   private:
    uint8_t* p_ = nullptr;
    size_t n_ = 0;
};

struct KVLayer {
    int64_t n_head_kv = 0, head_dim = 0, head_dim_v = 0;
    HostBuffer k, v;
    size_t k_row = 0, v_row = 0;  // bytes per cell
};

class KVCache {
   public:
    KVCache(int32_t n_seq, int64_t n_ctx_seq, DType type_k, DType type_v);
    void add_layer(int64_t n_head_kv, int64_t head_dim, int64_t head_dim_v);

    int32_t n_seq() const { return n_seq_; }
    int64_t n_ctx_seq() const { return n_ctx_seq_; }
    DType type_k() const { return type_k_; }
    DType type_v() const { return type_v_; }
    size_t bytes() const;

    void clear(int32_t seq);                            // seq < 0: every sequence
    void truncate(int32_t seq, int64_t n_keep);         // drop positions >= n_keep (seq < 0: every sequence)
    void copy(int32_t src, int32_t dst);                // dst becomes a copy of src
    int64_t n_past(int32_t seq) const;                  // 1 + the highest position held (0 when empty)
    std::vector<int32_t> positions(int32_t seq) const;  // the positions held, ascending

    // Used by the executor.
    KVLayer& layer(int i) { return layers_[i]; }
    int n_layers() const { return static_cast<int>(layers_.size()); }
    int32_t* cell_pos(int32_t seq) { return cell_pos_.data() + seq * n_ctx_seq_; }
    int64_t& extent(int32_t seq) { return extent_[seq]; }  // cells [0, extent) may be filled

   private:
    void check_seq(int32_t seq, const char* what) const;
    int32_t n_seq_;
    int64_t n_ctx_seq_;
    DType type_k_, type_v_;
    std::vector<KVLayer> layers_;
    std::vector<int32_t> cell_pos_;  // [n_seq * n_ctx_seq]
    std::vector<int64_t> extent_;    // [n_seq]
};

// One call's inputs. tokens/positions/seq_ids: [n_tokens]; out_rows: [n_outputs] indices into the batch rows;
// logits: [n_outputs, n_vocab] float32 written by the graph's output node.
struct Batch {
    const int32_t* tokens = nullptr;
    const int32_t* positions = nullptr;
    const int32_t* seq_ids = nullptr;  // null: every token in sequence 0
    int64_t n_tokens = 0;
    const int32_t* out_rows = nullptr;
    int64_t n_outputs = 0;
    float* logits = nullptr;
};

struct PlanStats {
    int64_t n_nodes = 0, n_steps = 0, n_barriers = 0, arena_bytes = 0, work_bytes = 0, kv_bytes = 0;
};

class Program {
   public:
    Program(GraphSpec spec, const Options& opt);
    ~Program();
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    // Runs the forward pass of one batch (blocking; call without the GIL; concurrent calls wait for each other).
    // Checks the batch first: throws
    // std::invalid_argument for token ids outside the vocabulary, positions outside [0, n_ctx_seq), unknown
    // sequences, too many rows.
    void run(const Batch& b);

    KVCache& kv() { return *kv_; }
    // Held by run() for the whole call; take it around KV-cache changes made from other threads.
    std::mutex& mutex() { return mutex_; }
    const Options& options() const { return opt_; }
    int64_t n_vocab() const;  // columns of the output tensor
    PlanStats stats() const;
    std::string describe() const;  // the planned steps, one line each (debugging)
    // Profiling: seconds spent in each step (as thread 0 sees it, barrier included), summed over calls since
    // set_profiling(true). Costs a clock read per step.
    void set_profiling(bool on);
    std::vector<double> profile() const;

    struct Impl;

   private:
    Options opt_;
    std::mutex mutex_;
    std::unique_ptr<KVCache> kv_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lc::graph
