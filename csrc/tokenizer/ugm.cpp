// Unigram (tokenizer.ggml.model = "t5": T5, and embedding models such as bge-m3 or nomic-embed): llama.cpp's
// llm_tokenizer_ugm. The text is normalised with SentencePiece's precompiled character map (a XOR-compressed double
// array of replacements), spaces become U+2581, then the Viterbi path of highest total score over the vocabulary's
// pieces wins; a character no piece covers is the unknown token (runs of them collapse into one).
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <stdexcept>

#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace lc::tok {

void TokenizerImpl::ByteTrie::insert(std::string_view key, int32_t id) {
    int32_t node = 0;
    for (unsigned char b : key) {
        int32_t next = child(node, b);
        if (next < 0) {
            next = int32_t(value.size());
            value.push_back(-1);
            children.emplace(uint32_t(node), b, PairMap::Value{next, 0});
        }
        node = next;
    }
    value[size_t(node)] = id;
}

int32_t TokenizerImpl::ByteTrie::walk(std::string_view key) const {
    int32_t node = 0;
    size_t depth = 0;
    for (unsigned char b : key) {
        node = child(node, b);
        if (node < 0) break;
        ++depth;
    }
    return int32_t(depth);
}

namespace {

// llama.cpp's unicode_cpt_from_utf8 as a validity check: the sequence length at s[0], or 0 where it throws
size_t utf8_valid_len(std::string_view s) {
    const auto b = [&](size_t i) { return uint8_t(s[i]); };
    const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
    if (!(b(0) & 0x80)) return 1;
    if (!(b(0) & 0x40)) return 0;
    if (!(b(0) & 0x20)) return cont(1) ? 2 : 0;
    if (!(b(0) & 0x10)) return cont(1) && cont(2) ? 3 : 0;
    if (!(b(0) & 0x08)) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

}  // namespace

// Replaces each prefix of the input by its normalised form (normalize_prefix), then lays out the spaces.
void TokenizerImpl::ugm_normalize(std::string_view input, std::string& out) const {
    out.clear();
    out.reserve(input.size() * 3);
    const std::string_view space = escape_whitespaces ? std::string_view("\xE2\x96\x81") : std::string_view(" ");
    const bool prepend = !treat_whitespace_as_suffix && add_space_prefix;
    const bool append = treat_whitespace_as_suffix && add_space_prefix;
    const bool merge = remove_extra_whitespaces;
    bool space_prepended = false, in_word = false;

    const auto* xcda = reinterpret_cast<const uint8_t*>(ugm_charsmap.data()) + 4;
    const size_t repl_off = 4 + ugm_xcda_size * 4;
    const char* replacements = ugm_charsmap.data() + repl_off;
    const size_t replacements_size = ugm_charsmap.size() > repl_off ? ugm_charsmap.size() - repl_off : 0;
    auto node_at = [&](size_t i) -> uint32_t {
        if (i >= ugm_xcda_size) throw std::invalid_argument("precompiled_charsmap: index out of the double array");
        uint32_t v;
        std::memcpy(&v, xcda + i * 4, 4);  // little-endian, as written by SentencePiece
        return v;
    };
    auto base = [&](size_t i) {
        const uint32_t n = node_at(i);
        return (n >> 10) << ((n & (1u << 9)) >> 6);
    };

    for (size_t off = 0; off < input.size();) {
        std::string_view chunk;
        size_t consumed;
        const int32_t user_len = ugm_user_defined.walk(input.substr(off));  // deepest path, token or not
        if (user_len > 0) {
            chunk = input.substr(off, size_t(user_len));
            consumed = size_t(user_len);
        } else {
            size_t match_len = 0, match_value = 0;
            if (ugm_xcda_size > 0) {
                uint32_t node = base(0);
                for (size_t p = off; p < input.size(); ++p) {
                    const uint8_t c = uint8_t(input[p]);
                    if (c == 0) break;
                    node ^= c;
                    if ((node_at(node) & ((1u << 31) | 0xFF)) != c) break;
                    const bool leaf = (node_at(node) >> 8) & 1;
                    node ^= base(node);
                    if (leaf) {
                        match_len = p - off + 1;
                        match_value = node_at(node) & ((1u << 31) - 1);
                    }
                }
            }
            if (match_len > 0) {
                if (match_value >= replacements_size)
                    throw std::invalid_argument("precompiled_charsmap: replacement index out of range");
                const char* r = replacements + match_value;
                const size_t max_len = replacements_size - match_value;
                size_t n = 0;
                while (n < max_len && r[n] != '\0') ++n;
                if (n == max_len) throw std::invalid_argument("precompiled_charsmap: unterminated replacement");
                chunk = std::string_view(r, n);
                consumed = match_len;
            } else if (const size_t n = utf8_valid_len(input.substr(off))) {
                chunk = input.substr(off, n);
                consumed = n;
            } else {
                chunk = "\xEF\xBF\xBD";  // a bad byte: U+FFFD
                consumed = 1;
            }
        }
        for (char c : chunk) {
            if (c != ' ') {
                if (!in_word) {
                    in_word = true;
                    if ((prepend && !space_prepended) || merge) {
                        out.append(space);
                        space_prepended = true;
                    }
                }
                out.push_back(c);
            } else {
                in_word = false;
                if (!merge) out.append(space);
            }
        }
        off += consumed;
    }
    if (append) out.append(space);
}

void TokenizerImpl::tokenize_ugm(std::string_view fragment, std::vector<int32_t>& out) const {
    std::string text;
    ugm_normalize(fragment, text);
    const size_t n = text.size();
    if (n == 0) return;
    struct Best {
        int32_t token;
        size_t from;
        double score;
    };
    std::vector<Best> best(n + 1, Best{unk, 0, -DBL_MAX});
    best[0] = Best{unk, 0, 0.0};
    for (size_t off = 0; off < n;) {
        const size_t units = std::min(utf8_len(uint8_t(text[off])), n - off);
        const double here = best[off].score;
        bool whole_char = false;
        int32_t node = ugm_tokens.child(0, uint8_t(text[off]));
        for (size_t end = off + 1; end <= n && node >= 0; ++end) {
            const int32_t id = ugm_tokens.value[size_t(node)];
            if (id >= 0) {
                if (end - off == units) whole_char = true;
                // user-defined pieces score 0 (normal ones are log probabilities), in double as SentencePiece
                const double score = here + ((attrs[size_t(id)] & kAttrUserDefined) ? 0.0 : double(scores[size_t(id)]));
                if (score > best[end].score) best[end] = Best{id, off, score};
            }
            if (end == n) break;
            node = ugm_tokens.child(node, uint8_t(text[end]));
        }
        if (!whole_char) {
            const double score = here + ugm_unknown_score;
            if (score > best[off + units].score) best[off + units] = Best{unk, off, score};
        }
        off += units;
    }
    // back from the end; consecutive unknowns become one
    const size_t first = out.size();
    bool prev_unknown = false;
    for (size_t at = n;;) {
        const Best& b = best[at];
        const bool unknown = b.token == unk;
        if (!(prev_unknown && unknown) && b.token != kNoToken) out.push_back(b.token);
        if (b.from == 0) break;
        prev_unknown = unknown;
        at = b.from;
    }
    std::reverse(out.begin() + long(first), out.end());
}

// RWKV: greedy longest match of the (unescaped) token texts, byte by byte; no match: the unknown token.
void TokenizerImpl::tokenize_rwkv(std::string_view text, std::vector<int32_t>& out) const {
    size_t pos = 0;
    while (pos < text.size()) {
        int32_t node = rwkv_tokens.child(0, uint8_t(text[pos]));
        if (node < 0) {
            if (unk != kNoToken) out.push_back(unk);
            ++pos;
            continue;
        }
        int32_t id = 0;
        size_t end = 0;  // llama.cpp: a path with no token on it gives token 0 and restarts at 0 (a loop there)
        for (size_t p = pos; node >= 0;) {
            if (rwkv_tokens.value[size_t(node)] >= 0) {
                id = rwkv_tokens.value[size_t(node)];
                end = p + 1;
            }
            if (p + 1 >= text.size()) break;
            node = rwkv_tokens.child(node, uint8_t(text[++p]));
        }
        out.push_back(id);
        pos = end > pos ? end : pos + 1;  // never loop
    }
}

}  // namespace lc::tok
