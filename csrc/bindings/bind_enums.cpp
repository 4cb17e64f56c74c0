// llamacore._core enums and tables shared with Python: the one definition of each is here in C++
// (llamacore.graph and llamacore.ops import them).
#include <pybind11/stl.h>

#include <string>

#include "bindings/registry.h"
#include "llamacore/dtype.h"
#include "llamacore/graph.h"
#include "llamacore/ops.h"

namespace py = pybind11;
using namespace lc::graph;

namespace {

const char* shape_name(ShapeRule r) {
    switch (r) {
        case ShapeRule::like_input: return "like_input";
        case ShapeRule::lookup: return "lookup";
        case ShapeRule::matmul: return "matmul";
        case ShapeRule::attention: return "attention";
        case ShapeRule::select_rows: return "select_rows";
    }
    return "?";
}

py::dict op_row(Op op) {
    const OpInfo& info = op_info(op);
    py::dict d;
    py::list inputs, params;
    for (const char* r : info.inputs)
        if (r) inputs.append(r);
    for (const char* f : info.params)
        if (f) params.append(f);
    d["name"] = info.name;
    d["inputs"] = inputs;
    d["params"] = params;
    d["shape"] = shape_name(info.shape);
    d["fusions"] = info.fusions;
    d["reads_kv"] = info.reads_kv;
    return d;
}

}  // namespace

LC_BIND(enums) {
    // Enumerators are added from the C++ enums' own names and values; each enum's `count` sentinel is left out.
    py::enum_<lc::DType> dtype(m, "DType", "GGML tensor types (ggml_type ids; gaps are ids ggml removed).");
    for (int i = 0; i < lc::kNumDTypes; ++i) {
        if (const lc::DTypeTraits* t = lc::dtype_traits(i)) dtype.value(t->name, static_cast<lc::DType>(i));
    }
    py::enum_<Op> op(m, "Op", "Graph ops (llamacore/graph.h); facts per op: op_info().");
    for (int i = 0; i < kNumOps; ++i) op.value(op_name(static_cast<Op>(i)), static_cast<Op>(i));
    py::enum_<Rows>(m, "Rows", "How many rows a graph tensor has in a call.")
        .value("fixed", Rows::fixed)
        .value("tokens", Rows::tokens)
        .value("outputs", Rows::outputs);
    py::enum_<TensorKind>(m, "TensorKind", "What a graph tensor is.")
        .value("intermediate", TensorKind::intermediate)
        .value("weight", TensorKind::weight)
        .value("input", TensorKind::input)
        .value("output", TensorKind::output)
        .value("view", TensorKind::view);
    py::enum_<Input>(m, "Input", "Per-call int32 inputs of a graph.")
        .value("tokens", Input::tokens)
        .value("positions", Input::positions);
    py::enum_<lc::ops::Unary>(m, "Unary", "Unary activations (graph op unary, ops.unary).")
        .value("silu", lc::ops::Unary::silu)
        .value("gelu", lc::ops::Unary::gelu)
        .value("gelu_erf", lc::ops::Unary::gelu_erf)
        .value("relu", lc::ops::Unary::relu)
        .value("tanh", lc::ops::Unary::tanh)
        .value("neg", lc::ops::Unary::neg)
        .value("sqr", lc::ops::Unary::sqr)
        .value("sqrt", lc::ops::Unary::sqrt)
        .value("exp", lc::ops::Unary::exp);
    py::enum_<lc::ops::Glu>(m, "Glu", "Gated activations act(gate) * up; geglu uses gelu's tanh approximation.")
        .value("swiglu", lc::ops::Glu::swiglu)
        .value("geglu", lc::ops::Glu::geglu)
        .value("geglu_erf", lc::ops::Glu::geglu_erf);
    py::enum_<lc::ops::RopeMode>(m, "RopeMode", "Rope modes: NORMAL rotates adjacent pairs, NEOX halves.")
        .value("NORMAL", lc::ops::ROPE_NORMAL)
        .value("NEOX", lc::ops::ROPE_NEOX);

    m.def("op_info", &op_row, py::arg("op"),
          "The op table's row: name, inputs (a trailing '?' marks an optional one), params, shape rule, fusions.");
    m.def(
        "param_fields",
        [] {
            py::dict d;
            for (const ParamField& f : param_fields()) d[f.name] = f.i ? "int" : "float";
            return d;
        },
        "Every graph-node parameter field and its type ('int' or 'float').");
    m.def(
        "dtype_traits",
        [] {
            py::dict out;
            for (int i = 0; i < lc::kNumDTypes; ++i) {
                const lc::DTypeTraits* t = lc::dtype_traits(i);
                if (!t) continue;
                py::dict d;
                d["id"] = i;
                d["block_size"] = t->block_size;
                d["type_size"] = t->type_size;
                d["vec_dot_type"] = t->matmul ? py::cast(std::string(lc::traits(t->vec_dot_type).name)) : py::none();
                d["matmul"] = t->matmul;
                d["get_rows"] = t->get_rows;
                d["copy_rows"] = t->copy_rows;
                d["kv"] = t->kv_slot >= 0;
                out[t->name] = d;
            }
            return out;
        },
        "The format table: {name: {id, block_size, type_size, vec_dot_type, matmul, get_rows, copy_rows, kv}}.");
}
