// Checking a graph description: tensor kinds and shapes, every node's inputs and parameters, kernel support.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "runtime/program_impl.h"

namespace lc::graph {
namespace {

std::string dtype_name(DType t) {
    const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
    return tr ? tr->name : "type " + std::to_string(static_cast<int>(t));
}

struct Checker {
    Program::Impl& p;
    const Options& opt;
    int node = 0;
    Op op = Op::add;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::invalid_argument("graph node " + std::to_string(node) + " (" + op_name(op) + "): " + what);
    }
    const Tensor& t(int32_t id) const { return p.tensors[id]; }
    std::string name(int32_t id) const {
        const auto& s = t(id).spec;
        return "'" + (s.name.empty() ? "#" + std::to_string(id) : s.name) + "'";
    }
    int32_t input(const NodeSpec& n, int k, bool optional = false) const {
        const int32_t id = n.in[k];
        if (id < 0) {
            if (optional) return -1;
            fail("input " + std::to_string(k) + " is missing");
        }
        if (id >= static_cast<int32_t>(p.tensors.size())) fail("input " + std::to_string(k) + " is not a tensor");
        return id;
    }
    bool is_float(int32_t id) const {
        const auto k = t(id).spec.kind;
        return k == TensorKind::intermediate || k == TensorKind::view;
    }
    void need_float(int32_t id, const char* role) const {
        if (!is_float(id)) fail(std::string(role) + " " + name(id) + " must be a float32 activation");
    }
    void need_weight(int32_t id, const char* role) const {
        if (t(id).spec.kind != TensorKind::weight) fail(std::string(role) + " " + name(id) + " must be a weight");
    }
    void need_f32_weight(int32_t id, int64_t n, const char* role) const {
        need_weight(id, role);
        const auto& s = t(id).spec;
        if (s.dtype != DType::F32)
            fail(std::string(role) + " " + name(id) + " must be F32, not " + dtype_name(s.dtype));
        if (s.cols * s.rows < n) {
            fail(std::string(role) + " " + name(id) + " has " + std::to_string(s.cols * s.rows) + " values, needs " +
                 std::to_string(n));
        }
    }
    void need_input(int32_t id, Input which, const char* role) const {
        if (t(id).spec.kind != TensorKind::input || t(id).spec.input != which) {
            fail(std::string(role) + " " + name(id) + " must be the batch's " +
                 (which == Input::tokens ? "tokens" : "positions"));
        }
    }
    void need_cols(int32_t id, int64_t cols, const char* role) const {
        if (t(id).spec.cols != cols) {
            fail(std::string(role) + " " + name(id) + " has " + std::to_string(t(id).spec.cols) +
                 " columns, expected " + std::to_string(cols));
        }
    }
    void same_rows(int32_t a, int32_t b) const {
        const auto &x = t(a).spec, &y = t(b).spec;
        if (x.rows_kind != y.rows_kind || (x.rows_kind == Rows::fixed && x.rows != y.rows)) {
            fail(name(a) + " and " + name(b) + " have different row counts");
        }
    }
    // The output: an intermediate (written once) or the logits output.
    int32_t output(const NodeSpec& n, std::vector<char>& written) const {
        const int32_t id = n.out;
        if (id < 0 || id >= static_cast<int32_t>(p.tensors.size())) fail("no output tensor");
        const auto k = t(id).spec.kind;
        if (k != TensorKind::intermediate && k != TensorKind::output) fail("output " + name(id) + " is not writable");
        if (written[id]) fail("output " + name(id) + " is written twice");
        written[id] = 1;
        return id;
    }
};

}  // namespace

