#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <map>

namespace lc::tok {

const FlagTable& flag_table() {
    static const FlagTable table = [] {
        constexpr size_t kBlocks = (kMaxCodepoint + 1) >> 8;
        std::vector<uint16_t> full(kMaxCodepoint + 1);
        for (size_t i = 0; i < kFlagRunCount; ++i) {
            const uint32_t end = i + 1 < kFlagRunCount ? kFlagRuns[i + 1][0] : kMaxCodepoint + 1;
            std::fill(full.begin() + kFlagRuns[i][0], full.begin() + end, uint16_t(kFlagRuns[i][1]));
        }
        FlagTable t;
        t.block_of.resize(kBlocks);
        std::map<std::vector<uint16_t>, uint16_t> seen;
        for (size_t b = 0; b < kBlocks; ++b) {
            std::vector<uint16_t> block(full.begin() + (b << 8), full.begin() + ((b + 1) << 8));
            auto it = seen.find(block);
            if (it == seen.end()) {
                it = seen.emplace(block, uint16_t(t.flags.size() >> 8)).first;
                t.flags.insert(t.flags.end(), block.begin(), block.end());
            }
            t.block_of[b] = it->second;
        }
        return t;
    }();
    return table;
}

uint32_t cpt_tolower(uint32_t cpt) {
    const auto* end = kLowercase + kLowercaseCount;
    const auto* it = std::lower_bound(kLowercase, end, cpt, [](const uint32_t* p, uint32_t c) { return p[0] < c; });
    return (it != end && (*it)[0] == cpt) ? (*it)[1] : cpt;
}

uint32_t cpt_nfd_first(uint32_t cpt) {
    const auto* end = kNfdRuns + kNfdRunCount;
    const auto* it = std::upper_bound(kNfdRuns, end, cpt, [](uint32_t c, const uint32_t* r) { return c < r[0]; });
    if (it == kNfdRuns) return cpt;
    --it;
    return ((*it)[0] <= cpt && cpt <= (*it)[1]) ? (*it)[2] : cpt;
}

bool cpt_is_han(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0x2CEB0 && c <= 0x2EBEF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

uint32_t utf8_decode(const uint8_t* s, size_t n, size_t& off) {
    const uint8_t b0 = s[off];
    auto cont = [&](size_t k) { return off + k < n && (s[off + k] & 0xC0) == 0x80; };
    if (b0 < 0x80) {
        off += 1;
        return b0;
    }
    if ((b0 & 0x40) == 0) {  // stray continuation byte
        off += 1;
        return kReplacementChar;
    }
    if ((b0 & 0x20) == 0) {
        if (!cont(1)) {
            off += 1;
            return kReplacementChar;
        }
        const uint32_t c = (uint32_t(b0 & 0x1F) << 6) | (s[off + 1] & 0x3F);
        off += 2;
        return c;
    }
    if ((b0 & 0x10) == 0) {
        if (!cont(1) || !cont(2)) {
            off += 1;
            return kReplacementChar;
        }
        const uint32_t c = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(s[off + 1] & 0x3F) << 6) | (s[off + 2] & 0x3F);
        off += 3;
        return c;
    }
    if ((b0 & 0x08) == 0) {
        if (!cont(1) || !cont(2) || !cont(3)) {
            off += 1;
            return kReplacementChar;
        }
        const uint32_t c = (uint32_t(b0 & 0x07) << 18) | (uint32_t(s[off + 1] & 0x3F) << 12) |
                           (uint32_t(s[off + 2] & 0x3F) << 6) | (s[off + 3] & 0x3F);
        if (c > kMaxCodepoint) {  // llama.cpp would abort on this later; take it as an invalid byte
            off += 1;
            return kReplacementChar;
        }
        off += 4;
        return c;
    }
    off += 1;
    return kReplacementChar;
}

void utf8_to_cpts(std::string_view text, std::vector<uint32_t>& out) {
    out.clear();
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    size_t off = 0;
    while (off < text.size()) out.push_back(utf8_decode(s, text.size(), off));
}

void utf8_append(std::string& out, uint32_t c) {
    if (c < 0x80) {
        out.push_back(char(c));
    } else if (c < 0x800) {
        out.push_back(char(0xC0 | (c >> 6)));
        out.push_back(char(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(char(0xE0 | (c >> 12)));
        out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(char(0x80 | (c & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (c >> 18)));
        out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(char(0x80 | (c & 0x3F)));
    }
}

namespace {
struct ByteAlphabet {
    std::array<uint32_t, 256> to_cpt{};
    std::array<int16_t, 324> to_byte{};  // code points used are < 256 + 68
    ByteAlphabet() {
        to_byte.fill(-1);
        // printable Latin-1 bytes map to themselves; the other 68 bytes to U+0100.. in byte order
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            to_cpt[b] = printable ? uint32_t(b) : next++;
            to_byte[to_cpt[b]] = int16_t(b);
        }
    }
};
const ByteAlphabet& byte_alphabet() {
    static const ByteAlphabet a;
    return a;
}
}  // namespace

uint32_t byte_to_cpt(uint8_t byte) { return byte_alphabet().to_cpt[byte]; }

int cpt_to_byte(uint32_t cpt) { return cpt < 324 ? byte_alphabet().to_byte[cpt] : -1; }

}  // namespace lc::tok
