// Fusion passes over a checked graph: neighbours folded into one step so that they share a pass over memory and
// need no barrier between them (see Step in program_impl.h).
#include <algorithm>
#include <vector>

#include "runtime/program_impl.h"

namespace lc::graph {
namespace {

// readers[root] = indices of the steps reading that root (directly or through a view).
std::vector<std::vector<int32_t>> readers_of(const Program::Impl& p) {
    std::vector<std::vector<int32_t>> r(p.tensors.size());
    for (size_t i = 0; i < p.steps.size(); ++i) {
        for (int32_t id : p.steps[i].node.in) {
            if (id < 0) continue;
            auto& v = r[p.tensors[id].root];
            if (v.empty() || v.back() != static_cast<int32_t>(i)) v.push_back(static_cast<int32_t>(i));
        }
    }
    return r;
}

bool has_views(const Program::Impl& p, int32_t root) {
    for (size_t id = 0; id < p.tensors.size(); ++id) {
        if (p.tensors[id].root == root && static_cast<int32_t>(id) != root) return true;
    }
    return false;
}

bool is_plain_intermediate(const Program::Impl& p, int32_t id) {
    return p.tensors[id].spec.kind == TensorKind::intermediate && !has_views(p, id);
}

DType weight_type(const Program::Impl& p, const Step& s) { return p.tensors[s.node.in[0]].spec.dtype; }

// Consecutive matmuls reading the same input with the same activation format quantize it once.
void share_quantization(Program::Impl& p) {
    for (size_t i = 1; i < p.steps.size(); ++i) {
        Step &a = p.steps[i - 1], &b = p.steps[i];
        if (!op_takes(a.node.op, kFuseSharedQuant) || b.node.op != a.node.op || a.node.in[1] != b.node.in[1]) continue;
        if (ops::act_type(weight_type(p, a)) != ops::act_type(weight_type(p, b))) continue;
        b.quantize = false;
    }
}

// rms_norm (whole rows) read only by the matmuls that follow it and share one quantization: normalize each row
// while quantizing it.
void fuse_norm_prologues(Program::Impl& p) {
    auto readers = readers_of(p);
    std::vector<Step> out;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        const Step& n = p.steps[i];
        const int32_t h = n.node.out;
        bool ok = op_takes(n.node.op, kFuseNormPrologue) && n.node.p.group == 0 && is_plain_intermediate(p, h) &&
                  i + 1 < p.steps.size() && p.steps[i + 1].node.op == Op::matmul && p.steps[i + 1].quantize;
        size_t j = i + 1;
        if (ok) {
            // the sharing group after the norm must be exactly h's readers
            while (j < p.steps.size() && p.steps[j].node.op == Op::matmul && p.steps[j].node.in[1] == h &&
                   (j == i + 1 || !p.steps[j].quantize)) {
                ++j;
            }
            ok = readers[h].size() == j - i - 1 && readers[h].front() == static_cast<int32_t>(i + 1) &&
                 readers[h].back() == static_cast<int32_t>(j - 1);
        }
        if (!ok) {
            out.push_back(n);
            continue;
        }
        for (size_t k = i + 1; k < j; ++k) p.steps[k].node.in[1] = n.node.in[0];
        Step& m = p.steps[i + 1];
        m.norm = true;
        m.norm_w = n.node.in[1];
        m.norm_eps = n.node.p.eps;
    }
    p.steps = std::move(out);
}

// A step of op `op` (for rms_norm: whole rows) followed by add(y, r) (or add(r, y)) that is y's only reader, r not a
// weight: the step writes y + r itself (matmul: out = W x + r; rms_norm: Gemma's post-norms).
void fuse_residuals(Program::Impl& p, Op op) {
    auto readers = readers_of(p);
    std::vector<Step> out;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        Step s = p.steps[i];
        const bool whole_rows = op != Op::rms_norm || s.node.p.group == 0;
        if (s.node.op == op && op_takes(op, kFuseResidual) && whole_rows && i + 1 < p.steps.size()) {
            const Step& a = p.steps[i + 1];
            const int32_t m = s.node.out;
            if (a.node.op == Op::add && op_takes(a.node.op, kFuseIntoEpilogue) && is_plain_intermediate(p, m) &&
                readers[m].size() == 1 && p.tensors[a.node.out].spec.kind == TensorKind::intermediate &&
                (a.node.in[0] == m) != (a.node.in[1] == m)) {
                const int32_t r = a.node.in[0] == m ? a.node.in[1] : a.node.in[0];
                if (p.tensors[r].spec.kind != TensorKind::weight) {
                    s.residual = r;
                    s.node.out = a.node.out;
                    out.push_back(s);
                    ++i;  // the add is done
                    continue;
                }
            }
        }
        out.push_back(s);
    }
    p.steps = std::move(out);
}