void resolve_tensors(Program::Impl& p, const Options& opt) {
    const int32_t n = static_cast<int32_t>(p.tensors.size());
    for (int32_t id = 0; id < n; ++id) {
        Tensor& t = p.tensors[id];
        TensorSpec& s = t.spec;
        const std::string nm = "graph tensor " + std::to_string(id) + " '" + s.name + "': ";
        if (s.cols < 1) throw std::invalid_argument(nm + "needs at least one column");
        switch (s.rows_kind) {
            case Rows::fixed:
                if (s.rows < 1) throw std::invalid_argument(nm + "needs at least one row");
                t.max_rows = s.rows;
                break;
            case Rows::tokens:
            case Rows::outputs: t.max_rows = opt.max_tokens; break;
            default: throw std::invalid_argument(nm + "unknown row kind");
        }
        switch (s.kind) {
            case TensorKind::weight: {
                const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(s.dtype));
                if (!tr) throw std::invalid_argument(nm + "unknown weight type");
                if (s.rows_kind != Rows::fixed) throw std::invalid_argument(nm + "a weight needs a fixed row count");
                if (s.cols % tr->block_size) {
                    throw std::invalid_argument(nm + std::to_string(s.cols) + " columns is not a multiple of " +
                                                tr->name + "'s block of " + std::to_string(tr->block_size));
                }
                const size_t rb = static_cast<size_t>(row_bytes(*tr, s.cols));
                if (s.row_bytes == 0) s.row_bytes = rb;
                if (s.row_bytes < rb) throw std::invalid_argument(nm + "row stride shorter than a row");
                if (!s.data) throw std::invalid_argument(nm + "no data");
                t.root = id;
                break;
            }
            case TensorKind::input:
                if (s.rows_kind != Rows::tokens || s.cols != 1) {
                    throw std::invalid_argument(nm + "an input has one column and a row per token");
                }
                t.root = id;
                break;
            case TensorKind::intermediate:
            case TensorKind::output:
                if (s.rows_kind == Rows::fixed) throw std::invalid_argument(nm + "activations have a row per token");
                t.root = id;
                t.stride = s.cols;
                break;
            case TensorKind::view: {
                if (s.base < 0 || s.base >= id) throw std::invalid_argument(nm + "a view needs an earlier base tensor");
                const Tensor& b = p.tensors[s.base];
                if (b.spec.kind != TensorKind::intermediate && b.spec.kind != TensorKind::view) {
                    throw std::invalid_argument(nm + "views are of float activations only");
                }
                if (s.col_offset < 0 || s.col_offset + s.cols > b.spec.cols) {
                    throw std::invalid_argument(nm + "columns outside its base");
                }
                if (s.rows_kind != b.spec.rows_kind) throw std::invalid_argument(nm + "rows differ from its base");
                t.root = b.root;
                t.col_off = b.col_off + s.col_offset;
                t.stride = b.stride;
                break;
            }
            default: throw std::invalid_argument(nm + "unknown tensor kind");
        }
    }
}

