// Pre-tokenizers of byte-level BPE vocabularies: tokenizer.ggml.pre names -> the regex sequence llama.cpp applies
// (llama-vocab.cpp, llm_tokenizer_bpe), run the way its unicode_regex_split runs them: each expression splits the
// pieces left by the one before; the common expressions have hand-written splitters (with llama.cpp's quirks, which
// decide token ids), the others go through the std::regex-compatible matcher of regex.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/regex.h"

namespace lc::tok {

// What a tokenizer.ggml.pre name sets besides its expressions (llama_vocab::impl::load).
struct PreTokenizerInfo {
    std::string type;            // llama.cpp's LLAMA_VOCAB_PRE_TYPE_* name, lower case ("llama3", "gpt2", ...)
    bool ignore_merges = false;  // a whole word that is a token is taken as it is
    int add_bos = -1;            // -1: keep the model type's default
    int clean_spaces = -1;       // -1: keep the default (true for BPE)
    bool no_bos_token = false;   // chatglm: there is no BOS token
    bool escape_whitespaces = false;
    bool add_sep = false;
};

// Returns false for a name llama.cpp does not know (or this port does not support).
bool pre_tokenizer_info(const std::string& name, PreTokenizerInfo& info);
std::vector<std::string> supported_pre_tokenizers();

class PreTokenizer {
   public:
    explicit PreTokenizer(const std::string& type);  // type: PreTokenizerInfo::type

    // Splits code points into words; appends their lengths (in code points) to `pieces` (some may be 0).
    void split(const std::vector<uint32_t>& cpts, std::vector<size_t>& pieces) const;

    bool byte_encode() const { return byte_encode_; }

   private:
    enum Kind { kRegex, kGpt2, kLlama3, kQwen2, kQwen35, kKimiK2, kDigitGroups, kNewlines, kTriplesAhead };
    struct Step {
        Kind kind;
        bool collapsed = false;  // kRegex: runs on collapsed text
        std::unique_ptr<Regex> re;
    };
    std::vector<Step> steps_;
    bool byte_encode_ = true;
};

}  // namespace lc::tok
