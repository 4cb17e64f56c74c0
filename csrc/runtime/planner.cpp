// Planning a checked graph: fusions, barriers where steps depend on each other, arena offsets with lifetime-based
// reuse, work-buffer sizes.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

#include "runtime/program_impl.h"

namespace lc::graph {
namespace {

constexpr int64_t kAlign = 64;

int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// First-fit allocator over one arena, with neighbour merging on free.
class Arena {
   public:
    int64_t alloc(int64_t size) {
        size = round_up(std::max<int64_t>(size, 1), kAlign);
        for (auto it = free_.begin(); it != free_.end(); ++it) {
            if (it->second >= size) {
                const int64_t off = it->first, rest = it->second - size;
                free_.erase(it);
                if (rest > 0) free_[off + size] = rest;
                return off;
            }
        }
        // Grow: extend a free block that touches the end, else append.
        int64_t off = top_;
        if (!free_.empty()) {
            auto last = std::prev(free_.end());
            if (last->first + last->second == top_) {
                off = last->first;
                free_.erase(last);
            }
        }
        top_ = off + size;
        return off;
    }
    void release(int64_t off, int64_t size) {
        size = round_up(std::max<int64_t>(size, 1), kAlign);
        auto it = free_.emplace(off, size).first;
        auto next = std::next(it);
        if (next != free_.end() && it->first + it->second == next->first) {
            it->second += next->second;
            free_.erase(next);
        }
        if (it != free_.begin()) {
            auto prev = std::prev(it);
            if (prev->first + prev->second == it->first) {
                prev->second += it->second;
                free_.erase(it);
            }
        }
    }
    int64_t size() const { return top_; }

   private:
    std::map<int64_t, int64_t> free_;  // offset -> size
    int64_t top_ = 0;
};

// ---- barriers ------------------------------------------------------------------------------------------------

// What a phase of a step reads and writes: tensor roots, or the shared scratch kWork / a KV layer (kKV - layer).
constexpr int32_t kWork = -1, kKV = -10;

struct Phase {
    std::vector<int32_t> reads, writes;
};

std::vector<Phase> phases(const Program::Impl& p, const Step& s) {
    auto root = [&](int32_t id) { return p.tensors[id].root; };
    auto is_act = [&](int32_t id) {
        const auto k = p.tensors[root(id)].spec.kind;
        return k == TensorKind::intermediate || k == TensorKind::output;
    };
    const NodeSpec& n = s.node;
    std::vector<Phase> out;
    if (n.op == Op::matmul) {
        // One phase: with few rows each thread quantizes its own copy and there is no barrier inside (with many
        // rows there is one after the quantization, which only adds synchronization).
        // The quantized rows (kWork) are written by the matmul that quantizes and read by the ones sharing them
        // right after it, by the same threads (own copies) or after its internal barrier: only a later quantizing
        // matmul's write conflicts with them, and it does through the first one's write.
        Phase b{{}, {root(n.out)}};
        if (s.quantize) b.reads.push_back(root(n.in[1])), b.writes.push_back(kWork);
        if (s.residual >= 0) b.reads.push_back(root(s.residual));
        // glu_other was written by this same thread in the previous step: no hazard between threads
        out.push_back(b);
    } else if (op_info(n.op).reads_kv) {  // attention
        const int32_t kv = kKV - static_cast<int32_t>(n.p.layer);
        if (!s.kv_stored) out.push_back({{root(n.in[1]), root(n.in[2])}, {kv}});
        out.push_back({{root(n.in[0]), kv}, {root(n.out)}});
    } else {
        Phase a{{}, {root(n.out)}};
        for (int32_t id : n.in)
            if (id >= 0 && is_act(id)) a.reads.push_back(root(id));
        if (s.residual >= 0) a.reads.push_back(root(s.residual));
        if (s.kv_layer >= 0) a.reads.push_back(root(s.kv_v)), a.writes.push_back(kKV - s.kv_layer);
        out.push_back(a);
    }
    return out;
}

// A barrier after step i only where a later step, before the next barrier, would touch what a step since the
// last barrier wrote (read after write, write after write) or overwrite what it read (write after read).
void place_barriers(Program::Impl& p) {
    std::vector<int32_t> group_r, group_w;
    auto has = [](const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); };
    for (size_t i = 0; i < p.steps.size(); ++i) {
        const auto ph = phases(p, p.steps[i]);
        const Phase& first = ph.front();
        bool conflict = false;
        for (int32_t r : first.reads) conflict |= has(group_w, r);
        for (int32_t w : first.writes) conflict |= has(group_w, w) || has(group_r, w);
        if (i > 0) p.steps[i - 1].barrier_after = conflict;
        if (conflict) group_r.clear(), group_w.clear();
        if (ph.size() > 1) group_r.clear(), group_w.clear();  // the step's internal barrier
        const Phase& last = ph.back();
        group_r.insert(group_r.end(), last.reads.begin(), last.reads.end());
        group_w.insert(group_w.end(), last.writes.begin(), last.writes.end());
    }
    p.steps.back().barrier_after = false;  // run() returns when every thread is done
}

}  // namespace

