// llamacore._core.Tokenizer: the C++ tokenizer (csrc/tokenizer) behind llamacore.tokenizer.Tokenizer.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "bindings/registry.h"
#include "llamacore/tokenizer.h"

namespace py = pybind11;
using lc::tok::Tokenizer;
using lc::tok::VocabSource;

namespace {

// UTF-8 of a str straight from its code units (no per-string allocation). Lone surrogates: U+DC80..U+DCFF are
// bytes escaped by surrogateescape (a reader that decoded invalid UTF-8 so) and go back to those bytes; others are
// written as their 3-byte forms.
void append_utf8(PyObject* str, std::string& out) {
    const Py_ssize_t n = PyUnicode_GET_LENGTH(str);
    const int kind = PyUnicode_KIND(str);
    const void* data = PyUnicode_DATA(str);
    if (kind == PyUnicode_1BYTE_KIND && PyUnicode_IS_ASCII(str)) {
        out.append(static_cast<const char*>(data), size_t(n));
        return;
    }
    for (Py_ssize_t i = 0; i < n; ++i) {
        const Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            out.push_back(char(c));
        } else if (c < 0x800) {
            out.push_back(char(0xC0 | (c >> 6)));
            out.push_back(char(0x80 | (c & 0x3F)));
        } else if (c >= 0xDC80 && c <= 0xDCFF) {
            out.push_back(char(c - 0xDC00));
        } else if (c < 0x10000) {
            out.push_back(char(0xE0 | (c >> 12)));
            out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(char(0x80 | (c & 0x3F)));
        } else {
            out.push_back(char(0xF0 | (c >> 18)));
            out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
            out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(char(0x80 | (c & 0x3F)));
        }
    }
}

// A sequence of str or bytes -> one blob; str that is not encodable UTF-8 (lone surrogates from a reader that
// decoded with surrogateescape) goes back to its bytes.
void fill_strings(const py::handle& seq, lc::tok::StringList& out, const char* what) {
    PyObject* fast = PySequence_Fast(seq.ptr(), what);
    if (!fast) throw py::error_already_set();
    py::object guard = py::reinterpret_steal<py::object>(fast);
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject** items = PySequence_Fast_ITEMS(fast);
    out.offsets.reserve(size_t(n) + 1);
    out.blob.reserve(size_t(n) * 8);
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* item = items[i];
        if (PyUnicode_Check(item)) {
            Py_ssize_t len;
            const char* s = PyUnicode_AsUTF8AndSize(item, &len);
            if (s) {
                out.add(std::string_view(s, size_t(len)));
                continue;
            }
            PyErr_Clear();
            py::object b =
                py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(item, "utf-8", "surrogateescape"));
            if (!b) throw py::error_already_set();
            out.add(std::string_view(PyBytes_AS_STRING(b.ptr()), size_t(PyBytes_GET_SIZE(b.ptr()))));
        } else if (PyBytes_Check(item)) {
            out.add(std::string_view(PyBytes_AS_STRING(item), size_t(PyBytes_GET_SIZE(item))));
        } else {
            throw py::type_error(std::string(what) + ": item " + std::to_string(i) + " is " +
                                 py::str(py::type::handle_of(item)).cast<std::string>() + ", not str or bytes");
        }
    }
}

int64_t opt_id(const py::dict& d, const char* key) {
    if (!d.contains(key) || d[key].is_none()) return lc::tok::kAbsent;
    return d[key].cast<int64_t>();
}

int opt_flag(const py::dict& d, const char* key) {
    if (!d.contains(key) || d[key].is_none()) return -1;
    return d[key].cast<bool>() ? 1 : 0;
}

std::string opt_str(const py::dict& d, const char* key) {
    if (!d.contains(key) || d[key].is_none()) return std::string();
    return d[key].cast<std::string>();
}

