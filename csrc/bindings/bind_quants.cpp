// llamacore._core quants part: raw tensor bytes <-> float32 through the scalar reference code in csrc/quant.
// Validation of shapes and names lives in python/llamacore/quants.py; these functions re-check the byte counts
// (a wrong length must never read or write out of bounds) and release the GIL while they work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bindings/registry.h"
#include "llamacore/dtype.h"
#include "quant/quants.h"

namespace py = pybind11;

namespace {

const lc::DTypeTraits& supported_traits(int32_t id) {
    const lc::DTypeTraits* tr = lc::dtype_traits(id);
    if (!tr) throw std::invalid_argument("unknown GGML type id " + std::to_string(id));
    if (!lc::dequantize_supported(static_cast<lc::DType>(id)))
        throw std::invalid_argument(std::string("GGML type ") + tr->name + " is not supported by llamacore.quants");
    return *tr;
}

// Runs fn(first_block, n_blocks) over [0, nblocks), on a few threads when there is enough work (> ~4 MB of floats).
template <class Fn>
void parallel_blocks(int64_t nblocks, int64_t block_elems, Fn fn) {
    const int64_t elems = nblocks * block_elems;
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int nth = elems >= (1 << 20) ? std::min(hw, 8) : 1;
    if (nth == 1) {
        fn(int64_t{0}, nblocks);
        return;
    }
    std::vector<std::thread> threads;
    const int64_t per = (nblocks + nth - 1) / nth;
    for (int t = 0; t < nth; ++t) {
        const int64_t b0 = t * per, b1 = std::min(nblocks, b0 + per);
        if (b0 >= b1) break;
        threads.emplace_back([=] { fn(b0, b1 - b0); });
    }
    for (auto& th : threads) th.join();
}

// data: uint8 buffer of n/block_size blocks -> float32[n].
py::array_t<float> dequantize(py::buffer data, int32_t type_id, int64_t n) {
    const lc::DTypeTraits& tr = supported_traits(type_id);
    const py::buffer_info info = data.request();
    if (n < 0 || n % tr.block_size != 0)
        throw std::invalid_argument(std::to_string(n) + " elements is not a multiple of the " + tr.name +
                                    " block size " + std::to_string(tr.block_size));
    const int64_t nbytes = info.size * info.itemsize;
    const int64_t want = n / tr.block_size * tr.type_size;
    if (nbytes != want)
        throw std::invalid_argument(std::string(tr.name) + " data of " + std::to_string(n) + " elements needs " +
                                    std::to_string(want) + " bytes, got " + std::to_string(nbytes));
    py::array_t<float> out(n);
    const auto* src = static_cast<const uint8_t*>(info.ptr);
    float* dst = out.mutable_data();
    const auto t = static_cast<lc::DType>(type_id);
    {
        py::gil_scoped_release release;
        parallel_blocks(n / tr.block_size, tr.block_size, [&](int64_t b0, int64_t nb) {
            lc::dequantize_row(t, src + b0 * tr.type_size, dst + b0 * tr.block_size, nb * tr.block_size);
        });
    }
    return out;
}

// x: C-contiguous float32 (any shape, size a multiple of the block size) -> uint8 bytes, flat.
py::array_t<uint8_t> quantize(py::array_t<float, py::array::c_style | py::array::forcecast> x, int32_t type_id) {
    const lc::DTypeTraits& tr = supported_traits(type_id);
    const int64_t n = x.size();
    if (n % tr.block_size != 0)
        throw std::invalid_argument(std::to_string(n) + " elements is not a multiple of the " + tr.name +
                                    " block size " + std::to_string(tr.block_size));
    py::array_t<uint8_t> out(n / tr.block_size * tr.type_size);
    const float* src = x.data();
    auto* dst = out.mutable_data();
    const auto t = static_cast<lc::DType>(type_id);
    {
        py::gil_scoped_release release;
        parallel_blocks(n / tr.block_size, tr.block_size * 16, [&](int64_t b0, int64_t nb) {
            lc::quantize_row_ref(t, src + b0 * tr.block_size, dst + b0 * tr.type_size, nb * tr.block_size);
        });
    }
    return out;
}

}  // namespace

LC_BIND(quants) {
    m.def("quants_dequantize", &dequantize, py::arg("data"), py::arg("type_id"), py::arg("n"),
          "Decode n elements of GGML type type_id from raw bytes to a flat float32 array (reference code).");
    m.def("quants_quantize", &quantize, py::arg("x"), py::arg("type_id"),
          "Encode a float32 array (flattened) to raw bytes of GGML type type_id (llama.cpp's reference quantizers).");
    m.def(
        "quants_supported",
        [](int32_t id) {
            return lc::dtype_traits(id) != nullptr && lc::dequantize_supported(static_cast<lc::DType>(id));
        },
        py::arg("type_id"), "True if llamacore.quants can (de)quantize this GGML type id.");
    m.def(
        "quants_type_traits",
        [](int32_t id) -> py::object {
            const lc::DTypeTraits* tr = lc::dtype_traits(id);
            if (!tr) return py::none();
            return py::make_tuple(tr->name, tr->block_size, tr->type_size);
        },
        py::arg("type_id"), "(name, block_size, type_size) of a GGML type id, or None for an unknown id.");
}
