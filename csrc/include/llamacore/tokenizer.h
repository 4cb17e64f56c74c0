// Text <-> token ids exactly as llama.cpp does it (llama-vocab.cpp), for the tokenizers a GGUF file carries:
// SentencePiece-style BPE with byte fallback ("llama"), byte-level BPE with llama.cpp's pre-tokenizers ("gpt2"),
// Gemma-4's BPE ("gemma4"), WordPiece ("bert"), Unigram ("t5") and RWKV's trie ("rwkv"). Built from the tokenizer.*
// metadata of the file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lc::tok {

// Token attributes, llama.cpp's llama_token_attr bits.
enum TokenAttr : uint32_t {
    kAttrUndefined = 0,
    kAttrUnknown = 1 << 0,
    kAttrUnused = 1 << 1,
    kAttrNormal = 1 << 2,
    kAttrControl = 1 << 3,
    kAttrUserDefined = 1 << 4,
    kAttrByte = 1 << 5,
    kAttrNormalized = 1 << 6,
    kAttrLstrip = 1 << 7,
    kAttrRstrip = 1 << 8,
    kAttrSingleWord = 1 << 9,
};

constexpr int32_t kNoToken = -1;
constexpr int64_t kAbsent = -2;  // a metadata key that is not in the file

// Strings back to back in one buffer (cheap to fill with 262k tokens).
struct StringList {
    std::string blob;
    std::vector<uint64_t> offsets{0};
    void add(std::string_view s) {
        blob.append(s.data(), s.size());
        offsets.push_back(blob.size());
    }
    size_t size() const { return offsets.size() - 1; }
    std::string_view get(size_t i) const {
        return std::string_view(blob.data() + offsets[i], size_t(offsets[i + 1] - offsets[i]));
    }
};

// The tokenizer.* metadata of a GGUF file, as plain data. Optional flags: -1 absent, 0 false, 1 true.
struct VocabSource {
    std::string model;  // tokenizer.ggml.model
    std::string pre;    // tokenizer.ggml.pre ("" when absent)
    StringList tokens;
    std::vector<float> scores;   // empty when absent
    std::vector<int32_t> types;  // tokenizer.ggml.token_type; empty when absent
    StringList merges;
    bool has_merges = false;
    std::string precompiled_charsmap;  // Unigram (t5) normalisation rules; empty when absent
    // special token ids (kAbsent when the key is missing)
    int64_t bos = kAbsent, eos = kAbsent, eot = kAbsent, eom = kAbsent, unk = kAbsent, sep = kAbsent, pad = kAbsent,
            mask = kAbsent, fim_pre = kAbsent, fim_suf = kAbsent, fim_mid = kAbsent, fim_pad = kAbsent,
            fim_rep = kAbsent, fim_sep = kAbsent, prefix = kAbsent, suffix = kAbsent, middle = kAbsent;
    int add_bos = -1, add_eos = -1, add_sep = -1, add_space_prefix = -1, remove_extra_whitespaces = -1;
    int lowercase = -1, strip_accents = -1;          // tokenizer.ggml.normalizer.*
    std::string general_name, general_architecture;  // llama.cpp sets a few token attributes by model name
};

struct TokenizerImpl;

class Tokenizer {
   public:
    // Throws std::invalid_argument for an unsupported model or pre-tokenizer or inconsistent metadata.
    explicit Tokenizer(VocabSource src);
    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // llama_tokenize(text, add_special, parse_special). Thread-safe (const).
    std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;

    // llama_token_to_piece(token, lstrip = 0, special): the piece's bytes, "" for hidden tokens.
    std::string_view token_to_piece(int32_t token, bool special) const;
    // llama-cpp-python's Llama.detokenize: the pieces joined, one leading space dropped after a leading BOS.
    std::string detokenize(const int32_t* tokens, size_t n, bool special) const;
    // llama.cpp's llama_detokenize(remove_special, unparse_special), with its clean-up of spaces.
    std::string detokenize_native(const int32_t* tokens, size_t n, bool remove_special, bool unparse_special) const;

    int32_t n_vocab() const;
    std::string_view token_text(int32_t token) const;
    float token_score(int32_t token) const;
    uint32_t token_attr(int32_t token) const;
    bool is_eog(int32_t token) const;
    std::vector<int32_t> eog_tokens() const;

    // kNoToken when the model has none
    int32_t bos() const;
    int32_t eos() const;
    int32_t eot() const;
    int32_t eom() const;
    int32_t unk() const;
    int32_t sep() const;
    int32_t pad() const;
    int32_t mask() const;
    int32_t nl() const;
    int32_t fim_pre() const;
    int32_t fim_suf() const;
    int32_t fim_mid() const;
    int32_t fim_pad() const;
    int32_t fim_rep() const;
    int32_t fim_sep() const;

    bool add_bos() const;
    bool add_eos() const;
    bool add_sep() const;
    bool add_space_prefix() const;
    const std::string& model() const;
    const std::string& pre() const;       // as given in the metadata
    const std::string& pre_type() const;  // the pre-tokenizer it maps to ("" for non-BPE models)

    static std::vector<std::string> supported_models();
    static std::vector<std::string> supported_pre_tokenizers();

   private:
    std::unique_ptr<TokenizerImpl> impl_;
};

}  // namespace lc::tok
