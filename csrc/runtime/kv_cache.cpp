// KV cache bookkeeping (see graph.h): per-sequence regions of cells, cell index = position.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "llamacore/graph.h"

namespace lc::graph {

HostBuffer::HostBuffer(size_t n) : p_(static_cast<uint8_t*>(std::calloc(n ? n : 1, 1))), n_(n) {
    if (!p_) throw std::runtime_error("out of memory allocating " + std::to_string(n) + " bytes");
}

HostBuffer::~HostBuffer() { std::free(p_); }

HostBuffer& HostBuffer::operator=(HostBuffer&& o) noexcept {
    if (this != &o) {
        std::free(p_);
        p_ = o.p_, n_ = o.n_;
        o.p_ = nullptr, o.n_ = 0;
    }
    return *this;
}

KVCache::KVCache(int32_t n_seq, int64_t n_ctx_seq, DType type_k, DType type_v)
    : n_seq_(n_seq), n_ctx_seq_(n_ctx_seq), type_k_(type_k), type_v_(type_v) {
    if (n_seq < 1 || n_seq > 4096) throw std::invalid_argument("n_seq_max must be in [1, 4096]");
    if (n_ctx_seq < 1) {
        throw std::invalid_argument("n_ctx must be at least n_seq_max (each sequence needs at least one KV cell)");
    }
    for (DType t : {type_k, type_v}) {
        const DTypeTraits* tr = dtype_traits(static_cast<int32_t>(t));
        if (!tr || tr->kv_slot < 0) {
            throw std::invalid_argument(std::string("KV cache type ") + (tr ? tr->name : "?") +
                                        " is not supported (use f16, f32 or q8_0)");
        }
    }
    cell_pos_.assign(static_cast<size_t>(n_seq) * n_ctx_seq, -1);
    extent_.assign(n_seq, 0);
}

void KVCache::add_layer(int64_t n_head_kv, int64_t head_dim, int64_t head_dim_v) {
    KVLayer l;
    l.n_head_kv = n_head_kv;
    l.head_dim = head_dim;
    l.head_dim_v = head_dim_v;
    const DTypeTraits* tk = dtype_traits(static_cast<int32_t>(type_k_));
    const DTypeTraits* tv = dtype_traits(static_cast<int32_t>(type_v_));
    if (head_dim % tk->block_size || head_dim_v % tv->block_size) {
        throw std::invalid_argument("KV cache type " + std::string(tk->name) + "/" + tv->name +
                                    " needs head dimensions that are multiples of its block size (" +
                                    std::to_string(tk->block_size) + "); this model has " + std::to_string(head_dim));
    }
    l.k_row = row_bytes(*tk, n_head_kv * head_dim);
    l.v_row = row_bytes(*tv, n_head_kv * head_dim_v);
    const size_t cells = static_cast<size_t>(n_seq_) * n_ctx_seq_;
    l.k = HostBuffer(cells * l.k_row);
    l.v = HostBuffer(cells * l.v_row);
    layers_.push_back(std::move(l));
}

size_t KVCache::bytes() const {
    size_t n = 0;
    for (const auto& l : layers_) n += l.k.size() + l.v.size();
    return n;
}

void KVCache::check_seq(int32_t seq, const char* what) const {
    if (seq < 0 || seq >= n_seq_) {
        throw std::invalid_argument(std::string(what) + ": sequence id " + std::to_string(seq) + " is outside [0, " +
                                    std::to_string(n_seq_) + ") (n_seq_max)");
    }
}

void KVCache::clear(int32_t seq) { truncate(seq, 0); }

void KVCache::truncate(int32_t seq, int64_t n_keep) {
    if (n_keep < 0) throw std::invalid_argument("kv_truncate: n_keep must be >= 0");
    if (seq < 0) {
        for (int32_t s = 0; s < n_seq_; ++s) truncate(s, n_keep);
        return;
    }
    check_seq(seq, "kv_truncate");
    int32_t* pos = cell_pos(seq);
    const int64_t end = extent_[seq];
    for (int64_t c = std::min<int64_t>(n_keep, end); c < end; ++c) pos[c] = -1;
    int64_t e = std::min<int64_t>(n_keep, end);
    while (e > 0 && pos[e - 1] < 0) --e;
    extent_[seq] = e;
}

void KVCache::copy(int32_t src, int32_t dst) {
    check_seq(src, "kv_copy");
    check_seq(dst, "kv_copy");
    if (src == dst) return;
    const int64_t n = extent_[src];
    for (auto& l : layers_) {
        std::memcpy(l.k.data() + dst * n_ctx_seq_ * l.k_row, l.k.data() + src * n_ctx_seq_ * l.k_row, n * l.k_row);
        std::memcpy(l.v.data() + dst * n_ctx_seq_ * l.v_row, l.v.data() + src * n_ctx_seq_ * l.v_row, n * l.v_row);
    }
    int32_t* d = cell_pos(dst);
    std::memcpy(d, cell_pos(src), n * sizeof(int32_t));
    std::fill(d + n, d + n_ctx_seq_, -1);
    extent_[dst] = n;
}

int64_t KVCache::n_past(int32_t seq) const {
    check_seq(seq, "kv_n_past");
    return extent_[seq];
}

std::vector<int32_t> KVCache::positions(int32_t seq) const {
    check_seq(seq, "kv_positions");
    std::vector<int32_t> out;
    const int32_t* pos = cell_pos_.data() + seq * n_ctx_seq_;
    for (int64_t c = 0; c < extent_[seq]; ++c)
        if (pos[c] >= 0) out.push_back(pos[c]);
    return out;
}

}  // namespace lc::graph
