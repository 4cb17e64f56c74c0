// Program internals shared by the planner (planner.cpp) and the executor (executor.cpp).
#pragma once

#include <memory>
#include <vector>

#include "llamacore/graph.h"
#include "llamacore/ops.h"
#include "llamacore/threadpool.h"

namespace lc::graph {

// A tensor after checking: where its memory is and how many rows it can have.
struct Tensor {
    TensorSpec spec;
    int32_t root = -1;      // the non-view tensor whose memory this is (itself when not a view)
    int64_t col_off = 0;    // column offset into root (views)
    int64_t stride = 0;     // row stride of float tensors, elements (the root's cols)
    int64_t max_rows = 0;   // rows at most, for planning
    int64_t offset = -1;    // arena bytes offset (intermediate roots)
    int32_t last_use = -1;  // index of the last node reading it (roots: over all their views)
};

// A node after planning. Matmuls may carry fused neighbours:
//   prologue  rms_norm of the input rows while quantizing them (the norm node is gone; node.in[1] is its input)
//   epilogue  + bias, + residual (a following add), glu with the other half of a gate/up pair
// Epilogues work on the columns (weight rows) a thread computed itself, so they need no barrier; a gate/up pair
// uses the same row split for both matmuls, so the second one's thread finds its gate/up columns in place.
struct Step {
    NodeSpec node;
    bool quantize = true;       // matmul: quantize the input (false: the previous matmul's quantized input serves)
    bool barrier_after = true;  // wait for every thread before the next step
    // matmul fusions
    bool norm = false;  // prologue: rms norm of each input row (weight norm_w or none, eps norm_eps)
    int32_t norm_w = -1;
    float norm_eps = 0.0f;
    int32_t residual = -1;   // epilogue: out += residual
    int32_t glu_other = -1;  // epilogue: out = glu(gate, up) with this matmul as gate (glu_self_gate) or up
    bool glu_self_gate = false;
    int glu_kind = 0;
    int32_t kv_layer = -1;  // rope epilogue: store the rotated keys and the values kv_v into this KV layer
    int32_t kv_v = -1;
    bool kv_stored = false;     // attention: the keys and values were stored by the rope of k
    ops::RopeParams rope;       // rope
    ops::AttentionParams attn;  // attention: the fixed part of the kernel's parameters
};

// Per-call state (set by run() before the threads start).
struct CallState {
    const Batch* batch = nullptr;
    std::vector<int32_t> slots;  // [n_tokens] KV cell of each token
    // runs of tokens of one sequence: {t0, t1, seq, lowest position, highest position}
    std::vector<std::array<int64_t, 5>> groups;
};

// Matmuls over at most this many rows quantize them on every thread (no barrier); see the executor.
constexpr int64_t kOwnQuantRows = 4;

struct Program::Impl {
    std::vector<Tensor> tensors;
    std::vector<Step> steps;
    HostBuffer arena;  // intermediates
    HostBuffer work;   // matmul quantized activations, then attention scratch, then per-thread norm rows
    size_t attn_work_offset = 0;
    size_t norm_work_offset = 0, norm_work_stride = 0;  // per-thread float row for norm prologues
    size_t own_work_offset = 0, own_work_stride = 0;    // per-thread quantized rows (calls of few rows)
    int32_t output = -1;                                // the output tensor
    int32_t n_barriers = 0;
    int64_t n_nodes = 0;          // graph nodes before fusion
    std::vector<double> profile;  // seconds per step, summed over calls (empty: not profiling)
    std::unique_ptr<ThreadPool> pool;
    CallState call;
    std::vector<int32_t> seen;  // [n_cells] call stamp of cells written, to catch duplicates in a batch
    int32_t stamp = 0;

    // Addresses at call time.
    float* fptr(int32_t id) const;
    int64_t rows(int32_t id) const;
    void exec(const Step& s, KVCache& kv, int ith, int nth);
};

// checker.cpp: resolve views and row counts, check every node (std::invalid_argument naming the node).
void resolve_tensors(Program::Impl& p, const Options& opt);
void check_nodes(Program::Impl& p, const Options& opt, KVCache& kv);
// fusions.cpp: shared activation quantization, and with all = true every fusion (Options::fuse).
void fuse(Program::Impl& p, bool all);
// planner.cpp: the whole plan (calls the above), barriers, arena offsets, work memory.
void plan(Program::Impl& p, const GraphSpec& spec, const Options& opt, KVCache& kv);

}  // namespace lc::graph
