// WordPiece (tokenizer.ggml.model = "bert"): llama.cpp's llm_tokenizer_wpm. BERT's normaliser (lower case, accents
// stripped through the first code point of NFD, control characters dropped, punctuation and CJK characters split
// off), then per word the longest vocabulary prefix, repeatedly; the GGUF vocabulary marks word starts with U+2581
// (convert_hf_to_gguf turns "##x" into "x" and "x" into "\u2581x"). A word that cannot be covered is [UNK].
#include <algorithm>

#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace lc::tok {

namespace {

bool is_chinese_char(uint32_t c) {
    return (c >= 0x04E00 && c <= 0x09FFF) || (c >= 0x03400 && c <= 0x04DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B920 && c <= 0x2CEAF) ||  // llama.cpp follows HF's 0x2B920 here, not 0x2B820
           (c >= 0x0F900 && c <= 0x0FAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

void TokenizerImpl::tokenize_wpm(std::string_view fragment, std::vector<int32_t>& out) const {
    std::vector<uint32_t> cpts;
    utf8_to_cpts(fragment, cpts);
    if (strip_accents)
        for (uint32_t& c : cpts) c = cpt_nfd_first(c);

    std::vector<std::string> words(1);
    for (uint32_t c : cpts) {
        const uint16_t f = cpt_flags(c);
        if (f & kWhitespace) {
            if (!words.back().empty()) words.emplace_back();
            continue;
        }
        if (c == 0 || c == kReplacementChar || (f & kControl)) continue;
        if (strip_accents && (f & kMark)) continue;
        std::string s;
        utf8_append(s, lowercase ? cpt_tolower(c) : c);
        if ((f & kPunctuation) || (c < 0x7F && (f & kSymbol)) || is_chinese_char(c)) {
            if (!words.back().empty()) words.emplace_back();
            words.back() = s;
            words.emplace_back();
        } else {
            words.back() += s;
        }
    }
    if (words.back().empty()) words.pop_back();

    std::string word1;
    for (const std::string& word : words) {
        if (word.empty()) continue;
        word1 = "\xE2\x96\x81" + word;
        const int n = int(word1.size());
        const size_t before = out.size();
        for (int i = 0; i < n; ++i) {
            bool match = false;
            for (int j = std::min(n, i + int(max_token_len) + 1); j > i; --j) {
                const int32_t id = find(std::string_view(word1).substr(size_t(i), size_t(j - i)));
                if (id != kNoToken) {
                    out.push_back(id);
                    match = true;
                    i = j - 1;
                    break;
                }
            }
            if (!match) {  // the word cannot be covered: drop what it produced
                out.resize(before);
                break;
            }
        }
        if (out.size() == before) out.push_back(unk);
    }
}

}  // namespace lc::tok
