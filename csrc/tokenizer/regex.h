// A small backtracking regex matcher with the semantics of libstdc++'s std::regex (ECMAScript grammar, flags
// `optimize | nosubs`) in the "C" locale, for the pre-tokenizer patterns that llama.cpp runs through std::regex.
//
// llama.cpp feeds std::regex one of two texts (unicode.cpp, unicode_regex_split):
//   * collapsed: each code point becomes one byte: ASCII stays, other white space becomes 0x0B, other code points
//     become 0xD1..0xD5 by category (number, letter, punctuation, mark, symbol) or 0xD0; \p{..} in the pattern is
//     rewritten to match those bytes plus the ASCII members. Used whenever the pattern names a category.
//   * wide: the code points themselves (non-ASCII white space again as 0x0B), for patterns without categories.
// This matcher runs on such unit sequences, so it gives the same matches (and the same limits: \s, \w, \d and
// ranges see only what std::regex sees). Supported: literals, escapes, classes with ranges and class escapes,
// groups, alternation, * + ? {n} {n,} {n,m} (greedy or lazy),
// lookahead, ^ $ \b \B.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lc::tok {

// The byte a code point becomes in llama.cpp's collapsed text.
uint32_t collapse_cpt(uint32_t cpt);
// llama.cpp's rewrite of a pattern for collapsed text: \p{N} etc. become the collapsed code plus ASCII members.
std::string collapse_pattern(const std::string& pattern);

class Regex {
   public:
    // pattern: its units (code points; or bytes for a pattern rewritten by collapse_pattern)
    explicit Regex(const std::vector<uint32_t>& pattern);

    // std::regex_search on units [begin, end) of s, starting at `from`; prev_avail: s[from-1] may be looked at;
    // continuous: only a match starting at `from`; not_null: no empty match. On success sets [mbegin, mend).
    bool search(const uint32_t* s, size_t begin, size_t end, size_t from, bool prev_avail, bool continuous,
                bool not_null, size_t& mbegin, size_t& mend) const;

    // Splits [begin, end) as llama.cpp's unicode_regex_split_stl does with std::regex_iterator: every match and
    // every stretch between matches becomes a piece; appends piece lengths to out.
    void split(const uint32_t* s, size_t begin, size_t end, std::vector<size_t>& out) const;

   private:
    enum Op : uint8_t { kChar, kClass, kAny, kSplit, kJump, kMatch, kBol, kEol, kWordB, kNotWordB, kLook };
    struct Inst {
        Op op;
        bool flag = false;  // kSplit: prefer y; kLook: negative
        uint32_t c = 0;     // kChar: the unit; kClass: class index
        int x = 0, y = 0;   // kSplit: targets (x preferred); kJump: x; kLook: x = sub-program, y = continuation
    };
    struct Class {
        bool negate = false;
        uint32_t escapes = 0;  // bit set of \s \S \d \D \w \W inside the brackets
        std::vector<std::pair<uint32_t, uint32_t>> ranges;
        bool contains(uint32_t u) const;
    };
    struct Node;
    std::vector<Inst> prog_;
    std::vector<Class> classes_;
    // units < 256 that can begin a match; matches of non-nullable patterns start only there (or at units >= 256
    // when first_high_): search() skips the other start positions
    bool first_[256] = {};
    bool first_high_ = false, nullable_ = false;
    void compute_first_units();

    bool run(int pc, const uint32_t* s, size_t begin, size_t end, size_t pos, bool prev_avail, bool not_null,
             size_t start, size_t& mend) const;
    friend class RegexCompiler;
};

}  // namespace lc::tok
