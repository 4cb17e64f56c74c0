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

namespace {

// The output shape an op's shape rule gives: {rows kind, fixed rows, cols}.
struct Shape {
    Rows rows_kind;
    int64_t rows, cols;
};

Shape out_shape(const Checker& c, const NodeSpec& n) {
    const TensorSpec& a = c.t(n.in[0]).spec;
    switch (op_info(n.op).shape) {
        case ShapeRule::like_input: return {a.rows_kind, a.rows, a.cols};
        case ShapeRule::lookup: return {Rows::tokens, 0, a.cols};
        case ShapeRule::matmul: {
            const TensorSpec& x = c.t(n.in[1]).spec;
            return {x.rows_kind, x.rows, a.rows};
        }
        case ShapeRule::attention: return {a.rows_kind, a.rows, n.p.n_head * n.p.head_dim_v};
        case ShapeRule::select_rows: return {Rows::outputs, 0, a.cols};
    }
    c.fail("unknown shape rule");
}

// What the op table says of every node: inputs present (or optional), read only after they are written, the
// output a fresh activation of the shape the op's rule gives. Returns the output.
int32_t check_common(Checker& c, const NodeSpec& n, std::vector<char>& written) {
    const OpInfo& info = op_info(n.op);
    for (int k = 0; k < kMaxInputs; ++k) {
        const int32_t id = n.in[k];
        const char* role = info.inputs[k];
        if (!role) {
            if (id >= 0) c.fail("takes " + std::to_string(k) + " inputs, got more");
            continue;
        }
        const std::string r = role;
        const bool optional = !r.empty() && r.back() == '?';
        if (id < 0) {
            if (!optional) c.fail("input " + std::to_string(k) + " (" + r + ") is missing");
            continue;
        }
        if (id >= static_cast<int32_t>(c.p.tensors.size())) c.fail("input " + std::to_string(k) + " is not a tensor");
        // Every float input must have been written by an earlier node (views: their root).
        if (c.is_float(id) && !written[c.p.tensors[id].root]) c.fail("input " + c.name(id) + " is read before written");
    }
    const int32_t o = c.output(n, written);
    const Shape want = out_shape(c, n);
    c.need_cols(o, want.cols, "output");
    const TensorSpec& os = c.t(o).spec;
    if (os.rows_kind != want.rows_kind || (want.rows_kind == Rows::fixed && os.rows != want.rows)) {
        c.fail("output " + c.name(o) + " has the wrong row count for " + info.name);
    }
    return o;
}

}  // namespace

