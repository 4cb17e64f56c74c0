// llamacore._core.Program: a planned model graph with its KV cache (llamacore.graph builds the description).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "bindings/registry.h"
#include "llamacore/graph.h"

namespace py = pybind11;
using namespace lc::graph;

namespace {

// Reads a description dict strictly: take() each known key; done() then rejects any key left over, so a misspelled
// key is an error instead of a silent default.
class Fields {
   public:
    Fields(const py::dict& d, std::string what) : d_(d), what_(std::move(what)) {}
    bool has(const char* key) const { return d_.contains(key); }
    template <class T>
    T take(const char* key) {
        if (!d_.contains(key)) throw std::invalid_argument(what_ + ": missing field '" + key + "'");
        used_.insert(key);
        try {
            return d_[key].cast<T>();
        } catch (const py::cast_error&) {
            throw std::invalid_argument(what_ + ": field '" + key + "' has the wrong type");
        }
    }
    template <class T>
    T take(const char* key, T fallback) {
        return d_.contains(key) ? take<T>(key) : fallback;
    }
    void done() const {
        for (const auto& kv : d_) {
            const std::string k = py::str(kv.first);
            if (!used_.count(k)) throw std::invalid_argument(what_ + ": unknown field '" + k + "'");
        }
    }

   private:
    py::dict d_;
    std::string what_;
    std::set<std::string> used_;
};

// A node's parameters from {field name: value}: exactly the fields the op's table row lists.
NodeParams parse_params(Op op, const py::dict& d, const std::string& what) {
    const OpInfo& info = op_info(op);
    NodeParams p;
    Fields f(d, what + " (" + info.name + ") parameters");
    for (const char* name : info.params) {
        if (!name) break;
        const ParamField* pf = param_field(name);
        if (!pf) throw std::logic_error(std::string("op table: ") + info.name + " lists unknown field " + name);
        if (pf->i) {
            p.*(pf->i) = f.take<int64_t>(name);
        } else {
            p.*(pf->f) = f.take<float>(name);
        }
    }
    f.done();
    return p;
}

NodeSpec parse_node(const py::dict& d, size_t index) {
    const std::string what = "graph node " + std::to_string(index);
    Fields f(d, what);
    NodeSpec n;
    n.op = f.take<Op>("op");
    op_info(n.op);  // throws for a value outside the enum
    n.out = f.take<int32_t>("out");
    const auto ins = f.take<std::vector<int32_t>>("in");
    if (ins.size() > static_cast<size_t>(kMaxInputs)) throw std::invalid_argument(what + ": too many inputs");
    for (size_t k = 0; k < ins.size(); ++k) n.in[k] = ins[k];
    n.p = parse_params(n.op, f.take<py::dict>("params"), what);
    f.done();
    return n;
}

// The canonical dict of a parsed node (what Python sent, every parameter the op takes): round-trip tests.
py::dict node_dict(const NodeSpec& n) {
    py::dict d, params;
    d["op"] = n.op;
    std::vector<int32_t> ins;
    const OpInfo& info = op_info(n.op);
    for (int k = 0; k < kMaxInputs && info.inputs[k]; ++k) ins.push_back(n.in[k]);
    d["in"] = ins;
    d["out"] = n.out;
    for (const char* name : info.params) {
        if (!name) break;
        const ParamField* pf = param_field(name);
        if (pf->i) {
            params[name] = n.p.*(pf->i);
        } else {
            params[name] = n.p.*(pf->f);
        }
    }
    d["params"] = params;
    return d;
}

// Keeps the weight arrays (views over the mmap) alive as long as the program.
struct PyProgram {
    std::unique_ptr<Program> program;
    py::list keepalive;

    // Runs f(kv) holding the program's mutex (a run() in another thread finishes first), without the GIL.
    template <class F>
    void locked(F&& f) {
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(program->mutex());
        f(program->kv());
    }
};

GraphSpec parse(const py::list& tensors, const py::list& nodes, py::list& keep) {
    GraphSpec g;
    for (const auto& item : tensors) {
        const std::string what = "graph tensor " + std::to_string(g.tensors.size());
        Fields d(item.cast<py::dict>(), what);
        TensorSpec s;
        s.kind = d.take<TensorKind>("kind");
        s.rows_kind = d.take<Rows>("rows_kind");
        if (s.rows_kind == Rows::fixed) s.rows = d.take<int64_t>("rows");
        s.cols = d.take<int64_t>("cols");
        s.name = d.take<std::string>("name", "");
        if (s.kind == TensorKind::input) s.input = d.take<Input>("input");
        if (s.kind == TensorKind::view) {
            s.base = d.take<int32_t>("base");
            s.col_offset = d.take<int64_t>("col_offset");
        }
        if (s.kind == TensorKind::weight) {
            s.dtype = d.take<lc::DType>("dtype");
            s.row_bytes = d.take<size_t>("row_bytes", 0);
            auto arr = d.take<py::array>("data");
            if (!(arr.flags() & py::array::c_style)) {
                throw std::invalid_argument("weight '" + s.name + "': data must be C-contiguous");
            }
            const lc::DTypeTraits* tr = lc::dtype_traits(static_cast<int32_t>(s.dtype));
            if (!tr) throw std::invalid_argument("weight '" + s.name + "': unknown type");
            const size_t rb = s.row_bytes ? s.row_bytes : static_cast<size_t>(lc::row_bytes(*tr, s.cols));
            const size_t need = rb * static_cast<size_t>(s.rows > 0 ? s.rows : 0);
            if (static_cast<size_t>(arr.nbytes()) < need) {
                throw std::invalid_argument("weight '" + s.name + "': " + std::to_string(arr.nbytes()) +
                                            " bytes of data, the shape needs " + std::to_string(need));
            }
            s.data = arr.data();
            keep.append(arr);
        }
        d.done();
        g.tensors.push_back(std::move(s));
    }
    for (const auto& item : nodes) g.nodes.push_back(parse_node(item.cast<py::dict>(), g.nodes.size()));
    return g;
}

using I32 = py::array_t<int32_t, py::array::c_style>;

}  // namespace

