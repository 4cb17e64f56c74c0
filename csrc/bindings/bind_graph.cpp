// llamacore._core.Program: a planned model graph with its KV cache (llamacore.graph builds the description).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "bindings/registry.h"
#include "llamacore/graph.h"

namespace py = pybind11;
using namespace lc::graph;

namespace {

template <class T>
T get(const py::dict& d, const char* key, T fallback) {
    return d.contains(key) ? d[key].cast<T>() : fallback;
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
        const auto d = item.cast<py::dict>();
        TensorSpec s;
        s.kind = static_cast<TensorKind>(get<int>(d, "kind", 0));
        s.rows_kind = static_cast<Rows>(get<int>(d, "rows_kind", 1));
        s.rows = get<int64_t>(d, "rows", 0);
        s.cols = get<int64_t>(d, "cols", 0);
        s.dtype = static_cast<lc::DType>(get<int>(d, "dtype", 0));
        s.row_bytes = get<size_t>(d, "row_bytes", 0);
        s.input = static_cast<Input>(get<int>(d, "input", 0));
        s.base = get<int32_t>(d, "base", -1);
        s.col_offset = get<int64_t>(d, "col_offset", 0);
        s.name = get<std::string>(d, "name", "");
        if (s.kind == TensorKind::weight) {
            if (!d.contains("data")) throw std::invalid_argument("weight '" + s.name + "' has no data");
            auto arr = d["data"].cast<py::array>();
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
        g.tensors.push_back(std::move(s));
    }
    for (const auto& item : nodes) {
        const auto d = item.cast<py::dict>();
        NodeSpec n;
        n.op = static_cast<Op>(d["op"].cast<int>());
        n.out = d["out"].cast<int32_t>();
        auto ins = d["in"].cast<std::vector<int32_t>>();
        if (ins.size() > static_cast<size_t>(kMaxInputs)) throw std::invalid_argument("too many node inputs");
        for (size_t k = 0; k < ins.size(); ++k) n.in[k] = ins[k];
        auto iv = get<std::vector<int64_t>>(d, "i", {});
        auto fv = get<std::vector<float>>(d, "f", {});
        if (iv.size() > static_cast<size_t>(kMaxParams) || fv.size() > static_cast<size_t>(kMaxParams)) {
            throw std::invalid_argument("too many node parameters");
        }
        for (size_t k = 0; k < iv.size(); ++k) n.i[k] = iv[k];
        for (size_t k = 0; k < fv.size(); ++k) n.f[k] = fv[k];
        g.nodes.push_back(n);
    }
    return g;
}

using I32 = py::array_t<int32_t, py::array::c_style>;

}  // namespace

LC_BIND(graph) {
    py::class_<PyProgram>(m, "Program",
                          "A planned model graph with its KV cache; built by llamacore.graph.Graph.compile().")
        .def(py::init([](const py::list& tensors, const py::list& nodes, int64_t max_tokens, int64_t n_ctx,
                         int32_t n_seq, int type_k, int type_v, int n_threads, bool fuse) {
                 auto p = std::make_unique<PyProgram>();
                 GraphSpec spec = parse(tensors, nodes, p->keepalive);
                 Options o;
                 o.max_tokens = max_tokens;
                 o.n_ctx = n_ctx;
                 o.n_seq = n_seq;
                 o.type_k = static_cast<lc::DType>(type_k);
                 o.type_v = static_cast<lc::DType>(type_v);
                 o.n_threads = n_threads;
                 o.fuse = fuse;
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