std::unique_ptr<Tokenizer> make_tokenizer(const py::dict& d) {
    VocabSource src;
    src.model = opt_str(d, "model");
    src.pre = opt_str(d, "pre");
    if (!d.contains("tokens") || d["tokens"].is_none()) throw std::invalid_argument("tokenizer.ggml.tokens is missing");
    fill_strings(d["tokens"], src.tokens, "tokenizer.ggml.tokens");
    if (d.contains("merges") && !d["merges"].is_none()) {
        src.has_merges = true;
        fill_strings(d["merges"], src.merges, "tokenizer.ggml.merges");
    }
    if (d.contains("scores") && !d["scores"].is_none()) {
        auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(d["scores"]);
        if (!a) throw std::invalid_argument("tokenizer.ggml.scores is not an array of numbers");
        src.scores.assign(a.data(), a.data() + a.size());
    }
    if (d.contains("token_type") && !d["token_type"].is_none()) {
        auto a = py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(d["token_type"]);
        if (!a) throw std::invalid_argument("tokenizer.ggml.token_type is not an array of integers");
        src.types.assign(a.data(), a.data() + a.size());
    }
    if (d.contains("precompiled_charsmap") && !d["precompiled_charsmap"].is_none()) {
        auto a = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(d["precompiled_charsmap"]);
        if (!a) throw std::invalid_argument("tokenizer.ggml.precompiled_charsmap is not an array of bytes");
        src.precompiled_charsmap.assign(reinterpret_cast<const char*>(a.data()), size_t(a.size()));
    }
    src.bos = opt_id(d, "bos_token_id");
    src.eos = opt_id(d, "eos_token_id");
    src.eot = opt_id(d, "eot_token_id");
    src.eom = opt_id(d, "eom_token_id");
    src.unk = opt_id(d, "unknown_token_id");
    src.sep = opt_id(d, "seperator_token_id");
    src.pad = opt_id(d, "padding_token_id");
    src.mask = opt_id(d, "mask_token_id");
    src.fim_pre = opt_id(d, "fim_pre_token_id");
    src.fim_suf = opt_id(d, "fim_suf_token_id");
    src.fim_mid = opt_id(d, "fim_mid_token_id");
    src.fim_pad = opt_id(d, "fim_pad_token_id");
    src.fim_rep = opt_id(d, "fim_rep_token_id");
    src.fim_sep = opt_id(d, "fim_sep_token_id");
    src.prefix = opt_id(d, "prefix_token_id");
    src.suffix = opt_id(d, "suffix_token_id");
    src.middle = opt_id(d, "middle_token_id");
    src.add_bos = opt_flag(d, "add_bos_token");
    src.add_eos = opt_flag(d, "add_eos_token");
    src.add_sep = opt_flag(d, "add_sep_token");
    src.add_space_prefix = opt_flag(d, "add_space_prefix");
    src.remove_extra_whitespaces = opt_flag(d, "remove_extra_whitespaces");
    src.lowercase = opt_flag(d, "normalizer.lowercase");
    src.strip_accents = opt_flag(d, "normalizer.strip_accents");
    src.general_name = opt_str(d, "general.name");
    src.general_architecture = opt_str(d, "general.architecture");
    py::gil_scoped_release release;
    return std::make_unique<Tokenizer>(std::move(src));
}

std::string_view bytes_view(const py::bytes& b) {
    char* data;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(b.ptr(), &data, &len) != 0) throw py::error_already_set();
    return std::string_view(data, size_t(len));
}

py::list to_list(const std::vector<int32_t>& ids) {
    py::list out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        PyObject* v = PyLong_FromLong(ids[i]);
        if (!v) throw py::error_already_set();
        PyList_SET_ITEM(out.ptr(), Py_ssize_t(i), v);
    }
    return out;
}

using IdArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

}  // namespace

