// The tokenizer's state (llama_vocab::impl's, in this port's terms) and the per-algorithm entry points.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llamacore/tokenizer.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/string_map.h"

namespace lc::tok {

enum class VocabType { kSpm, kBpe, kWpm, kUgm, kRwkv };

struct TokenizerImpl {
    VocabType type = VocabType::kSpm;
    std::string model, pre, pre_type;

    StringTable texts;       // token texts (empty ones renamed "[EMPTY_i]" as llama.cpp does)
    StringIdMap text_to_id;  // the last token with a given text wins, as in llama.cpp's map
    std::vector<float> scores;
    std::vector<uint32_t> attrs;
    size_t max_token_len = 0;

    int32_t bos = 1, eos = 2, eot = kNoToken, eom = kNoToken, unk = 0, sep = kNoToken, pad = kNoToken, mask = kNoToken,
            nl = kNoToken;
    int32_t fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken, fim_pad = kNoToken, fim_rep = kNoToken,
            fim_sep = kNoToken;

    // roles (eot, fim_*) with several candidate tokens, resolved on first use (resolve_roles)
    std::vector<std::pair<int32_t*, std::vector<int32_t>>> pending_roles;
    mutable std::once_flag roles_once;
    void resolve_roles() const;

    bool add_space_prefix = false, add_bos = false, add_eos = false, add_sep = false, ignore_merges = false;
    bool clean_spaces = false, remove_extra_whitespaces = false, escape_whitespaces = true;
    bool lowercase = false, strip_accents = false;  // WordPiece normalizer

    std::vector<int32_t> eog;             // sorted
    std::vector<int32_t> special_tokens;  // control / user-defined / unknown, longest text first
    // a trie of the special tokens' texts, to find where they occur in one pass
    struct TrieNode {
        int32_t first_child = -1, next_sibling = -1;
        int32_t rank = -1;  // index in special_tokens of the first token ending here
        uint8_t byte = 0;
    };
    std::vector<TrieNode> trie;  // trie[0] is the root
    int32_t trie_root_child[256];
    void build_trie();
    StringTable pieces;  // token_to_piece(id, special = true) of every token

    // BPE: symbols are token ids, or ids >= n_vocab for merge strings that are no token
    std::unique_ptr<PreTokenizer> pretok;
    StringTable extra_symbols;  // symbol n_vocab + i
    StringIdMap extra_symbol_ids;
    PairMap merges;            // (left symbol, right symbol) -> (rank, merged symbol)
    int32_t byte_symbol[256];  // byte-level BPE: the symbol of each byte's alphabet character

    int32_t n_vocab() const { return int32_t(attrs.size()); }
    int32_t find(std::string_view text) const { return text_to_id.find(text); }
    int32_t symbol_of(std::string_view text) const;  // token id, extra symbol id, or kNoToken

    void load(VocabSource& src);
    // load's phases (vocab.cpp), in order
    void set_model_type(VocabSource& src);
    bool load_tokens(VocabSource& src);  // true when two tokens have the same text
    void build_tries();
    void load_merges(VocabSource& src);
    void load_special_ids(VocabSource& src);
    void find_roles_by_text();
    void mark_unused(bool duplicates);
    void build_eog();
    void list_special_tokens();
    void find_spm_crossings();
    void find_newline();
    void build_pieces();
    void set_attrs_by_name(VocabSource& src);
    void set_control(int32_t id) { attrs[size_t(id)] |= kAttrControl; }

    // SentencePiece: tokens that span "x▁" (x not ▁); with few of them the text is merged piece by piece
    std::vector<int32_t> spm_crossing;
    bool spm_can_cut = false;
    void spm_merge(std::string_view escaped, std::vector<int32_t>& out) const;

    // a byte trie over token texts (Unigram, RWKV): children found through a hash of (node, byte)
    struct ByteTrie {
        std::vector<int32_t> value{-1};  // per node: token id or -1; node 0 is the root
        PairMap children;                // (node, byte) -> (child, 0)
        int32_t child(int32_t node, uint8_t b) const {
            const PairMap::Value* v = children.find(uint32_t(node), b);
            return v ? v->a : -1;
        }
        void insert(std::string_view key, int32_t id);  // a later insert of the same key replaces the id
        int32_t walk(std::string_view key) const;       // node reached by the longest path along key (its length)
    };
    // Unigram (T5): tokens to match, user-defined texts, the normalisation rules (precompiled_charsmap)
    ByteTrie ugm_tokens, ugm_user_defined;
    std::string ugm_charsmap;  // tokenizer.ggml.precompiled_charsmap
    size_t ugm_xcda_size = 0;  // entries of the XOR-compressed double array at its start (after the size)
    double ugm_unknown_score = 0;
    bool treat_whitespace_as_suffix = false;
    void ugm_normalize(std::string_view input, std::string& out) const;
    // RWKV: token texts unescaped
    ByteTrie rwkv_tokens;

    // Words (BPE) and pieces (SentencePiece) repeat: one tokenize() call remembers the ids of each it has done.
    struct WordCache {
        StringTable words;
        StringIdMap index;
        std::vector<std::pair<uint32_t, uint32_t>> spans;  // word -> its ids in `ids`
        std::vector<int32_t> ids;
        WordCache() { index.reset(&words, 1024); }
        // appends the ids of `word` to out and returns true when it is known
        bool lookup(std::string_view word, std::vector<int32_t>& out) const {
            const int32_t w = index.find(word);
            if (w == StringIdMap::kNone) return false;
            const auto& sp = spans[size_t(w)];
            out.insert(out.end(), ids.begin() + sp.first, ids.begin() + sp.first + sp.second);
            return true;
        }
        // remembers out[first:] as the ids of `word`
        void store(std::string_view word, const std::vector<int32_t>& out, size_t first) {
            index.set(words.add(word));
            spans.emplace_back(uint32_t(ids.size()), uint32_t(out.size() - first));
            ids.insert(ids.end(), out.begin() + long(first), out.end());
        }
    };

    // one fragment of raw text (no special tokens in it) -> ids appended to out
    void tokenize_spm(std::string_view fragment, bool prefix_space, std::vector<int32_t>& out, WordCache& cache) const;
    void tokenize_bpe(std::string_view fragment, std::vector<int32_t>& out, WordCache& cache) const;
    void tokenize_wpm(std::string_view fragment, std::vector<int32_t>& out) const;
    void tokenize_ugm(std::string_view fragment, std::vector<int32_t>& out) const;
    void tokenize_rwkv(std::string_view fragment, std::vector<int32_t>& out) const;

    struct Fragment {
        int32_t token;  // kNoToken for raw text
        size_t offset, length;
    };
    // llama.cpp's tokenizer_st_partition: splits out special tokens' texts
    std::vector<Fragment> partition(std::string_view text, bool parse_special) const;

    std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;
    void append_piece(int32_t id);  // token_to_piece(id, special = true) into `pieces`
};

}  // namespace lc::tok
