// Byte-level BPE (tokenizer.ggml.model = "gpt2", also "gemma4"): llama.cpp's llm_tokenizer_bpe_session. The
// pre-tokenizer splits the text into words; each word's bytes become GPT-2 alphabet characters (not for gemma4),
// and the adjacent pair with the lowest merge rank (ties: leftmost) merges until none is left.
//
// Words repeat, so each call keeps a word -> ids cache; merges are looked up by symbol ids, not strings.
#include <algorithm>

#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace lc::tok {

namespace {

struct Symbol {
    uint32_t start, n;  // bytes of the encoded word
    int32_t id;         // symbol id (token id, extra symbol id >= n_vocab, or kNoToken)
    int32_t prev, next;
};

struct Bigram {
    int32_t rank, left, right;
    uint32_t left_n, right_n;
    int32_t merged;
};

// min rank first, then leftmost (llm_bigram_bpe::comparator)
struct BigramGreater {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

void TokenizerImpl::tokenize_bpe(std::string_view fragment, std::vector<int32_t>& out, WordCache& cache) const {
    std::string escaped;
    if (escape_whitespaces) {
        escaped.reserve(fragment.size() + 16);
        for (char c : fragment) {
            if (c == ' ')
                escaped += "\xE2\x96\x81";
            else
                escaped.push_back(c);
        }
        fragment = escaped;
    }
    std::vector<uint32_t> cpts;
    utf8_to_cpts(fragment, cpts);
    std::vector<size_t> lengths;
    pretok->split(cpts, lengths);

    // the text as llama.cpp rebuilds it from code points (differs from the input only where that is not UTF-8)
    std::string norm;
    norm.reserve(fragment.size() + 16);
    for (uint32_t c : cpts) utf8_append(norm, c);

    const bool byte_encode = pretok->byte_encode();
    const bool gemma4 = pre_type == "gemma4";
    std::string word;
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;
    const BigramGreater greater;

    size_t byte_pos = 0, cpt_pos = 0;
    for (size_t len : lengths) {
        size_t nbytes = 0;
        for (size_t k = cpt_pos; k < cpt_pos + len; ++k) {
            const uint32_t c = cpts[k];
            nbytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        }
        const std::string_view raw(norm.data() + byte_pos, nbytes);
        byte_pos += nbytes;
        cpt_pos += len;
        if (raw.empty()) continue;

        if (cache.lookup(raw, out)) continue;
        const size_t first_out = out.size();

        word.clear();
        symbols.clear();
        if (byte_encode) {
            for (unsigned char b : raw) {
                const uint32_t start = uint32_t(word.size());
                utf8_append(word, byte_to_cpt(b));
                symbols.push_back({start, uint32_t(word.size() - start), byte_symbol[b], 0, 0});
            }
        } else {
            word.assign(raw);
            for (size_t off = 0; off < word.size();) {
                const size_t n = std::min(utf8_len(uint8_t(word[off])), word.size() - off);
                symbols.push_back({uint32_t(off), uint32_t(n), symbol_of(std::string_view(word).substr(off, n)), 0, 0});
                off += n;
            }
        }

        int32_t whole = kNoToken;
        if (ignore_merges || (gemma4 && raw.find_first_not_of('\n') == std::string_view::npos)) whole = find(word);
        if (whole != kNoToken) {
            out.push_back(whole);
        } else {
            const int32_t n = int32_t(symbols.size());
            for (int32_t i = 0; i < n; ++i) {
                symbols[size_t(i)].prev = i - 1;
                symbols[size_t(i)].next = i + 1 < n ? i + 1 : -1;
            }
            heap.clear();
            auto try_add = [&](int32_t left, int32_t right) {
                if (left < 0 || right < 0) return;
                const Symbol& l = symbols[size_t(left)];
                const Symbol& r = symbols[size_t(right)];
                if (l.id == kNoToken || r.id == kNoToken) return;
                const PairMap::Value* m = merges.find(uint32_t(l.id), uint32_t(r.id));
                if (!m) return;
                heap.push_back({m->a, left, right, l.n, r.n, m->b});
                std::push_heap(heap.begin(), heap.end(), greater);
            };
            for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);
            while (!heap.empty()) {
                std::pop_heap(heap.begin(), heap.end(), greater);
                const Bigram b = heap.back();
                heap.pop_back();
                Symbol& l = symbols[size_t(b.left)];
                Symbol& r = symbols[size_t(b.right)];
                if (l.n == 0 || r.n == 0 || l.n != b.left_n || r.n != b.right_n) continue;  // outdated
                l.n += r.n;
                l.id = b.merged;
                r.n = 0;
                l.next = r.next;
                if (r.next >= 0) symbols[size_t(r.next)].prev = b.left;
                try_add(l.prev, b.left);
                try_add(b.left, l.next);
            }
            for (const Symbol& s : symbols) {
                if (s.n == 0) continue;
                if (s.id >= 0 && s.id < n_vocab()) {
                    out.push_back(s.id);
                    continue;
                }
                // no such token: llama.cpp tries each byte of the (encoded) text on its own
                for (size_t k = s.start; k < s.start + s.n; ++k) {
                    int32_t id;
                    if (byte_encode) {
                        id = find(std::string_view(word.data() + k, 1));
                    } else {
                        static const char* hex = "0123456789ABCDEF";
                        const uint8_t ch = uint8_t(word[k]);
                        const char name[6] = {'<', '0', 'x', hex[ch >> 4], hex[ch & 15], '>'};
                        id = find(std::string_view(name, 6));
                    }
                    if (id != kNoToken) out.push_back(id);
                }
            }
        }
        cache.store(raw, out, first_out);
    }
}

}  // namespace lc::tok
