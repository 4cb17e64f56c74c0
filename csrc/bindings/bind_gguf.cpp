// GGUF helpers for llamacore.gguf: the one part of reading a GGUF header that is too slow in Python, turning an
// array of length-prefixed strings (a 262k-entry vocabulary) into a list of str.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bindings/registry.h"

namespace py = pybind11;

namespace {

uint64_t load_u64_le(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // byte order of the file, whatever the host's
    return v;
}

// Reads `count` GGUF strings (u64 length + bytes) starting at `offset` of `buffer`, decoding UTF-8 with
// surrogateescape (lossless for invalid bytes, as llama.cpp keeps them). Returns (list, offset after the last).
py::tuple read_strings(const py::object& buffer, uint64_t offset, uint64_t count) {
    Py_buffer view;
    if (PyObject_GetBuffer(buffer.ptr(), &view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    struct Release {
        Py_buffer* v;
        ~Release() { PyBuffer_Release(v); }
    } release{&view};
    const auto* base = static_cast<const unsigned char*>(view.buf);
    const uint64_t size = static_cast<uint64_t>(view.len);
    if (offset > size) throw std::invalid_argument("at byte offset " + std::to_string(offset) + ": past the end");
    // Every string takes at least its 8-byte length: refuse counts the buffer cannot hold before allocating.
    if (count > (size - offset) / 8)
        throw std::invalid_argument("at byte offset " + std::to_string(offset) + ": " + std::to_string(count) +
                                    " strings cannot fit in the " + std::to_string(size - offset) + " bytes left");
    py::list out(static_cast<py::ssize_t>(count));
    uint64_t pos = offset;
    for (uint64_t i = 0; i < count; ++i) {
        if (size - pos < 8)
            throw std::invalid_argument("at byte offset " + std::to_string(pos) + ": string " + std::to_string(i) +
                                        " of " + std::to_string(count) + ": length truncated (file size " +
                                        std::to_string(size) + ")");
        const uint64_t n = load_u64_le(base + pos);
        if (n > size - pos - 8)
            throw std::invalid_argument("at byte offset " + std::to_string(pos) + ": string " + std::to_string(i) +
                                        " of " + std::to_string(count) + ": length " + std::to_string(n) +
                                        " is larger than the " + std::to_string(size - pos - 8) +
                                        " bytes left in the file");
        PyObject* s = PyUnicode_DecodeUTF8(reinterpret_cast<const char*>(base + pos + 8), static_cast<Py_ssize_t>(n),
                                           "surrogateescape");
        if (s == nullptr) throw py::error_already_set();
        PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), s);  // steals the reference
        pos += 8 + n;
    }
    return py::make_tuple(std::move(out), pos);
}

}  // namespace

LC_BIND(gguf) {
    m.def("gguf_read_strings", &read_strings, py::arg("buffer"), py::arg("offset"), py::arg("count"),
          "Parse `count` GGUF strings (u64 length + UTF-8 bytes) at `offset` of a buffer; returns (list[str], end "
          "offset). Raises ValueError naming the string and its byte offset when the buffer is too short.");
}
