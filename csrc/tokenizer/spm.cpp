// SentencePiece-style BPE with byte fallback (tokenizer.ggml.model = "llama"): llama.cpp's llm_tokenizer_spm.
// Spaces become U+2581, the text splits into UTF-8 characters, and the adjacent pair whose concatenation is the
// highest-scoring token (ties: leftmost) merges until none is left; what is no token falls back to <0xXX> bytes.
#include <algorithm>

#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace lc::tok {

namespace {

struct Symbol {
    uint32_t start, n;  // bytes of the escaped text; n == 0 once merged into its left neighbour
    int32_t prev, next;
};

struct Bigram {
    float score;
    int32_t left, right;
    uint32_t size;
};

// std::priority_queue order of llama.cpp's llm_bigram_spm::comparator: best score first, then leftmost
struct BigramLess {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

void TokenizerImpl::tokenize_spm(std::string_view fragment, bool prefix_space, std::vector<int32_t>& out) const {
    std::string text;
    text.reserve(fragment.size() + 16);
    if (prefix_space) text += "\xE2\x96\x81";
    for (char c : fragment) {
        if (c == ' ')
            text += "\xE2\x96\x81";
        else
            text.push_back(c);
    }
    if (text.empty()) return;

    std::vector<Symbol> symbols;
    symbols.reserve(text.size());
    for (size_t off = 0; off < text.size();) {
        const size_t len = std::min(utf8_len(uint8_t(text[off])), text.size() - off);
        const int32_t index = int32_t(symbols.size());
        symbols.push_back({uint32_t(off), uint32_t(len), index - 1, off + len == text.size() ? -1 : index + 1});
        off += len;
    }

    std::vector<Bigram> heap;
    heap.reserve(symbols.size());
    const BigramLess less;
    auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols[size_t(left)];
        const uint32_t size = l.n + symbols[size_t(right)].n;
        const int32_t id = find(std::string_view(text.data() + l.start, size));
        if (id == kNoToken) return;
        heap.push_back({scores[size_t(id)], left, right, size});
        std::push_heap(heap.begin(), heap.end(), less);
    };
    for (int32_t i = 1; i < int32_t(symbols.size()); ++i) try_add(i - 1, i);

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), less);
        const Bigram b = heap.back();
        heap.pop_back();
        Symbol& l = symbols[size_t(b.left)];
        Symbol& r = symbols[size_t(b.right)];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // one side changed since
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[size_t(r.next)].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }

    for (int32_t i = 0; i != -1; i = symbols[size_t(i)].next) {
        const Symbol& s = symbols[size_t(i)];
        const std::string_view piece(text.data() + s.start, s.n);
        const int32_t id = find(piece);
        if (id != kNoToken) {
            out.push_back(id);
            continue;
        }
        for (unsigned char byte : piece) {  // byte fallback: <0xXX>, else the byte as a token
            static const char* hex = "0123456789ABCDEF";
            const char name[6] = {'<', '0', 'x', hex[byte >> 4], hex[byte & 15], '>'};
            int32_t bid = find(std::string_view(name, 6));
            if (bid == kNoToken) bid = find(std::string_view(reinterpret_cast<const char*>(&byte), 1));
            if (bid == kNoToken) bid = unk;  // llama.cpp aborts here; the unknown token is the kinder answer
            if (bid != kNoToken) out.push_back(bid);
        }
    }
}

}  // namespace lc::tok
