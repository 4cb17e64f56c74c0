// The op table: one row of facts per graph op, and the named fields of NodeParams. Adding an op starts here
// (csrc/README.md has the checklist).
#include <stdexcept>
#include <string>

#include "llamacore/graph.h"

namespace lc::graph {
namespace {

#define LC_INT(F) \
    ParamField { #F, &NodeParams::F, nullptr }
#define LC_FLOAT(F) \
    ParamField { #F, nullptr, &NodeParams::F }

const std::vector<ParamField> kFields = {
    LC_FLOAT(eps),         LC_INT(group),          LC_INT(n_head),      LC_INT(head_dim),     LC_INT(n_dims),
    LC_INT(mode),          LC_INT(n_ctx_orig),     LC_FLOAT(freq_base), LC_FLOAT(freq_scale), LC_FLOAT(ext_factor),
    LC_FLOAT(attn_factor), LC_FLOAT(beta_fast),    LC_FLOAT(beta_slow), LC_INT(layer),        LC_INT(n_head_kv),
    LC_INT(head_dim_v),    LC_INT(sliding_window), LC_FLOAT(scale),     LC_FLOAT(softcap),    LC_FLOAT(bias),
    LC_INT(kind),
};

#undef LC_INT
#undef LC_FLOAT

using S = ShapeRule;

// Indexed by Op; the static_assert below keeps the table and the enum the same length.
const OpInfo kOps[] = {
    /* get_rows */ {"get_rows", {"table", "ids"}, {}, S::lookup, 0, false},
    /* matmul */
    {"matmul", {"weight", "input", "bias?"}, {}, S::matmul, kFuseSharedQuant | kFuseResidual | kFuseGlu, false},
    /* rms_norm */
    {"rms_norm",
     {"input", "weight?"},
     {"group", "eps"},
     S::like_input,
     kFuseNormPrologue | kFuseResidual | kFuseNormIntoRope,
     false},
    /* rope */
    {"rope",
     {"input", "positions", "freq_factors?"},
     {"n_head", "head_dim", "n_dims", "mode", "n_ctx_orig", "freq_base", "freq_scale", "ext_factor", "attn_factor",
      "beta_fast", "beta_slow"},
     S::like_input,
     kFuseNormIntoRope | kFuseKvStore,
     false},
    /* attention */
    {"attention",
     {"q", "k", "v"},
     {"layer", "n_head", "n_head_kv", "head_dim", "head_dim_v", "sliding_window", "scale", "softcap"},
     S::attention,
     kFuseKvStore,
     true},
    /* add */ {"add", {"a", "b"}, {}, S::like_input, kFuseIntoEpilogue, false},
    /* mul */ {"mul", {"a", "b"}, {}, S::like_input, 0, false},
    /* scale */ {"scale", {"input"}, {"scale", "bias"}, S::like_input, 0, false},
    /* glu */ {"glu", {"gate", "up"}, {"kind"}, S::like_input, kFuseIntoEpilogue, false},
    /* unary */ {"unary", {"input"}, {"kind"}, S::like_input, 0, false},
    /* softcap */ {"softcap", {"input"}, {"softcap"}, S::like_input, 0, false},
    /* select_rows */ {"select_rows", {"input"}, {}, S::select_rows, 0, false},
    /* layer_norm */ {"layer_norm", {"input", "weight?", "bias?"}, {"eps"}, S::like_input, 0, false},
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == kNumOps, "one op-table row per Op");

}  // namespace

const OpInfo& op_info(Op op) {
    const int i = static_cast<int>(op);
    if (i < 0 || i >= kNumOps) throw std::invalid_argument("unknown graph op " + std::to_string(i));
    return kOps[i];
}

const char* op_name(Op op) {
    const int i = static_cast<int>(op);
    return i >= 0 && i < kNumOps ? kOps[i].name : "?";
}

const std::vector<ParamField>& param_fields() { return kFields; }

const ParamField* param_field(const std::string& name) {
    for (const ParamField& f : kFields)
        if (name == f.name) return &f;
    return nullptr;
}

}  // namespace lc::graph
