// Running a planned graph: one pool run per call, every thread walking the node list.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "runtime/program_impl.h"

namespace lc::graph {

float* Program::Impl::fptr(int32_t id) const {
    const Tensor& t = tensors[id];
    const Tensor& r = tensors[t.root];
    if (r.spec.kind == TensorKind::output) return call.batch->logits + t.col_off;
    if (r.spec.kind == TensorKind::weight) return static_cast<float*>(const_cast<void*>(r.spec.data));
    return reinterpret_cast<float*>(arena.data() + r.offset) + t.col_off;
}

int64_t Program::Impl::rows(int32_t id) const {
    const TensorSpec& s = tensors[id].spec;
    switch (s.rows_kind) {
        case Rows::tokens: return call.batch->n_tokens;
        case Rows::outputs: return call.batch->n_outputs;
        default: return s.rows;
    }
}

namespace {

// Alignment of the KV-cell range given to the attention kernel (a multiple of its block of 64 cells).
constexpr int64_t kCellAlign = 256;

// y = cap * tanh(x / cap) over thread ith's share of the rows.
void softcap_rows(const float* x, int64_t xs, int64_t n, int64_t cols, float cap, float* y, int64_t ys, int ith,
                  int nth) {
    int64_t r0, r1;
    ops::split_range(n, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
        for (int64_t j = 0; j < cols; ++j) y[r * ys + j] = cap * std::tanh(x[r * xs + j] / cap);
    }
}

}  // namespace

void Program::Impl::exec(const Step& s, KVCache& kv, int ith, int nth) {
    const NodeSpec& n = s.node;
    const Batch& b = *call.batch;
    const int32_t o = n.out;
    float* y = fptr(o);
    const int64_t ys = tensors[o].stride;
    const int64_t R = rows(o);
    auto stride = [&](int32_t id) { return tensors[id].stride; };
    switch (n.op) {
        case Op::get_rows: {
            const TensorSpec& w = tensors[n.in[0]].spec;
            ops::get_rows(w.dtype, w.data, w.row_bytes, w.cols, b.tokens, R, y, ys, ith, nth);
            break;
        }
        case Op::matmul: {
            if (R == 0) break;
            const TensorSpec& w = tensors[n.in[0]].spec;
            const int32_t x = n.in[1];
            const int64_t k = w.cols;
            // Few rows (decode): every thread normalizes and quantizes all of them into its own buffer, so no
            // barrier is needed before the dot products. Many rows (prefill): the threads share the work, then wait.
            const bool own = R <= kOwnQuantRows && nth > 1;
            uint8_t* xq = own ? work.data() + own_work_offset + own_work_stride * ith : work.data();
            if (s.quantize) {
                int64_t r0 = 0, r1 = R;
                if (!own) ops::split_range(R, ith, nth, &r0, &r1);
                if (s.norm) {  // rms norm of each row, then quantize it
                    float* row = reinterpret_cast<float*>(work.data() + norm_work_offset + norm_work_stride * ith);
                    const float* nw = s.norm_w >= 0 ? fptr(s.norm_w) : nullptr;
                    const size_t rb = ops::act_row_bytes(w.dtype, k);
                    for (int64_t r = r0; r < r1; ++r) {
                        ops::rms_norm(fptr(x) + r * stride(x), k, 1, k, s.norm_eps, nw, row, k, 0, 1);
                        ops::matmul_quantize(w.dtype, row, k, 1, k, xq + r * rb, 0, 1);
                    }
                } else if (own) {
                    ops::matmul_quantize(w.dtype, fptr(x), stride(x), R, k, xq, 0, 1);
                } else {
                    ops::matmul_quantize(w.dtype, fptr(x), stride(x), R, k, xq, ith, nth);
                }
                if (!own) pool->barrier();
            }
            // Each thread computes its own range of output columns (weight rows), then its epilogue on them.
            int64_t c0, c1;
            ops::split_range(w.rows, ith, nth, &c0, &c1, w.rows >= 16 * nth ? 16 : 1);
            if (c1 <= c0) break;
            const int64_t nc = c1 - c0;
            ops::matmul_compute(w.dtype, static_cast<const uint8_t*>(w.data) + c0 * w.row_bytes, w.row_bytes, nc, k, xq,
                                R, y + c0, ys, 0, 1);
            if (n.in[2] >= 0) ops::add(y + c0, ys, fptr(n.in[2]) + c0, 0, R, nc, y + c0, ys, 0, 1);
            if (s.residual >= 0) {
                ops::add(y + c0, ys, fptr(s.residual) + c0, stride(s.residual), R, nc, y + c0, ys, 0, 1);
            }
            if (s.glu_other >= 0) {
                const float* other = fptr(s.glu_other) + c0;
                const int64_t os = stride(s.glu_other);
                const auto kind = static_cast<ops::Glu>(s.glu_kind);
                if (s.glu_self_gate) {
                    ops::glu(kind, y + c0, ys, other, os, R, nc, y + c0, ys, 0, 1);
                } else {
                    ops::glu(kind, other, os, y + c0, ys, R, nc, y + c0, ys, 0, 1);
                }
            }
            break;
        }
        case Op::rms_norm: {
            const int32_t x = n.in[0];
            const float* w = n.in[1] >= 0 ? fptr(n.in[1]) : nullptr;
            const int64_t cols = tensors[x].spec.cols, group = n.p.group ? n.p.group : cols;
            if (s.residual >= 0) {  // fused add: y = rms_norm(x) + residual, on this thread's rows
                int64_t r0, r1;
                ops::split_range(R, ith, nth, &r0, &r1);
                if (r1 <= r0) break;
                const int64_t rs = stride(s.residual);
                ops::rms_norm(fptr(x) + r0 * stride(x), stride(x), r1 - r0, cols, n.p.eps, w, y + r0 * ys, ys, 0, 1);
                ops::add(y + r0 * ys, ys, fptr(s.residual) + r0 * rs, rs, r1 - r0, cols, y + r0 * ys, ys, 0, 1);
            } else if (group == cols) {
                ops::rms_norm(fptr(x), stride(x), R, cols, n.p.eps, w, y, ys, ith, nth);
            } else if (stride(x) == cols && ys == cols) {  // contiguous: one row per group
                ops::rms_norm(fptr(x), group, R * (cols / group), group, n.p.eps, w, y, group, ith, nth);
            } else {  // groups of strided rows: split (row, group) pairs over the threads
                const int64_t per = cols / group;
                int64_t i0, i1;
                ops::split_range(R * per, ith, nth, &i0, &i1);
                const float* xp = fptr(x);
                for (int64_t i = i0; i < i1; ++i) {
                    const int64_t r = i / per, g = i % per;
                    ops::rms_norm(xp + r * stride(x) + g * group, group, 1, group, n.p.eps, w, y + r * ys + g * group,
                                  group, 0, 1);
                }
            }
            break;
        }
        case Op::rope: {
            const int64_t n_head = n.p.n_head, hd = n.p.head_dim;
            const int32_t x = n.in[0];
            if (!s.norm && s.kv_layer < 0) {
                ops::rope(fptr(x), stride(x), hd, R, n_head, hd, b.positions, s.rope, y, ys, hd, ith, nth);
                break;
            }
            // This thread's tokens: per-head rms norm (q/k norms) into y, rotation, then the KV-cache store.
            int64_t t0, t1;
            ops::split_range(R, ith, nth, &t0, &t1);
            if (t1 <= t0) break;
            const float* src = fptr(x) + t0 * stride(x);
            int64_t src_stride = stride(x);
            if (s.norm) {
                const float* w = s.norm_w >= 0 ? fptr(s.norm_w) : nullptr;
                for (int64_t t = t0; t < t1; ++t) {
                    ops::rms_norm(fptr(x) + t * stride(x), hd, n_head, hd, s.norm_eps, w, y + t * ys, hd, 0, 1);
                }
                src = y + t0 * ys, src_stride = ys;
            }
            ops::rope(src, src_stride, hd, t1 - t0, n_head, hd, b.positions + t0, s.rope, y + t0 * ys, ys, hd, 0, 1);
            if (s.kv_layer >= 0) {
                KVLayer& l = kv.layer(s.kv_layer);
                ops::copy_rows(y + t0 * ys, ys, t1 - t0, l.n_head_kv * l.head_dim, kv.type_k(), l.k.data(), l.k_row,
                               call.slots.data() + t0, 0, 1);
                const int64_t vs = stride(s.kv_v);
                ops::copy_rows(fptr(s.kv_v) + t0 * vs, vs, t1 - t0, l.n_head_kv * l.head_dim_v, kv.type_v(), l.v.data(),
                               l.v_row, call.slots.data() + t0, 0, 1);
            }
            break;
        }
        case Op::attention: {
            KVLayer& l = kv.layer(static_cast<int>(n.p.layer));
            // 1. Store this batch's keys and values in their cells (unless the rope of k did).
            if (!s.kv_stored) {
                ops::copy_rows(fptr(n.in[1]), stride(n.in[1]), R, l.n_head_kv * l.head_dim, kv.type_k(), l.k.data(),
                               l.k_row, call.slots.data(), ith, nth);
                ops::copy_rows(fptr(n.in[2]), stride(n.in[2]), R, l.n_head_kv * l.head_dim_v, kv.type_v(), l.v.data(),
                               l.v_row, call.slots.data(), ith, nth);
                pool->barrier();
            }
            // 2. Attend, one run of same-sequence tokens at a time, over that sequence's cells.
            const float* q = fptr(n.in[0]);
            void* wd = work.data() + attn_work_offset;
            for (const auto& g : call.groups) {
                const int64_t t0 = g[0], t1 = g[1], pmin = g[3], pmax = g[4];
                const int32_t seq = static_cast<int32_t>(g[2]);
                // Cell = position: only cells [lo, hi) can be visible to these tokens (causal, sliding window).
                // Both ends are rounded to multiples of kCellAlign, so a token sees the same blocks of cells however
                // the batch around it is made up: its logits do not depend on the batch (prefix reuse, chunking).
                const int64_t win = s.attn.sliding_window;
                const int64_t lo = win > 0 ? std::max<int64_t>(0, pmin - win + 1) / kCellAlign * kCellAlign : 0;
                const int64_t hi =
                    std::min<int64_t>(kv.n_ctx_seq(), (std::min<int64_t>(kv.extent(seq), pmax + 1) + kCellAlign - 1) /
                                                          kCellAlign * kCellAlign);
                ops::AttentionParams a = s.attn;
                a.n_tokens = t1 - t0;
                a.n_kv = std::max<int64_t>(0, hi - lo);
                a.q_pos = b.positions + t0;
                a.kv_pos = kv.cell_pos(seq) + lo;
                const size_t cell0 = static_cast<size_t>(seq) * kv.n_ctx_seq() + lo;
                ops::attention(a, q + t0 * a.q_token_stride, l.k.data() + cell0 * l.k_row, l.v.data() + cell0 * l.v_row,
                               y + t0 * ys, wd, ith, nth);
            }
            break;
        }
        case Op::add:
        case Op::mul: {
            const int32_t a = n.in[0], c = n.in[1];
            const bool bc = tensors[c].spec.kind == TensorKind::weight;
            const int64_t cs = bc ? 0 : stride(c);
            const int64_t cols = tensors[o].spec.cols;
            if (n.op == Op::add) {
                ops::add(fptr(a), stride(a), fptr(c), cs, R, cols, y, ys, ith, nth);
            } else {
                ops::mul(fptr(a), stride(a), fptr(c), cs, R, cols, y, ys, ith, nth);
            }
            break;
        }
        case Op::scale:
            ops::scale(fptr(n.in[0]), stride(n.in[0]), R, tensors[o].spec.cols, n.p.scale, n.p.bias, y, ys, ith, nth);
            break;
        case Op::glu:
            ops::glu(static_cast<ops::Glu>(n.p.kind), fptr(n.in[0]), stride(n.in[0]), fptr(n.in[1]), stride(n.in[1]), R,
                     tensors[o].spec.cols, y, ys, ith, nth);
            break;
        case Op::unary:
            ops::unary(static_cast<ops::Unary>(n.p.kind), fptr(n.in[0]), stride(n.in[0]), R, tensors[o].spec.cols, y,
                       ys, ith, nth);
            break;
        case Op::softcap:
            softcap_rows(fptr(n.in[0]), stride(n.in[0]), R, tensors[o].spec.cols, n.p.softcap, y, ys, ith, nth);
            break;
        case Op::layer_norm: {
            const int32_t x = n.in[0];
            const float* w = n.in[1] >= 0 ? fptr(n.in[1]) : nullptr;
            const float* bias = n.in[2] >= 0 ? fptr(n.in[2]) : nullptr;
            ops::layer_norm(fptr(x), stride(x), R, tensors[x].spec.cols, n.p.eps, w, bias, y, ys, ith, nth);
            break;
        }
        case Op::count: break;  // rejected by the checker
        case Op::select_rows: {
            const float* x = fptr(n.in[0]);
            const int64_t xs = stride(n.in[0]), cols = tensors[o].spec.cols;
            int64_t r0, r1;
            ops::split_range(R, ith, nth, &r0, &r1);
            for (int64_t r = r0; r < r1; ++r) std::memcpy(y + r * ys, x + b.out_rows[r] * xs, cols * sizeof(float));
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------

Program::Program(GraphSpec spec, const Options& opt) : opt_(opt), impl_(std::make_unique<Impl>()) {
    if (opt.max_tokens < 1 || opt.max_tokens > (1 << 20)) throw std::invalid_argument("n_batch must be in [1, 2^20]");
    if (opt.n_ctx < 1 || opt.n_ctx > (1 << 26)) throw std::invalid_argument("n_ctx must be in [1, 2^26]");
    if (opt.n_seq < 1 || opt.n_seq > opt.n_ctx) throw std::invalid_argument("n_seq_max must be in [1, n_ctx]");
    kv_ = std::make_unique<KVCache>(opt.n_seq, opt.n_ctx / opt.n_seq, opt.type_k, opt.type_v);
    impl_->pool = std::make_unique<ThreadPool>(opt.n_threads);
    plan(*impl_, spec, opt_, *kv_);
    impl_->seen.assign(static_cast<size_t>(kv_->n_seq()) * kv_->n_ctx_seq(), 0);
}

Program::~Program() = default;

int64_t Program::n_vocab() const { return impl_->tensors[impl_->output].spec.cols; }

void Program::set_profiling(bool on) { impl_->profile.assign(on ? impl_->steps.size() : 0, 0.0); }

std::vector<double> Program::profile() const { return impl_->profile; }

PlanStats Program::stats() const {
    PlanStats s;
    s.n_nodes = impl_->n_nodes;
    s.n_steps = static_cast<int64_t>(impl_->steps.size());
    s.n_barriers = impl_->n_barriers;
    s.arena_bytes = static_cast<int64_t>(impl_->arena.size());
    s.work_bytes = static_cast<int64_t>(impl_->work.size());
    s.kv_bytes = static_cast<int64_t>(kv_->bytes());
    return s;
}

std::string Program::describe() const {
    std::ostringstream s;
    const Impl& p = *impl_;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        const Step& st = p.steps[i];
        const Tensor& o = p.tensors[st.node.out];
        s << i << ": " << op_name(st.node.op) << " -> '" << o.spec.name << "' [" << o.spec.cols << "]";
        if (o.offset >= 0) s << " @" << o.offset;
        s << " <-";
        for (int32_t id : st.node.in)
            if (id >= 0) s << " '" << p.tensors[id].spec.name << "'";
        if (st.node.op == Op::matmul && !st.quantize) s << " (shared quantization)";
        if (st.norm) s << " (+ rms_norm prologue)";
        if (st.node.op == Op::rms_norm && st.residual >= 0)
            s << " (+ residual '" << p.tensors[st.residual].spec.name << "')";
        if (st.node.op == Op::matmul && st.node.in[2] >= 0) s << " (+ bias)";
        if (st.node.op == Op::matmul && st.residual >= 0) {
            s << " (+ residual '" << p.tensors[st.residual].spec.name << "')";
        }
        if (st.glu_other >= 0) s << " (+ glu with '" << p.tensors[st.glu_other].spec.name << "')";
        if (st.kv_layer >= 0) s << " (+ KV store)";
        if (!st.barrier_after) s << " (no barrier)";
        s << "\n";
    }
    return s.str();
}

void Program::run(const Batch& b) {
    std::lock_guard<std::mutex> lock(mutex_);
    Impl& p = *impl_;
    KVCache& kv = *kv_;
    const int64_t n = b.n_tokens;
    if (n < 1) throw std::invalid_argument("decode: the batch has no tokens");
    if (n > opt_.max_tokens) {
        throw std::invalid_argument("decode: " + std::to_string(n) +
                                    " tokens in one call, more than n_batch = " + std::to_string(opt_.max_tokens));
    }
    if (b.n_outputs < 0 || b.n_outputs > n) throw std::invalid_argument("decode: more output rows than tokens");
    if (!b.tokens || !b.positions || (b.n_outputs && (!b.out_rows || !b.logits))) {
        throw std::invalid_argument("decode: missing batch arrays");
    }
    // Check everything before touching the cache.
    for (const Step& s : p.steps) {
        if (s.node.op != Op::get_rows) continue;
        const int64_t vocab = p.tensors[s.node.in[0]].spec.rows;
        for (int64_t t = 0; t < n; ++t) {
            if (b.tokens[t] < 0 || b.tokens[t] >= vocab) {
                throw std::invalid_argument("decode: token id " + std::to_string(b.tokens[t]) +
                                            " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
            }
        }
    }
    for (int64_t r = 0; r < b.n_outputs; ++r) {
        if (b.out_rows[r] < 0 || b.out_rows[r] >= n) throw std::invalid_argument("decode: output row out of range");
    }
    const int64_t n_ctx_seq = kv.n_ctx_seq();
    if (++p.stamp == 0) {
        std::fill(p.seen.begin(), p.seen.end(), 0);
        p.stamp = 1;
    }
    p.call.slots.resize(n);
    p.call.groups.clear();
    for (int64_t t = 0; t < n; ++t) {
        const int32_t seq = b.seq_ids ? b.seq_ids[t] : 0;
        if (seq < 0 || seq >= kv.n_seq()) {
            throw std::invalid_argument("decode: sequence id " + std::to_string(seq) + " is outside [0, " +
                                        std::to_string(kv.n_seq()) + ") (n_seq_max)");
        }
        const int32_t pos = b.positions[t];
        if (pos < 0 || pos >= n_ctx_seq) {
            throw std::invalid_argument("decode: position " + std::to_string(pos) + " is outside the context [0, " +
                                        std::to_string(n_ctx_seq) + ") of a sequence (n_ctx / n_seq_max)");
        }
        const int32_t cell = static_cast<int32_t>(seq * n_ctx_seq + pos);
        if (p.seen[cell] == p.stamp) {
            throw std::invalid_argument("decode: position " + std::to_string(pos) + " of sequence " +
                                        std::to_string(seq) + " appears twice in one batch");
        }
        p.seen[cell] = p.stamp;
        p.call.slots[t] = cell;
        if (p.call.groups.empty() || p.call.groups.back()[2] != seq) {
            p.call.groups.push_back({t, t + 1, seq, pos, pos});
        } else {
            auto& g = p.call.groups.back();
            g[1] = t + 1;
            g[3] = std::min<int64_t>(g[3], pos);
            g[4] = std::max<int64_t>(g[4], pos);
        }
    }
    // Claim the cells (their keys and values are written by the attention nodes of this call).
    for (int64_t t = 0; t < n; ++t) {
        const int32_t seq = b.seq_ids ? b.seq_ids[t] : 0;
        kv.cell_pos(seq)[b.positions[t]] = b.positions[t];
        kv.extent(seq) = std::max<int64_t>(kv.extent(seq), b.positions[t] + 1);
    }
    p.call.batch = &b;
    if (p.profile.empty()) {
        p.pool->run([&](int ith, int nth) {
            for (const Step& s : p.steps) {
                p.exec(s, kv, ith, nth);
                if (s.barrier_after) p.pool->barrier();
            }
        });
    } else {  // the same, with thread 0 timing each step up to its barrier (steps without one: up to the next)
        p.pool->run([&](int ith, int nth) {
            auto t0 = std::chrono::steady_clock::now();
            for (size_t i = 0; i < p.steps.size(); ++i) {
                const Step& s = p.steps[i];
                p.exec(s, kv, ith, nth);
                if (s.barrier_after) p.pool->barrier();
                if (ith == 0) {
                    const auto t1 = std::chrono::steady_clock::now();
                    p.profile[i] += std::chrono::duration<double>(t1 - t0).count();
                    t0 = t1;
                }
            }
        });
    }
    p.call.batch = nullptr;
}

}  // namespace lc::graph
