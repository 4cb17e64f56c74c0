// Special tokens in raw text (llama.cpp's tokenizer_st_partition): each special token, longest first, is cut out of
// the text pieces the earlier ones left, at its leftmost non-overlapping occurrences. With special=False only
// user-defined tokens are cut out (control and unknown ones stay plain text).
//
// llama.cpp searches the text once per special token (Gemma-3 has 6,400 of them). Here one pass over a trie finds
// where any of them occurs; the cutting then replays llama.cpp's order using those positions only.
#include <algorithm>

#include "tokenizer/impl.h"

namespace lc::tok {

void TokenizerImpl::build_trie() {
    trie.assign(1, TrieNode{});
    std::fill(std::begin(trie_root_child), std::end(trie_root_child), -1);
    for (size_t rank = 0; rank < special_tokens.size(); ++rank) {
        const std::string_view text = texts.get(size_t(special_tokens[rank]));
        int32_t node = 0;
        for (size_t k = 0; k < text.size(); ++k) {
            const uint8_t b = uint8_t(text[k]);
            int32_t child = node == 0 ? trie_root_child[b] : trie[size_t(node)].first_child;
            if (node != 0)
                while (child >= 0 && trie[size_t(child)].byte != b) child = trie[size_t(child)].next_sibling;
            if (child < 0) {
                TrieNode fresh;
                fresh.byte = b;
                child = int32_t(trie.size());
                if (node == 0) {
                    trie_root_child[b] = child;
                } else {
                    fresh.next_sibling = trie[size_t(node)].first_child;
                    trie[size_t(node)].first_child = child;
                }
                trie.push_back(fresh);
            }
            node = child;
        }
        if (node != 0 && trie[size_t(node)].rank < 0) trie[size_t(node)].rank = int32_t(rank);
    }
}

namespace {
bool c_isspace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
}  // namespace

std::vector<TokenizerImpl::Fragment> TokenizerImpl::partition(std::string_view text, bool parse_special) const {
    std::vector<Fragment> frags;
    if (text.empty()) return frags;
    frags.push_back({kNoToken, 0, text.size()});
    if (special_tokens.empty()) return frags;

    auto active = [&](size_t rank) {
        return parse_special || !(attrs[size_t(special_tokens[rank])] & (kAttrControl | kAttrUnknown));
    };

    // (rank, position) of every occurrence of an active special token, or only which ranks occur when there
    // would be too many positions to keep
    std::vector<std::pair<int32_t, uint32_t>> hits;
    std::vector<char> occurs(special_tokens.size(), 0);
    const size_t max_hits = 4 * text.size() + (1 << 16);
    bool keep_positions = text.size() < (size_t(1) << 32);
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    for (size_t pos = 0; pos < text.size(); ++pos) {
        int32_t node = trie_root_child[s[pos]];
        for (size_t k = pos; node >= 0;) {
            const TrieNode& nd = trie[size_t(node)];
            if (nd.rank >= 0 && active(size_t(nd.rank))) {
                occurs[size_t(nd.rank)] = 1;
                if (keep_positions) {
                    hits.emplace_back(nd.rank, uint32_t(pos));
                    if (hits.size() > max_hits) {
                        keep_positions = false;
                        hits.clear();
                        hits.shrink_to_fit();
                    }
                }
            }
            if (++k >= text.size()) break;
            node = nd.first_child;
            while (node >= 0 && trie[size_t(node)].byte != s[k]) node = trie[size_t(node)].next_sibling;
        }
    }
    if (keep_positions) std::sort(hits.begin(), hits.end());

    std::vector<Fragment> next;
    std::vector<uint32_t> positions;
    size_t h = 0;
    for (size_t rank = 0; rank < special_tokens.size(); ++rank) {
        if (!occurs[rank]) continue;
        const int32_t id = special_tokens[rank];
        const std::string_view tok = texts.get(size_t(id));
        const size_t len = tok.size();
        const uint32_t attr = attrs[size_t(id)];
        positions.clear();
        if (keep_positions) {
            while (h < hits.size() && size_t(hits[h].first) < rank) ++h;
            for (; h < hits.size() && size_t(hits[h].first) == rank; ++h) positions.push_back(hits[h].second);
        }
        size_t pi = 0;
        // leftmost occurrence of tok starting at >= base and ending by base + blen
        auto find = [&](size_t base, size_t blen) -> size_t {
            if (!keep_positions) {
                const size_t m = std::string_view(text.data(), base + blen).find(tok, base);
                return m;
            }
            while (pi < positions.size() && positions[pi] < base) ++pi;
            if (pi < positions.size() && positions[pi] + len <= base + blen) return positions[pi];
            return std::string_view::npos;
        };
        next.clear();
        for (const Fragment& f : frags) {
            if (f.token != kNoToken) {
                next.push_back(f);
                continue;
            }
            size_t base = f.offset, blen = f.length;
            while (true) {
                const size_t m = find(base, blen);
                if (m == std::string_view::npos) {
                    next.push_back({kNoToken, base, blen});
                    break;
                }
                if (m > base) {
                    size_t left = m - base;
                    if (attr & kAttrLstrip)
                        while (left > 0 && c_isspace(text[base + left - 1])) --left;
                    if (left > 0) next.push_back({kNoToken, base, left});
                }
                next.push_back({id, m, len});
                if (m + len >= base + blen) break;
                size_t roff = m + len, rlen = blen - ((m - base) + len);
                if (attr & kAttrRstrip)
                    while (rlen > 0 && c_isspace(text[roff])) ++roff, --rlen;
                base = roff, blen = rlen;
                if (blen == 0) break;
            }
        }
        frags.swap(next);
    }
    return frags;
}

}  // namespace lc::tok
