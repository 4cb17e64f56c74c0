// Tokenizer: special-token partition, then per fragment the model's algorithm (llama_vocab::impl::tokenize), and
// the way back (token_to_piece, detokenize).
#include "llamacore/tokenizer.h"

#include <algorithm>
#include <stdexcept>

#include "tokenizer/impl.h"

namespace lc::tok {

std::vector<int32_t> TokenizerImpl::tokenize(std::string_view text, bool add_special, bool parse_special) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    const std::vector<Fragment> frags = partition(text, parse_special);
    WordCache cache;
    switch (type) {
        case VocabType::kSpm: {
            bool prev_special = true;  // a fragment after a special token (or at the start) gets the space prefix
            if (add_special && add_bos && bos != kNoToken) out.push_back(bos);
            for (const Fragment& f : frags) {
                if (f.token == kNoToken) {
                    tokenize_spm(text.substr(f.offset, f.length), add_space_prefix && prev_special, out, cache);
                    prev_special = false;
                } else {
                    out.push_back(f.token);
                    prev_special = true;
                }
            }
            if (add_special && add_eos && eos != kNoToken) out.push_back(eos);
            break;
        }
        case VocabType::kBpe: {
            if (add_special && add_bos && bos != kNoToken) out.push_back(bos);
            for (const Fragment& f : frags) {
                if (f.token == kNoToken)
                    tokenize_bpe(text.substr(f.offset, f.length), out, cache);
                else
                    out.push_back(f.token);
            }
            if (add_special && add_eos && eos != kNoToken) out.push_back(eos);
            break;
        }
        case VocabType::kUgm: {
            if (add_special && add_bos && bos != kNoToken) out.push_back(bos);
            for (const Fragment& f : frags) {
                if (f.token == kNoToken)
                    tokenize_ugm(text.substr(f.offset, f.length), out);
                else
                    out.push_back(f.token);
            }
            if (add_special && add_eos && eos != kNoToken) out.push_back(eos);
            break;
        }
        case VocabType::kRwkv: {
            for (const Fragment& f : frags) {
                if (f.token == kNoToken)
                    tokenize_rwkv(text.substr(f.offset, f.length), out);
                else
                    out.push_back(f.token);
            }
            break;
        }
        case VocabType::kWpm: {
            if (add_special && bos != kNoToken) out.push_back(bos);
            for (const Fragment& f : frags) {
                if (f.token == kNoToken)
                    tokenize_wpm(text.substr(f.offset, f.length), out);
                else
                    out.push_back(f.token);
            }
            if (add_special && sep != kNoToken) out.push_back(sep);
            break;
        }
    }
    return out;
}

Tokenizer::Tokenizer(VocabSource src) : impl_(std::make_unique<TokenizerImpl>()) {
    impl_->load(src);
    impl_->build_trie();
}

Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::tokenize(std::string_view text, bool add_special, bool parse_special) const {
    return impl_->tokenize(text, add_special, parse_special);
}

static void check_id(const TokenizerImpl& t, int32_t token) {
    if (token < 0 || token >= t.n_vocab())
        throw std::invalid_argument("token id " + std::to_string(token) + " is out of range [0, " +
                                    std::to_string(t.n_vocab()) + ")");
}

std::string_view Tokenizer::token_to_piece(int32_t token, bool special) const {
    check_id(*impl_, token);
    if (!special && (impl_->attrs[size_t(token)] & (kAttrUnknown | kAttrControl))) return {};
    return impl_->pieces.get(size_t(token));
}

