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

// The merges of one piece of escaped text (llm_tokenizer_spm_session::tokenize).
void TokenizerImpl::spm_merge(std::string_view text, std::vector<int32_t>& out) const {
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

// llama.cpp merges the whole fragment at once. A merge never crosses a place that no token can span, so the text
// can be cut there and each piece merged alone, with the same result: a merged symbol is a token, so a symbol over
// "x▁" (x not ▁) needs a token containing that, and the vocabulary has few or none (spm_crossing lists them; their
// occurrences keep the places they cover whole). Pieces repeat (words), so their ids are cached per call.
void TokenizerImpl::tokenize_spm(std::string_view fragment, bool prefix_space, std::vector<int32_t>& out,
                                 WordCache& cache) const {
    static constexpr std::string_view kSpace = "\xE2\x96\x81";
    std::string text;
    text.reserve(fragment.size() + 16);
    if (prefix_space) text += kSpace;
    for (char c : fragment) {
        if (c == ' ')
            text += kSpace;
        else
            text.push_back(c);
    }
    if (text.empty()) return;
    if (!spm_can_cut) {
        spm_merge(text, out);
        return;
    }

    // symbol starts that may begin a piece: a "▁" symbol whose left neighbour is not "▁"
    std::vector<uint32_t> cuts;
    bool prev_space = false;
    for (size_t off = 0; off < text.size();) {
        const size_t len = std::min(utf8_len(uint8_t(text[off])), text.size() - off);
        const bool space = len == 3 && std::string_view(text).compare(off, 3, kSpace) == 0;
        if (space && !prev_space && off > 0) cuts.push_back(uint32_t(off));
        prev_space = space;
        off += len;
    }
    if (cuts.empty()) {
        spm_merge(text, out);
        return;
    }
    if (!spm_crossing.empty()) {  // drop cuts inside an occurrence of a token that spans "x▁"
        std::vector<char> keep(cuts.size(), 1);
        for (int32_t id : spm_crossing) {
            const std::string_view t = texts.get(size_t(id));
            for (size_t at = text.find(t); at != std::string::npos; at = text.find(t, at + 1)) {
                auto it = std::upper_bound(cuts.begin(), cuts.end(), uint32_t(at));
                for (; it != cuts.end() && *it < at + t.size(); ++it) keep[size_t(it - cuts.begin())] = 0;
            }
        }
        size_t k = 0;
        for (size_t i = 0; i < cuts.size(); ++i)
            if (keep[i]) cuts[k++] = cuts[i];
        cuts.resize(k);
    }

    size_t start = 0;
    for (size_t i = 0; i <= cuts.size(); ++i) {
        const size_t end = i < cuts.size() ? cuts[i] : text.size();
        const std::string_view piece(text.data() + start, end - start);
        start = end;
        if (cache.lookup(piece, out)) continue;
        const size_t first = out.size();
        spm_merge(piece, out);
        cache.store(piece, out, first);
    }
}

}  // namespace lc::tok