LC_BIND(graph) {
    m.def(
        "graph_parse_node", [](const py::dict& d) { return node_dict(parse_node(d, 0)); }, py::arg("node"),
        "A graph node description as the runtime reads it (every parameter its op takes), or ValueError.");
    py::class_<PyProgram>(m, "Program",
                          "A planned model graph with its KV cache; built by llamacore.graph.Graph.compile().")
        .def(py::init([](const py::list& tensors, const py::list& nodes, int64_t max_tokens, int64_t n_ctx,
                         int32_t n_seq, lc::DType type_k, lc::DType type_v, int n_threads, bool fuse) {
                 auto p = std::make_unique<PyProgram>();
                 GraphSpec spec = parse(tensors, nodes, p->keepalive);
                 const Options o{max_tokens, n_ctx, n_seq, type_k, type_v, n_threads, fuse};
                 p->program = std::make_unique<Program>(std::move(spec), o);
                 return p;
             }),
             py::arg("tensors"), py::arg("nodes"), py::arg("max_tokens"), py::arg("n_ctx"), py::arg("n_seq"),
             py::arg("type_k"), py::arg("type_v"), py::arg("n_threads"), py::arg("fuse") = true)
        .def(
            "run",
            [](PyProgram& self, const I32& tokens, const I32& positions, const py::object& seq_ids, const I32& out_rows,
               py::array_t<float, py::array::c_style> logits) {
                Batch b;
                b.n_tokens = tokens.size();
                if (positions.size() != b.n_tokens)
                    throw std::invalid_argument("positions and tokens differ in length");
                I32 seqs;
                if (!seq_ids.is_none()) {
                    seqs = seq_ids.cast<I32>();
                    if (seqs.size() != b.n_tokens) throw std::invalid_argument("seq_ids and tokens differ in length");
                    b.seq_ids = seqs.data();
                }
                b.tokens = tokens.data();
                b.positions = positions.data();
                b.out_rows = out_rows.data();
                b.n_outputs = out_rows.size();
                const int64_t vocab = self.program->n_vocab();
                if (logits.ndim() != 2 || logits.shape(0) < b.n_outputs || logits.shape(1) != vocab ||
                    !logits.writeable()) {
                    throw std::invalid_argument("logits must be a writable float32 array [n_outputs, n_vocab]");
                }
                b.logits = logits.mutable_data();
                py::gil_scoped_release release;
                self.program->run(b);
            },
            py::arg("tokens"), py::arg("positions"), py::arg("seq_ids"), py::arg("out_rows"), py::arg("logits"),
            "Forward pass of one batch (GIL released). Writes the logits of out_rows into logits[:len(out_rows)].")
        .def_property_readonly("n_vocab", [](PyProgram& self) { return self.program->n_vocab(); })
        .def_property_readonly("n_ctx_seq", [](PyProgram& self) { return self.program->kv().n_ctx_seq(); })
        .def_property_readonly("n_seq", [](PyProgram& self) { return self.program->kv().n_seq(); })
        .def(
            "kv_clear", [](PyProgram& self, int32_t seq) { self.locked([&](KVCache& kv) { kv.clear(seq); }); },
            py::arg("seq"))
        .def(
            "kv_truncate",
            [](PyProgram& self, int32_t seq, int64_t n_keep) {
                self.locked([&](KVCache& kv) { kv.truncate(seq, n_keep); });
            },
            py::arg("seq"), py::arg("n_keep"))
        .def(
            "kv_copy",
            [](PyProgram& self, int32_t src, int32_t dst) { self.locked([&](KVCache& kv) { kv.copy(src, dst); }); },
            py::arg("src"), py::arg("dst"))
        .def(
            "kv_n_past",
            [](PyProgram& self, int32_t seq) {
                int64_t n = 0;
                self.locked([&](KVCache& kv) { n = kv.n_past(seq); });
                return n;
            },
            py::arg("seq"))
        .def(
            "kv_positions",
            [](PyProgram& self, int32_t seq) {
                std::vector<int32_t> v;
                self.locked([&](KVCache& kv) { v = kv.positions(seq); });
                return v;
            },
            py::arg("seq"))
        .def("stats",
             [](PyProgram& self) {
                 const PlanStats s = self.program->stats();
                 py::dict d;
                 d["n_nodes"] = s.n_nodes;
                 d["n_steps"] = s.n_steps;
                 d["n_barriers"] = s.n_barriers;
                 d["arena_bytes"] = s.arena_bytes;
                 d["work_bytes"] = s.work_bytes;
                 d["kv_bytes"] = s.kv_bytes;
                 return d;
             })
        .def("describe", [](PyProgram& self) { return self.program->describe(); })
        .def(
            "set_profiling", [](PyProgram& self, bool on) { self.program->set_profiling(on); }, py::arg("on"),
            "Time each step (thread 0's view, summed over calls) until set_profiling(False).")
        .def(
            "profile", [](PyProgram& self) { return self.program->profile(); },
            "Seconds per step (the lines of describe()) since set_profiling(True).");
}