LC_BIND(tokenizer) {
    py::class_<Tokenizer>(m, "Tokenizer",
                          "llama.cpp's tokenizer built from GGUF tokenizer.* metadata (see llamacore.tokenizer).")
        .def(py::init(&make_tokenizer), py::arg("metadata"),
             "metadata: dict with model, pre, tokens, scores, token_type, merges, the *_token_id ids and flags.")
        .def(
            "tokenize",
            [](const Tokenizer& t, const py::bytes& text, bool add_special, bool parse_special) {
                const std::string_view s = bytes_view(text);
                std::vector<int32_t> ids;
                {
                    py::gil_scoped_release release;
                    ids = t.tokenize(s, add_special, parse_special);
                }
                return to_list(ids);
            },
            py::arg("text"), py::arg("add_special"), py::arg("parse_special"))
        .def(
            "tokenize_array",
            [](const Tokenizer& t, const py::bytes& text, bool add_special, bool parse_special) {
                const std::string_view s = bytes_view(text);
                auto* ids = new std::vector<int32_t>();
                {
                    py::gil_scoped_release release;
                    *ids = t.tokenize(s, add_special, parse_special);
                }
                py::capsule owner(ids, [](void* p) { delete static_cast<std::vector<int32_t>*>(p); });
                return py::array_t<int32_t>({py::ssize_t(ids->size())}, {py::ssize_t(sizeof(int32_t))}, ids->data(),
                                            owner);
            },
            py::arg("text"), py::arg("add_special"), py::arg("parse_special"))
        .def(
            "token_to_piece",
            [](const Tokenizer& t, int32_t token, bool special) {
                return py::bytes(std::string(t.token_to_piece(token, special)));
            },
            py::arg("token"), py::arg("special"))
        .def(
            "detokenize",
            [](const Tokenizer& t, const IdArray& ids, bool special) {
                std::string out;
                {
                    py::gil_scoped_release release;
                    out = t.detokenize(ids.data(), size_t(ids.size()), special);
                }
                return py::bytes(out);
            },
            py::arg("tokens"), py::arg("special"))
        .def(
            "detokenize_native",
            [](const Tokenizer& t, const IdArray& ids, bool remove_special, bool unparse_special) {
                std::string out;
                {
                    py::gil_scoped_release release;
                    out = t.detokenize_native(ids.data(), size_t(ids.size()), remove_special, unparse_special);
                }
                return py::bytes(out);
            },
            py::arg("tokens"), py::arg("remove_special"), py::arg("unparse_special"))
        .def("n_vocab", &Tokenizer::n_vocab)
        .def("token_text", [](const Tokenizer& t, int32_t id) { return py::bytes(std::string(t.token_text(id))); })
        .def("token_score", &Tokenizer::token_score)
        .def("token_attr", &Tokenizer::token_attr)
        .def("is_eog", &Tokenizer::is_eog)
        .def("eog_tokens", &Tokenizer::eog_tokens)
        .def(
            "special_id",
            [](const Tokenizer& t, const std::string& name) {
                using Getter = int32_t (Tokenizer::*)() const;
                static const std::pair<const char*, Getter> kIds[] = {
                    {"bos", &Tokenizer::bos},         {"eos", &Tokenizer::eos},
                    {"eot", &Tokenizer::eot},         {"eom", &Tokenizer::eom},
                    {"unk", &Tokenizer::unk},         {"sep", &Tokenizer::sep},
                    {"pad", &Tokenizer::pad},         {"mask", &Tokenizer::mask},
                    {"nl", &Tokenizer::nl},           {"fim_pre", &Tokenizer::fim_pre},
                    {"fim_suf", &Tokenizer::fim_suf}, {"fim_mid", &Tokenizer::fim_mid},
                    {"fim_pad", &Tokenizer::fim_pad}, {"fim_rep", &Tokenizer::fim_rep},
                    {"fim_sep", &Tokenizer::fim_sep},
                };
                for (const auto& kv : kIds)
                    if (name == kv.first) return (t.*kv.second)();
                throw std::invalid_argument("unknown special token name '" + name + "'");
            },
            py::arg("name"), "Id of bos, eos, eot, eom, unk, sep, pad, mask, nl or fim_* (-1 when absent).")
        .def("flags",
             [](const Tokenizer& t) {
                 py::dict d;
                 d["add_bos"] = t.add_bos(), d["add_eos"] = t.add_eos(), d["add_sep"] = t.add_sep();
                 d["add_space_prefix"] = t.add_space_prefix();
                 d["model"] = t.model(), d["pre"] = t.pre(), d["pre_type"] = t.pre_type();
                 return d;
             })
        .def_static("supported_models", &Tokenizer::supported_models)
        .def_static("supported_pre_tokenizers", &Tokenizer::supported_pre_tokenizers);
}