void plan(Program::Impl& p, const GraphSpec& spec, const Options& opt, KVCache& kv) {
    p.tensors.clear();
    for (const auto& s : spec.tensors) {
        Tensor t;
        t.spec = s;
        p.tensors.push_back(std::move(t));
    }
    p.steps.clear();
    for (const auto& n : spec.nodes) {
        Step st;
        st.node = n;
        p.steps.push_back(st);
    }
    if (p.steps.empty()) throw std::invalid_argument("graph: no nodes");
    p.n_nodes = static_cast<int64_t>(p.steps.size());
    resolve_tensors(p, opt);
    check_nodes(p, opt, kv);

    fuse(p, opt.fuse);
    place_barriers(p);

    // Liveness: the last step reading each root (a matmul's epilogue operands count as read there).
    for (size_t i = 0; i < p.steps.size(); ++i) {
        const Step& s = p.steps[i];
        auto use = [&](int32_t id) {
            if (id >= 0) p.tensors[p.tensors[id].root].last_use = static_cast<int32_t>(i);
        };
        for (int32_t id : s.node.in) use(id);
        use(s.residual);
        use(s.glu_other);
        use(s.kv_v);
        if (s.norm) use(s.norm_w);
    }

    // Arena offsets. A root whose last reader is step i is released at the next barrier, never earlier, so that no
    // step running beside it without a barrier can overwrite what another thread still reads.
    Arena arena;
    std::vector<int32_t> pending;
    auto bytes_of = [&](const Tensor& t) { return t.max_rows * t.spec.cols * static_cast<int64_t>(sizeof(float)); };
    auto release_later = [&](int32_t r) {
        if (std::find(pending.begin(), pending.end(), r) == pending.end()) pending.push_back(r);
    };
    for (size_t i = 0; i < p.steps.size(); ++i) {
        const Step& s = p.steps[i];
        Tensor& to = p.tensors[s.node.out];
        if (to.spec.kind == TensorKind::intermediate) {
            to.offset = arena.alloc(bytes_of(to));
            if (to.last_use < static_cast<int32_t>(i)) release_later(s.node.out);  // never read
        }
        for (int32_t id : {s.node.in[0], s.node.in[1], s.node.in[2], s.node.in[3], s.residual, s.glu_other, s.kv_v}) {
            if (id < 0) continue;
            const int32_t r = p.tensors[id].root;
            if (p.tensors[r].spec.kind == TensorKind::intermediate &&
                p.tensors[r].last_use == static_cast<int32_t>(i)) {
                release_later(r);
            }
        }
        if (s.barrier_after) {
            for (int32_t r : pending) arena.release(p.tensors[r].offset, bytes_of(p.tensors[r]));
            pending.clear();
        }
    }
    p.arena = HostBuffer(static_cast<size_t>(std::max<int64_t>(arena.size(), kAlign)));

    // Work memory: the largest quantized activation block, the attention scratch, a float row per thread for
    // norm prologues.
    int64_t mm = 0, at = 0, norm_row = 0, own_rows = 0;
    const int nth = p.pool->n_threads();
    for (const Step& s : p.steps) {
        if (s.node.op == Op::matmul) {
            const Tensor& w = p.tensors[s.node.in[0]];
            const Tensor& x = p.tensors[s.node.in[1]];
            mm = std::max<int64_t>(mm, ops::matmul_wsize(w.spec.dtype, x.max_rows, w.spec.cols));
            own_rows = std::max<int64_t>(own_rows, ops::matmul_wsize(w.spec.dtype, kOwnQuantRows, w.spec.cols));
            if (s.norm) norm_row = std::max<int64_t>(norm_row, w.spec.cols * static_cast<int64_t>(sizeof(float)));
        } else if (s.node.op == Op::attention) {
            at = std::max<int64_t>(at, ops::attention_wsize(s.attn, nth));
        }
    }
    p.attn_work_offset = static_cast<size_t>(round_up(mm, kAlign));
    p.norm_work_offset = p.attn_work_offset + static_cast<size_t>(round_up(at, kAlign));
    p.norm_work_stride = static_cast<size_t>(round_up(norm_row, kAlign));
    p.own_work_offset = p.norm_work_offset + p.norm_work_stride * nth;
    p.own_work_stride = static_cast<size_t>(round_up(own_rows, kAlign));
    p.work = HostBuffer(p.own_work_offset + p.own_work_stride * nth + kAlign);
    p.n_barriers = 0;
    for (const Step& s : p.steps) {
        p.n_barriers +=
            s.barrier_after + (s.node.op == Op::attention && !s.kv_stored) + (s.node.op == Op::matmul && s.quantize);
    }
}

}  // namespace lc::graph