// gate and up matmuls sharing one quantization, then glu(gate, up) as their only reader: the second matmul applies
// the glu to the columns its thread computed (same row split for both), writing the glu's output.
void fuse_glu(Program::Impl& p) {
    auto readers = readers_of(p);
    std::vector<Step> out;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        const Step& g = p.steps[i];
        if (g.node.op == Op::glu && op_takes(g.node.op, kFuseIntoEpilogue) && out.size() >= 2) {
            Step &a = out[out.size() - 2], &b = out.back();
            const int32_t gate = g.node.in[0], up = g.node.in[1];
            const bool pair = op_takes(a.node.op, kFuseGlu) && b.node.op == a.node.op && !b.quantize &&
                              a.residual < 0 && b.residual < 0 && a.node.in[2] < 0 && b.node.in[2] < 0 &&
                              ((a.node.out == gate && b.node.out == up) || (a.node.out == up && b.node.out == gate));
            if (pair && is_plain_intermediate(p, gate) && is_plain_intermediate(p, up) && readers[gate].size() == 1 &&
                readers[up].size() == 1 && p.tensors[g.node.out].spec.kind == TensorKind::intermediate &&
                p.tensors[a.node.in[0]].spec.rows == p.tensors[b.node.in[0]].spec.rows) {
                b.glu_self_gate = b.node.out == gate;
                b.glu_other = a.node.out;
                b.glu_kind = static_cast<int>(g.node.p.kind);
                b.node.out = g.node.out;
                continue;  // the glu is done
            }
        }
        out.push_back(g);
    }
    p.steps = std::move(out);
}

// A per-head rms_norm (group = head_dim) read only by a rope: the rope normalizes each head first (q/k norms of
// Qwen3 and Gemma). The norm moves down to the rope, which is safe since its input is never written again.
void fuse_norm_into_rope(Program::Impl& p) {
    auto readers = readers_of(p);
    std::vector<int32_t> producer(p.tensors.size(), -1);
    for (size_t i = 0; i < p.steps.size(); ++i) producer[p.steps[i].node.out] = static_cast<int32_t>(i);
    std::vector<char> drop(p.steps.size(), 0);
    for (size_t j = 0; j < p.steps.size(); ++j) {
        Step& r = p.steps[j];
        if (r.node.op != Op::rope || !op_takes(r.node.op, kFuseNormIntoRope)) continue;
        const int32_t h = r.node.in[0], i = producer[h];
        if (i < 0 || drop[i]) continue;
        const Step& nrm = p.steps[i];
        if (nrm.node.op != Op::rms_norm || !op_takes(nrm.node.op, kFuseNormIntoRope) ||
            nrm.node.p.group != r.node.p.head_dim || !is_plain_intermediate(p, h) || readers[h].size() != 1) {
            continue;
        }
        r.norm = true;
        r.norm_w = nrm.node.in[1];
        r.norm_eps = nrm.node.p.eps;
        r.node.in[0] = nrm.node.in[0];
        drop[i] = 1;
    }
    std::vector<Step> out;
    for (size_t i = 0; i < p.steps.size(); ++i)
        if (!drop[i]) out.push_back(p.steps[i]);
    p.steps = std::move(out);
}

// The rope of k whose only reader is the attention stores the rotated keys, and the values, into the KV cache on
// the tokens its thread rotated, so the attention needs no store phase (and no barrier inside).
void fuse_kv_store(Program::Impl& p) {
    auto readers = readers_of(p);
    std::vector<int32_t> producer(p.tensors.size(), -1);
    for (size_t i = 0; i < p.steps.size(); ++i) producer[p.steps[i].node.out] = static_cast<int32_t>(i);
    for (size_t j = 0; j < p.steps.size(); ++j) {
        Step& a = p.steps[j];
        if (!op_takes(a.node.op, kFuseKvStore) || a.node.op != Op::attention) continue;
        const int32_t k = a.node.in[1], v = a.node.in[2], i = producer[k];
        const int32_t vi = producer[p.tensors[v].root];
        if (i < 0 || p.steps[i].node.op != Op::rope || !op_takes(Op::rope, kFuseKvStore) ||
            !is_plain_intermediate(p, k) || readers[k].size() != 1 || vi >= i) {
            continue;
        }
        p.steps[i].kv_layer = static_cast<int32_t>(a.node.p.layer);
        p.steps[i].kv_v = v;
        a.kv_stored = true;
    }
}

}  // namespace

void fuse(Program::Impl& p, bool all) {
    share_quantization(p);
    if (!all) return;
    fuse_norm_prologues(p);
    fuse_residuals(p, Op::matmul);
    fuse_glu(p);
    fuse_residuals(p, Op::rms_norm);
    fuse_norm_into_rope(p);
    fuse_kv_store(p);
}

}  // namespace lc::graph