void check_nodes(Program::Impl& p, const Options& opt, KVCache& kv) {
    std::vector<char> written(p.tensors.size(), 0);
    Checker c{p, opt};
    int n_attention = 0;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        Step& st = p.steps[i];
        const NodeSpec& n = st.node;
        const NodeParams& np = n.p;
        c.node = static_cast<int>(i);
        c.op = n.op;
        if (static_cast<int>(n.op) < 0 || static_cast<int>(n.op) >= kNumOps) c.fail("unknown op");
        check_common(c, n, written);
        switch (n.op) {
            case Op::get_rows: {
                const int32_t w = n.in[0], ids = n.in[1];
                c.need_weight(w, "table");
                c.need_input(ids, Input::tokens, "ids");
                ops::check_get_rows(c.t(w).spec.dtype, c.t(w).spec.cols, nullptr, 0, c.t(w).spec.rows);
                break;
            }
            case Op::matmul: {
                const int32_t w = n.in[0], x = n.in[1], b = n.in[2];
                c.need_weight(w, "weight");
                c.need_float(x, "input");
                const auto& ws = c.t(w).spec;
                c.need_cols(x, ws.cols, "input");
                ops::check_matmul(ws.dtype, ws.cols);
                if (b >= 0) c.need_f32_weight(b, ws.rows, "bias");
                break;
            }
            case Op::rms_norm:
            case Op::layer_norm: {
                const int32_t x = n.in[0];
                c.need_float(x, "input");
                const int64_t cols = c.t(x).spec.cols, group = np.group ? np.group : cols;
                if (group < 1 || cols % group) c.fail("group size must divide the columns");
                if (n.in[1] >= 0) c.need_f32_weight(n.in[1], group, "weight");
                if (n.in[2] >= 0) c.need_f32_weight(n.in[2], group, "bias");  // layer_norm
                if (!(np.eps >= 0)) c.fail("eps must be >= 0");
                break;
            }
            case Op::rope: {
                const int32_t x = n.in[0], pos = n.in[1], ff = n.in[2];
                c.need_float(x, "input");
                c.need_input(pos, Input::positions, "positions");
                if (np.n_head < 1 || np.head_dim < 1) c.fail("n_head and head_dim must be positive");
                c.need_cols(x, np.n_head * np.head_dim, "input");
                ops::RopeParams& r = st.rope;
                const auto i32 = [](int64_t v) { return static_cast<int>(v); };
                r = ops::RopeParams{i32(np.n_dims), i32(np.mode), np.freq_base, np.freq_scale,      np.ext_factor,
                                    np.attn_factor, np.beta_fast, np.beta_slow, i32(np.n_ctx_orig), nullptr};
                if (ff >= 0) {
                    c.need_f32_weight(ff, r.n_dims / 2, "frequency factors");
                    r.freq_factors = static_cast<const float*>(c.t(ff).spec.data);
                }
                ops::check_rope(r, np.head_dim);
                break;
            }
            case Op::attention: {
                const int32_t q = n.in[0], k = n.in[1], v = n.in[2];
                for (int32_t id : {q, k, v}) c.need_float(id, "q/k/v");
                const int64_t n_head = np.n_head, n_head_kv = np.n_head_kv, hd = np.head_dim, hdv = np.head_dim_v;
                if (np.layer != n_attention) {
                    c.fail("attention layers must be numbered 0, 1, 2, ... in order (got " + std::to_string(np.layer) +
                           ", expected " + std::to_string(n_attention) + ")");
                }
                if (n_head < 1 || n_head_kv < 1 || n_head % n_head_kv) c.fail("n_head must be a multiple of n_head_kv");
                if (hd < 1 || hdv < 1) c.fail("head dimensions must be positive");
                if (np.sliding_window < 0) c.fail("sliding window must be >= 0");
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
                a.scale = np.scale;
                a.softcap = np.softcap;
                a.sliding_window = static_cast<int32_t>(np.sliding_window);
                a.k_type = kv.type_k();
                a.v_type = kv.type_v();
                const KVLayer& l = kv.layer(static_cast<int>(np.layer));
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
                a.out_token_stride = c.t(n.out).stride;
                a.out_head_stride = hdv;
                static const int32_t dummy_pos = 0;  // positions come with each call
                a.q_pos = a.kv_pos = &dummy_pos;
                ops::check_attention(a);
                a.q_pos = a.kv_pos = nullptr;
                break;
            }
            case Op::add:
            case Op::mul: {
                const int32_t a = n.in[0], b = n.in[1];
                c.need_float(a, "a");
                const int64_t cols = c.t(a).spec.cols;
                if (c.is_float(b)) {
                    c.same_rows(a, b);
                    c.need_cols(b, cols, "b");
                } else {
                    c.need_f32_weight(b, cols, "b");  // one row, broadcast
                    if (c.t(b).spec.cols != cols) c.fail("a broadcast weight needs the same columns");
                }
                break;
            }
            case Op::glu: {
                const int32_t g = n.in[0], u = n.in[1];
                c.need_float(g, "gate");
                c.need_float(u, "up");
                c.same_rows(g, u);
                c.need_cols(u, c.t(g).spec.cols, "up");
                if (np.kind < 0 || np.kind >= ops::kNumGlu) c.fail("unknown glu kind");
                break;
            }
            case Op::scale:
            case Op::unary:
            case Op::softcap: {
                c.need_float(n.in[0], "input");
                if (n.op == Op::unary && (np.kind < 0 || np.kind >= ops::kNumUnary)) c.fail("unknown unary op");
                if (n.op == Op::softcap && !(np.softcap > 0)) c.fail("soft-cap must be > 0");
                break;
            }
            case Op::select_rows: {
                c.need_float(n.in[0], "input");
                if (c.t(n.in[0]).spec.rows_kind != Rows::tokens) c.fail("input needs a row per token");
                break;
            }
            case Op::count: c.fail("unknown op");
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

}  // namespace lc::graph
