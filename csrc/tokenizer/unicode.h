// Unicode facts and UTF-8 handling, with llama.cpp's exact behaviour where it matters for token ids
// (its unicode.cpp): the category flags of its Unicode 15.1 tables, its lenient UTF-8 decoder, GPT-2's byte <-> code
// point alphabet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lc::tok {

// Category flags of a code point (one of the first eight) plus the White_Space property.
enum CptFlag : uint16_t {
    kUndefined = 0x0001,    // unassigned (Cn); also code points past U+10FFFF
    kNumber = 0x0002,       // \p{N}
    kLetter = 0x0004,       // \p{L}
    kSeparator = 0x0008,    // \p{Z}
    kMark = 0x0010,         // \p{M}
    kPunctuation = 0x0020,  // \p{P}
    kSymbol = 0x0040,       // \p{S}
    kControl = 0x0080,      // \p{C}
    kCategoryMask = 0x00FF,
    kWhitespace = 0x0100,  // \s in llama.cpp's sense (White_Space)
};

constexpr uint32_t kMaxCodepoint = 0x10FFFF;
constexpr uint32_t kReplacementChar = 0xFFFD;

// Generated tables (unicode_tables.cpp).
extern const uint32_t kFlagRuns[][2];
extern const size_t kFlagRunCount;
extern const uint32_t kLowercase[][2];
extern const size_t kLowercaseCount;
extern const uint32_t kNfdRuns[][3];
extern const size_t kNfdRunCount;

// Two-level lookup table built once from kFlagRuns: blocks of 256 code points, identical blocks shared.
struct FlagTable {
    std::vector<uint16_t> block_of;  // [0x1100] block index for cpt >> 8
    std::vector<uint16_t> flags;     // [n_blocks * 256]
    uint16_t get(uint32_t cpt) const {
        return cpt <= kMaxCodepoint ? flags[(size_t(block_of[cpt >> 8]) << 8) | (cpt & 0xFF)] : uint16_t(kUndefined);
    }
};
const FlagTable& flag_table();

inline uint16_t cpt_flags(uint32_t cpt) { return flag_table().get(cpt); }
uint32_t cpt_tolower(uint32_t cpt);    // simple lower-case mapping, cpt itself when none
uint32_t cpt_nfd_first(uint32_t cpt);  // first code point of the canonical decomposition
bool cpt_is_han(uint32_t cpt);         // CJK ideograph blocks, as llama.cpp's unicode_cpt_is_han

// Byte length of a UTF-8 sequence from its first byte alone (continuation bytes count 1), as llama.cpp's
// unicode_len_utf8: SentencePiece splits text into "characters" this way, whatever the bytes are.
inline size_t utf8_len(uint8_t lead) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[lead >> 4];
}

// Decodes one code point at s[off] and advances off. Matches llama.cpp's unicode_cpt_from_utf8 + the replacement
// in unicode_cpts_from_utf8: structurally invalid bytes give U+FFFD and advance one byte; overlong forms and
// surrogates are accepted as they are. One difference: a 4-byte form above U+10FFFF (which makes llama.cpp abort)
// is treated as invalid here.
uint32_t utf8_decode(const uint8_t* s, size_t n, size_t& off);
void utf8_to_cpts(std::string_view text, std::vector<uint32_t>& out);
void utf8_append(std::string& out, uint32_t cpt);  // cpt <= U+10FFFF

// GPT-2's reversible byte <-> printable code point alphabet (bytes_to_unicode).
uint32_t byte_to_cpt(uint8_t byte);
int cpt_to_byte(uint32_t cpt);  // -1 when cpt is not in the alphabet

}  // namespace lc::tok