void check_nodes(Program::Impl& p, const Options& opt, KVCache& kv) {
    std::vector<char> written(p.tensors.size(), 0);
    Checker c{p, opt};
    int n_attention = 0;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        Step& st = p.steps[i];
        const NodeSpec& n = st.node;
        c.node = static_cast<int>(i);
        c.op = n.op;
        // Every float input must have been written by an earlier node (views: their root).
        for (int k = 0; k < kMaxInputs; ++k) {
            const int32_t id = n.in[k];
            if (id < 0) continue;
            if (id >= static_cast<int32_t>(p.tensors.size())) c.fail("input " + std::to_string(k) + " is not a tensor");
            if (c.is_float(id) && !written[p.tensors[id].root])
                c.fail("input " + c.name(id) + " is read before written");
        }
        switch (n.op) {
            case Op::get_rows: {
                const int32_t w = c.input(n, 0), ids = c.input(n, 1);
                c.need_weight(w, "table");
                c.need_input(ids, Input::tokens, "ids");
                const int32_t o = c.output(n, written);
                c.need_cols(o, c.t(w).spec.cols, "output");
                if (c.t(o).spec.rows_kind != Rows::tokens) c.fail("output needs a row per token");
                ops::check_get_rows(c.t(w).spec.dtype, c.t(w).spec.cols, nullptr, 0, c.t(w).spec.rows);
                break;
            }
            case Op::matmul: {
                const int32_t w = c.input(n, 0), x = c.input(n, 1), b = c.input(n, 2, true);
                c.need_weight(w, "weight");
                c.need_float(x, "input");
                const auto& ws = c.t(w).spec;
                c.need_cols(x, ws.cols, "input");
                ops::check_matmul(ws.dtype, ws.cols);
                if (b >= 0) c.need_f32_weight(b, ws.rows, "bias");
                const int32_t o = c.output(n, written);
                c.need_cols(o, ws.rows, "output");
                c.same_rows(x, o);
                break;
            }
            case Op::rms_norm: {
                const int32_t x = c.input(n, 0), w = c.input(n, 1, true);
                c.need_float(x, "input");
                const int64_t cols = c.t(x).spec.cols, group = n.i[0] ? n.i[0] : cols;
                if (group < 1 || cols % group) c.fail("group size must divide the columns");
                if (w >= 0) c.need_f32_weight(w, group, "weight");
                if (!(n.f[0] >= 0)) c.fail("eps must be >= 0");
                const int32_t o = c.output(n, written);
                c.need_cols(o, cols, "output");
                c.same_rows(x, o);
                break;
            }
            case Op::rope: {
                const int32_t x = c.input(n, 0), pos = c.input(n, 1), ff = c.input(n, 2, true);
                c.need_float(x, "input");
                c.need_input(pos, Input::positions, "positions");
                const int64_t n_head = n.i[0], head_dim = n.i[1];
                if (n_head < 1 || head_dim < 1) c.fail("n_head and head_dim must be positive");
                c.need_cols(x, n_head * head_dim, "input");
                ops::RopeParams& r = st.rope;
                r.n_dims = static_cast<int>(n.i[2]);
                r.mode = static_cast<int>(n.i[3]);
                r.n_ctx_orig = static_cast<int>(n.i[4]);
                r.freq_base = n.f[0];
                r.freq_scale = n.f[1];
                r.ext_factor = n.f[2];
                r.attn_factor = n.f[3];
                r.beta_fast = n.f[4];
                r.beta_slow = n.f[5];
                if (ff >= 0) {
                    c.need_f32_weight(ff, r.n_dims / 2, "frequency factors");
                    r.freq_factors = static_cast<const float*>(c.t(ff).spec.data);
                }
                ops::check_rope(r, head_dim);
                const int32_t o = c.output(n, written);
                c.need_cols(o, n_head * head_dim, "output");
                c.same_rows(x, o);
                break;
            }
            case Op::attention: {
                const int32_t q = c.input(n, 0), k = c.input(n, 1), v = c.input(n, 2);
                for (int32_t id : {q, k, v}) c.need_float(id, "q/k/v");
                const int64_t layer = n.i[0], n_head = n.i[1], n_head_kv = n.i[2], hd = n.i[3], hdv = n.i[4];
                if (layer != n_attention) {
                    c.fail("attention layers must be numbered 0, 1, 2, ... in order (got " + std::to_string(layer) +
                           ", expected " + std::to_string(n_attention) + ")");
                }
                if (n_head < 1 || n_head_kv < 1 || n_head % n_head_kv) c.fail("n_head must be a multiple of n_head_kv");
                if (hd < 1 || hdv < 1) c.fail("head dimensions must be positive");
                if (n.i[5] < 0) c.fail("sliding window must be >= 0");
                c.need_cols(q, n_head * hd, "q");
                c.need_cols(k, n_head_kv * hd, "k");
                c.need_cols(v, n_head_kv * hdv, "v");
                c.same_rows(q, k);
                c.same_rows(q, v);
                if (c.t(q).spec.rows_kind != Rows::tokens) c.fail("q/k/v need a row per token");
                kv.add_layer(n_head_kv, hd, hdv);
                ++n_attention;
                ops::AttentionParams& a = st.attn;
                a.n_head = n_head;
                a.n_head_kv = n_head_kv;
                a.head_dim = hd;
                a.head_dim_v = hdv;
                a.scale = n.f[0];
                a.softcap = n.f[1];
                a.sliding_window = static_cast<int32_t>(n.i[5]);
                a.k_type = kv.type_k();
                a.v_type = kv.type_v();
                const KVLayer& l = kv.layer(static_cast<int>(layer));
                a.k_cell_stride = l.k_row;
                a.v_cell_stride = l.v_row;
                a.k_head_stride = l.k_row / n_head_kv;
                a.v_head_stride = l.v_row / n_head_kv;
                a.q_token_stride = c.t(q).stride;
                a.q_head_stride = hd;
                a.n_tokens = opt.max_tokens;
                a.n_kv = kv.n_ctx_seq();
                ops::check_copy_rows(kv.type_k(), n_head_kv * hd);
                ops::check_copy_rows(kv.type_v(), n_head_kv * hdv);
                const int32_t o = c.output(n, written);
                c.need_cols(o, n_head * hdv, "output");
                c.same_rows(q, o);
                a.out_token_stride = c.t(o).stride;
                a.out_head_stride = hdv;
                static const int32_t dummy_pos = 0;  // positions come with each call
                a.q_pos = a.kv_pos = &dummy_pos;
                ops::check_attention(a);
                a.q_pos = a.kv_pos = nullptr;
                break;
            }
            case Op::add:
            case Op::mul: {
                const int32_t a = c.input(n, 0), b = c.input(n, 1);
                c.need_float(a, "a");
                const int64_t cols = c.t(a).spec.cols;
                if (c.is_float(b)) {
                    c.same_rows(a, b);
                    c.need_cols(b, cols, "b");
                } else {
                    c.need_f32_weight(b, cols, "b");  // one row, broadcast
                    if (c.t(b).spec.cols != cols) c.fail("a broadcast weight needs the same columns");
                }
                const int32_t o = c.output(n, written);
                c.need_cols(o, cols, "output");
                c.same_rows(a, o);
                break;
            }
            case Op::glu: {
                const int32_t g = c.input(n, 0), u = c.input(n, 1);
                c.need_float(g, "gate");
                c.need_float(u, "up");
                c.same_rows(g, u);
                c.need_cols(u, c.t(g).spec.cols, "up");
                if (n.i[0] < 0 || n.i[0] > static_cast<int>(ops::Glu::geglu_erf)) c.fail("unknown glu kind");
                const int32_t o = c.output(n, written);
                c.need_cols(o, c.t(g).spec.cols, "output");
                c.same_rows(g, o);
                break;
            }
            case Op::scale:
            case Op::unary:
            case Op::softcap: {
                const int32_t x = c.input(n, 0);
                c.need_float(x, "input");
                if (n.op == Op::unary && (n.i[0] < 0 || n.i[0] > static_cast<int>(ops::Unary::exp))) {
                    c.fail("unknown unary op");
                }
                if (n.op == Op::softcap && !(n.f[0] > 0)) c.fail("soft-cap must be > 0");
                const int32_t o = c.output(n, written);
                c.need_cols(o, c.t(x).spec.cols, "output");
                c.same_rows(x, o);
                break;
            }
            case Op::select_rows: {
                const int32_t x = c.input(n, 0);
                c.need_float(x, "input");
                if (c.t(x).spec.rows_kind != Rows::tokens) c.fail("input needs a row per token");
                const int32_t o = c.output(n, written);
                c.need_cols(o, c.t(x).spec.cols, "output");
                if (c.t(o).spec.rows_kind != Rows::outputs) c.fail("output needs a row per output");
                break;
            }
            default: c.fail("unknown op");
        }
    }
    int n_out = 0;
    for (size_t id = 0; id < p.tensors.size(); ++id) {
        if (p.tensors[id].spec.kind == TensorKind::output) {
            if (!written[id]) throw std::invalid_argument("graph: the output tensor is never written");
            if (p.tensors[id].spec.rows_kind != Rows::outputs) {
                throw std::invalid_argument("graph: the output tensor needs a row per output (select_rows)");
            }
            p.output = static_cast<int32_t>(id);
            ++n_out;
        }
    }
    if (n_out != 1) throw std::invalid_argument("graph: needs exactly one output tensor (the logits)");
}

const char* op_name(Op op) {
    switch (op) {
        case Op::get_rows: return "get_rows";
        case Op::matmul: return "matmul";
        case Op::rms_norm: return "rms_norm";
        case Op::rope: return "rope";
        case Op::attention: return "attention";
        case Op::add: return "add";
        case Op::mul: return "mul";
        case Op::scale: return "scale";
        case Op::glu: return "glu";
        case Op::unary: return "unary";
        case Op::softcap: return "softcap";
        case Op::select_rows: return "select_rows";
    }
    return "?";
}

}  // namespace lc::graph