std::string Tokenizer::detokenize(const int32_t* tokens, size_t n, bool special) const {
    std::string out;
    for (size_t i = 0; i < n; ++i) out.append(token_to_piece(tokens[i], special));
    if (n > 0 && tokens[0] == impl_->bos && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
}

std::string Tokenizer::detokenize_native(const int32_t* tokens, size_t n, bool remove_special,
                                         bool unparse_special) const {
    const TokenizerImpl& t = *impl_;
    bool remove_space = t.add_space_prefix;
    if (remove_special && t.add_bos && n > 0 && tokens[0] == t.bos) {
        remove_space = false;
        ++tokens, --n;
    }
    if (remove_special && t.add_eos && n > 0 && tokens[n - 1] == t.eos) --n;
    std::string text;
    for (size_t i = 0; i < n; ++i) {
        std::string_view piece = token_to_piece(tokens[i], unparse_special);
        if (remove_space && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
        remove_space = false;
        text.append(piece);
    }
    if (!t.clean_spaces || text.empty()) return text;
    // llama.cpp's three passes: " ?" " !" " ." " ,"; a lone "'" between spaces; " 's" " 'm" " 're" " 've"
    auto pass = [&](auto&& step) {
        std::string out(1, text[0]);
        for (size_t i = 1; i < text.size(); ++i) step(out, i);
        text.swap(out);
    };
    pass([&](std::string& out, size_t i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) out.pop_back();
        out.push_back(x);
    });
    pass([&](std::string& out, size_t& i) {
        const char x = text[i];
        if (x == '\'' && i + 1 < text.size() && text[i - 1] == ' ' && text[i + 1] == ' ') {
            out.pop_back();
            text[++i] = '\0';  // as llama.cpp: the next space is skipped (written as a NUL it then drops... )
            out.push_back(x);
            return;
        }
        out.push_back(x);
    });
    pass([&](std::string& out, size_t i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < text.size()) {
            const char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                out.pop_back();
            } else if (x1 != 't' && x1 != 'd' && i + 2 < text.size()) {
                const char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) out.pop_back();
            }
        }
        out.push_back(x);
    });
    return text;
}

int32_t Tokenizer::n_vocab() const { return impl_->n_vocab(); }
std::string_view Tokenizer::token_text(int32_t token) const {
    check_id(*impl_, token);
    return impl_->texts.get(size_t(token));
}
float Tokenizer::token_score(int32_t token) const {
    check_id(*impl_, token);
    return impl_->scores[size_t(token)];
}
uint32_t Tokenizer::token_attr(int32_t token) const {
    check_id(*impl_, token);
    return impl_->attrs[size_t(token)];
}
bool Tokenizer::is_eog(int32_t token) const { return std::binary_search(impl_->eog.begin(), impl_->eog.end(), token); }
std::vector<int32_t> Tokenizer::eog_tokens() const { return impl_->eog; }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
int32_t Tokenizer::eot() const {
    impl_->resolve_roles();
    return impl_->eot;
}
int32_t Tokenizer::eom() const {
    impl_->resolve_roles();
    return impl_->eom;
}
int32_t Tokenizer::unk() const { return impl_->unk; }
int32_t Tokenizer::sep() const { return impl_->sep; }
int32_t Tokenizer::pad() const { return impl_->pad; }
int32_t Tokenizer::mask() const { return impl_->mask; }
int32_t Tokenizer::nl() const { return impl_->nl; }
int32_t Tokenizer::fim_pre() const {
    impl_->resolve_roles();
    return impl_->fim_pre;
}
int32_t Tokenizer::fim_suf() const {
    impl_->resolve_roles();
    return impl_->fim_suf;
}
int32_t Tokenizer::fim_mid() const {
    impl_->resolve_roles();
    return impl_->fim_mid;
}
int32_t Tokenizer::fim_pad() const {
    impl_->resolve_roles();
    return impl_->fim_pad;
}
int32_t Tokenizer::fim_rep() const {
    impl_->resolve_roles();
    return impl_->fim_rep;
}
int32_t Tokenizer::fim_sep() const {
    impl_->resolve_roles();
    return impl_->fim_sep;
}
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
bool Tokenizer::add_sep() const { return impl_->add_sep; }
bool Tokenizer::add_space_prefix() const { return impl_->add_space_prefix; }
const std::string& Tokenizer::model() const { return impl_->model; }
const std::string& Tokenizer::pre() const { return impl_->pre; }
const std::string& Tokenizer::pre_type() const { return impl_->pre_type; }
std::vector<std::string> Tokenizer::supported_models() { return {"llama", "gpt2", "gemma4", "bert", "t5", "rwkv"}; }
std::vector<std::string> Tokenizer::supported_pre_tokenizers() { return lc::tok::supported_pre_tokenizers(); }

}  // namespace lc::tok
