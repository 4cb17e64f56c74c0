// Building the tokenizer from GGUF metadata: llama_vocab::impl::load's rules (defaults per model type, the flags a
// pre-tokenizer name sets, special ids, the end-of-generation set, token attributes fixed up by text), then the
// piece cache.
#include <algorithm>
#include <cctype>
#include <cfloat>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace lc::tok {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

std::string join(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

const std::vector<std::string> kModels = {"llama", "gpt2", "gemma4", "bert", "t5", "rwkv"};

// RWKV token texts escape bytes: \t \n \r \xNN \<c> (llama_unescape_rwkv_token)
std::string rwkv_unescape(std::string_view s) {
    std::string out;
    bool escaping = false;
    int hex_left = 0;
    uint8_t acc = 0;
    for (char c : s) {
        if (hex_left) {
            acc = uint8_t((acc << 4) + (c >= 'a' ? c - 'a' + 10 : c - '0'));
            if (--hex_left == 0) {
                out.push_back(char(acc));
                acc = 0;
            }
        } else if (escaping) {
            if (c == 't')
                out.push_back('\t');
            else if (c == 'n')
                out.push_back('\n');
            else if (c == 'r')
                out.push_back('\r');
            else if (c == 'x')
                hex_left = 2;
            else
                out.push_back(c);
            escaping = false;
        } else if (c == '\\') {
            escaping = true;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

void TokenizerImpl::resolve_roles() const {
    std::call_once(roles_once, [&] {
        if (pending_roles.empty()) return;
        // llama.cpp walks its std::unordered_map<std::string, id> and takes the first candidate it meets; the same
        // map, filled in the same order, iterates in the same order
        std::unordered_map<std::string, int32_t> replica;
        for (int32_t i = 0; i < n_vocab(); ++i) replica[std::string(texts.get(size_t(i)))] = i;
        std::vector<char> is_candidate(size_t(n_vocab()), 0);
        for (const auto& pr : pending_roles)
            for (int32_t id : pr.second) is_candidate[size_t(id)] = 1;
        for (const auto& pr : pending_roles) *pr.first = kNoToken;
        for (const auto& kv : replica) {
            if (!is_candidate[size_t(kv.second)]) continue;
            for (const auto& pr : pending_roles) {
                if (*pr.first == kNoToken &&
                    std::find(pr.second.begin(), pr.second.end(), kv.second) != pr.second.end())
                    *pr.first = kv.second;
            }
        }
    });
}

int32_t TokenizerImpl::symbol_of(std::string_view text) const {
    const int32_t id = text_to_id.find(text);
    if (id != kNoToken) return id;
    const int32_t extra = extra_symbol_ids.find(text);
    return extra == StringIdMap::kNone ? kNoToken : n_vocab() + extra;
}

// The model type and its defaults
void TokenizerImpl::set_model_type(VocabSource& src) {
    model = src.model;
    pre = src.pre;
    if (model == "llama") {
        type = VocabType::kSpm;
        bos = 1, eos = 2, unk = 0, sep = pad = mask = kNoToken;
    } else if (model == "bert") {
        type = VocabType::kWpm;
        bos = 101, eos = kNoToken, unk = 100, sep = 102, pad = 0, mask = 103;
        add_sep = true;
    } else if (model == "gpt2") {
        type = VocabType::kBpe;
        if (!src.has_merges && pre != "kimi-k2") bad("tokenizer.ggml.merges is missing (needed by a 'gpt2' tokenizer)");
        bos = 11, eos = 11, unk = sep = pad = mask = kNoToken;
    } else if (model == "gemma4") {
        type = VocabType::kBpe;
        if (!src.has_merges) bad("tokenizer.ggml.merges is missing (needed by a 'gemma4' tokenizer)");
        bos = eos = unk = sep = pad = mask = kNoToken;
        pre = "gemma4";
    } else if (model == "t5") {
        type = VocabType::kUgm;
        bos = kNoToken, eos = 1, unk = 2, sep = kNoToken, pad = 0, mask = kNoToken;
        ugm_charsmap = src.precompiled_charsmap;
        if (!ugm_charsmap.empty()) {
            if (ugm_charsmap.size() < 4) bad("tokenizer.ggml.precompiled_charsmap is too small");
            uint32_t blob;
            std::memcpy(&blob, ugm_charsmap.data(), 4);
            if (size_t(blob) + 4 >= ugm_charsmap.size())
                bad("tokenizer.ggml.precompiled_charsmap: its double array runs past its end");
            ugm_xcda_size = blob / 4;
        }
    } else if (model == "rwkv") {
        type = VocabType::kRwkv;
        bos = eos = unk = sep = pad = kNoToken;
    } else if (model == "no_vocab" || model == "none") {
        bad("this model has no vocabulary (tokenizer.ggml.model = '" + model + "')");
    } else {
        bad("unsupported tokenizer.ggml.model '" + model + "'; supported: " + join(kModels));
    }

    if (type == VocabType::kBpe) {
        add_space_prefix = false, escape_whitespaces = false, clean_spaces = true;
        PreTokenizerInfo info;
        const std::string name = pre.empty() ? "default" : pre;  // llama.cpp warns and uses 'default'
        if (!pre_tokenizer_info(name, info))
            bad("unsupported tokenizer.ggml.pre '" + name + "'; supported: " + join(supported_pre_tokenizers()));
        pre_type = info.type;
        ignore_merges = info.ignore_merges;
        if (info.add_bos >= 0) add_bos = info.add_bos;
        if (info.clean_spaces >= 0) clean_spaces = info.clean_spaces;
        if (info.no_bos_token) bos = kNoToken;
        if (info.escape_whitespaces) escape_whitespaces = true;
        if (info.add_sep) add_sep = true;
    } else if (type == VocabType::kSpm) {
        add_space_prefix = true, clean_spaces = false, add_bos = true, add_eos = false;
    } else if (type == VocabType::kWpm) {
        add_space_prefix = false, clean_spaces = true, add_bos = true, add_eos = false, add_sep = true;
    } else if (type == VocabType::kUgm) {
        add_bos = false, add_eos = true;
    } else {  // RWKV
        add_space_prefix = false, clean_spaces = false, add_bos = false, add_eos = false;
    }
    if (src.add_space_prefix >= 0) add_space_prefix = src.add_space_prefix;
    if (src.remove_extra_whitespaces >= 0) remove_extra_whitespaces = src.remove_extra_whitespaces;
}

// Tokens
bool TokenizerImpl::load_tokens(VocabSource& src) {
    const size_t n = src.tokens.size();
    if (n == 0) bad("tokenizer.ggml.tokens is missing or empty");
    if (n >= size_t(INT32_MAX)) bad("too many tokens");
    if (!src.scores.empty() && src.scores.size() < n)
        bad("tokenizer.ggml.scores has " + std::to_string(src.scores.size()) + " entries for " + std::to_string(n) +
            " tokens");
    if (!src.types.empty() && src.types.size() < n)
        bad("tokenizer.ggml.token_type has " + std::to_string(src.types.size()) + " entries for " + std::to_string(n) +
            " tokens");
    texts.reserve(n, src.tokens.blob.size() + 64);
    scores.assign(n, 0.0f);
    attrs.assign(n, kAttrNormal);
    for (size_t i = 0; i < n; ++i) {
        std::string_view word = src.tokens.get(i);
        std::string renamed;
        if (word.empty()) {
            renamed = "[EMPTY_" + std::to_string(i) + "]";
            word = renamed;
        }
        texts.add(word);
        max_token_len = std::max(max_token_len, word.size());
        if (!src.scores.empty()) scores[i] = src.scores[i];
        if (!src.types.empty()) {
            switch (src.types[i]) {
                case 1: attrs[i] = kAttrNormal; break;
                case 2: attrs[i] = kAttrUnknown; break;
                case 3: attrs[i] = kAttrControl; break;
                case 4: attrs[i] = kAttrUserDefined; break;
                case 5: attrs[i] = kAttrUnused; break;
                case 6: attrs[i] = kAttrByte; break;
                default: attrs[i] = kAttrUndefined; break;
            }
        }
    }
    text_to_id.reset(&texts, n);
    bool duplicates = false;
    {
        // hashes first, then inserts with the slot fetched a few tokens ahead (the table is bigger than the cache)
        std::vector<uint64_t> hashes(n);
        for (size_t i = 0; i < n; ++i) {
            const std::string_view t = texts.get(i);
            hashes[i] = hash_bytes(t.data(), t.size());
        }
        constexpr size_t kAhead = 16;
        for (size_t i = 0; i < n; ++i) {
            if (i + kAhead < n) text_to_id.prefetch(hashes[i + kAhead]);
            duplicates |= text_to_id.set(uint32_t(i), hashes[i]);
        }
    }
    return duplicates;
}

// Unigram and RWKV tries
void TokenizerImpl::build_tries() {
    if (type == VocabType::kUgm) {
        float min_score = FLT_MAX;
        for (int32_t id = 0; id < n_vocab(); ++id) {
            const uint32_t a = attrs[size_t(id)];
            if (a & kAttrNormal) min_score = std::min(min_score, scores[size_t(id)]);
            if (a & (kAttrNormal | kAttrUserDefined | kAttrUnused)) ugm_tokens.insert(texts.get(size_t(id)), id);
            if (a & kAttrUserDefined) ugm_user_defined.insert(texts.get(size_t(id)), id);
        }
        ugm_unknown_score = double(min_score - 10.0f);
    } else if (type == VocabType::kRwkv) {
        for (int32_t id = 0; id < n_vocab(); ++id) rwkv_tokens.insert(rwkv_unescape(texts.get(size_t(id))), id);
    }
}

// BPE merges and pre-tokenizer
void TokenizerImpl::load_merges(VocabSource& src) {
    if (type == VocabType::kBpe) {
        pretok = std::make_unique<PreTokenizer>(pre_type);
        const size_t n_merges = src.merges.size();
        extra_symbol_ids.reset(&extra_symbols, 64);
        merges.reserve(n_merges + 16);
        // split every line at its first space after position 0 (llama.cpp: word.find(' ', 1)); lines without
        // one are keyed ("", "") there, which never matches
        struct Line {
            uint32_t index;
            std::string_view first, second;
            uint64_t h_first, h_second, h_joined;
        };
        std::vector<Line> lines;
        lines.reserve(n_merges);
        std::string joined;
        for (size_t i = 0; i < n_merges; ++i) {
            const std::string_view line = src.merges.get(i);
            const size_t space = line.size() > 1 ? line.find(' ', 1) : std::string_view::npos;
            if (space == std::string_view::npos || space + 1 >= line.size()) continue;
            Line l{uint32_t(i), line.substr(0, space), line.substr(space + 1), 0, 0, 0};
            l.h_first = hash_bytes(l.first.data(), l.first.size());
            l.h_second = hash_bytes(l.second.data(), l.second.size());
            joined.assign(l.first);
            joined.append(l.second);
            l.h_joined = hash_bytes(joined.data(), joined.size());
            lines.push_back(l);
        }
        auto lookup = [&](std::string_view s, uint64_t h) -> int32_t {
            const int32_t id = text_to_id.find(s, h);
            if (id != kNoToken) return id;
            const int32_t extra = extra_symbol_ids.find(s);
            if (extra != StringIdMap::kNone) return n_vocab() + extra;
            const uint32_t sid = extra_symbols.add(s);
            extra_symbol_ids.set(sid);
            return n_vocab() + int32_t(sid);
        };
        constexpr size_t kAhead = 8;
        for (size_t k = 0; k < lines.size(); ++k) {
            if (k + kAhead < lines.size()) {
                const Line& f = lines[k + kAhead];
                text_to_id.prefetch(f.h_first), text_to_id.prefetch(f.h_second), text_to_id.prefetch(f.h_joined);
            }
            const Line& l = lines[k];
            joined.assign(l.first);
            joined.append(l.second);
            const int32_t a = lookup(l.first, l.h_first), b = lookup(l.second, l.h_second);
            const int32_t ab = lookup(joined, l.h_joined);
            merges.emplace(uint32_t(a), uint32_t(b), PairMap::Value{int32_t(l.index), ab});
        }
        for (int b = 0; b < 256; ++b) {
            std::string ch;
            utf8_append(ch, byte_to_cpt(uint8_t(b)));
            byte_symbol[b] = symbol_of(ch);
        }
    }
}

// Special ids from the metadata
void TokenizerImpl::load_special_ids(VocabSource& src) {
    struct Special {
        int64_t value;
        int32_t* id;
    };
    const Special specials[] = {
        {src.bos, &bos},         {src.eos, &eos},         {src.eot, &eot},         {src.eom, &eom},
        {src.unk, &unk},         {src.sep, &sep},         {src.pad, &pad},         {src.mask, &mask},
        {src.fim_pre, &fim_pre}, {src.fim_suf, &fim_suf}, {src.fim_mid, &fim_mid}, {src.fim_pad, &fim_pad},
        {src.fim_rep, &fim_rep}, {src.fim_sep, &fim_sep}, {src.prefix, &fim_pre},  {src.suffix, &fim_suf},
        {src.middle, &fim_mid},
    };
    for (const Special& s : specials) {
        if (*s.id >= 0 && *s.id >= n_vocab()) *s.id = kNoToken;  // a default out of range
        if (s.value == kAbsent) continue;
        if (s.value >= 0 && s.value < n_vocab()) *s.id = int32_t(s.value);  // else llama.cpp keeps the default
    }
    if (src.add_bos >= 0) add_bos = src.add_bos;
    if (src.add_eos >= 0) add_eos = src.add_eos;
    if (src.add_sep >= 0) add_sep = src.add_sep;
    if (pre_type == "gemma4" && !add_bos) add_bos = true;
    lowercase = pre_type != "whitespace";
    if (src.lowercase >= 0) lowercase = src.lowercase;
    strip_accents = lowercase;
    if (src.strip_accents >= 0) strip_accents = src.strip_accents;
}

// End-of-turn and fill-in-the-middle tokens recognised by their text
void TokenizerImpl::find_roles_by_text() {
    // llama.cpp walks its std::unordered_map<std::string, id>, so with several candidates for one role the first in
    // that map's order wins; the same map built the same way gives the same order.
    struct Role {
        int32_t* id;
        std::vector<std::string_view> names;
    };
    std::vector<Role> roles = {
        {&eot,
         {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
          "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}},
        {&eom, {"<|eom_id|>"}},
        {&fim_pre,
         {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
          "<|prefix|>"}},
        {&fim_suf,
         {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
          "<|suffix|>"}},
        {&fim_mid,
         {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
          "<|middle|>"}},
        {&fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
        {&fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
        {&fim_sep, {"<|file_sep|>"}},
    };
    const size_t kFirstFimEog = 5;  // roles from fim_pad on go into the end-of-generation set
    bool eager = false;
    for (size_t k = 0; k < roles.size(); ++k) {
        Role& r = roles[k];
        if (*r.id != kNoToken) continue;
        std::vector<int32_t> cands;
        for (auto name : r.names) {
            const int32_t id = find(name);
            if (id != kNoToken) cands.push_back(id);
        }
        if (cands.empty()) continue;
        if (cands.size() == 1) {
            *r.id = cands[0];
            set_control(cands[0]);
            continue;
        }
        // several candidates: which one llama.cpp picks needs its map's order, costly to rebuild, so it is worked
        // out when first asked for, unless the choice changes more than the id (the EOG set, an attribute)
        bool all_control = true;
        for (int32_t id : cands) all_control &= (attrs[size_t(id)] & kAttrControl) != 0;
        eager |= k >= kFirstFimEog || (k > 0 && !all_control);
        pending_roles.push_back({r.id, cands});
    }
    if (eager) {
        resolve_roles();
        for (const auto& pr : pending_roles) set_control(*pr.first);
    }
}

// Control tokens named "unused..." are unused
void TokenizerImpl::mark_unused(bool duplicates) {
    for (int32_t id = 0; id < n_vocab(); ++id) {
        uint32_t& a = attrs[size_t(id)];
        if (duplicates && find(texts.get(size_t(id))) != id) continue;  // not in llama.cpp's map
        if ((a & kAttrControl) && !(a & kAttrUnused) && texts.get(size_t(id)).find("unused") != std::string_view::npos)
            a |= kAttrUnused;
    }
}

// The end-of-generation set
void TokenizerImpl::build_eog() {
    std::vector<int32_t> eog_set;
    auto eog_add = [&](int32_t id) {
        if (id != kNoToken && std::find(eog_set.begin(), eog_set.end(), id) == eog_set.end()) eog_set.push_back(id);
    };
    auto eog_erase = [&](int32_t id) { eog_set.erase(std::remove(eog_set.begin(), eog_set.end(), id), eog_set.end()); };
    eog_add(fim_pad), eog_add(fim_rep), eog_add(fim_sep);
    for (std::string_view name : {"<|eot_id|>",
                                  "<|im_end|>",
                                  "<|end|>",
                                  "<|return|>",
                                  "<|call|>",
                                  "<|flush|>",
                                  "<|calls|>",
                                  "<end_of_turn>",
                                  "<|endoftext|>",
                                  "</s>",
                                  "<|eom_id|>",
                                  "<EOT>",
                                  "_<EOT>",
                                  "[EOT]",
                                  "[EOS]",
                                  "<|end_of_text|>",
                                  "<end_of_utterance>",
                                  "<eos>",
                                  "<turn|>",
                                  "<|tool_response>",
                                  "<｜end▁of▁sentence｜>",
                                  "[e~["}) {
        const int32_t id = find(name);
        if (id == kNoToken) continue;
        eog_add(id);
        set_control(id);
    }
    for (std::string_view name : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {  // gpt-oss
        const int32_t id = find(name);
        if (id != kNoToken) attrs[size_t(id)] = kAttrUserDefined;
    }
    eog_add(eos), eog_add(eot), eog_add(eom);
    auto in_eog = [&](std::string_view text) {
        for (int32_t id : eog_set)
            if (texts.get(size_t(id)) == text) return id;
        return kNoToken;
    };
    {  // o200k_harmony / solar-open: "<|end|>" is not the end there
        const int32_t end_id = in_eog("<|end|>");
        const bool ret = in_eog("<|return|>") != kNoToken, flush = in_eog("<|flush|>") != kNoToken;
        const bool call = in_eog("<|call|>") != kNoToken || in_eog("<|calls|>") != kNoToken;
        if (end_id != kNoToken && ((ret && call) || (call && flush))) {
            eog_erase(end_id);
            attrs[size_t(end_id)] = kAttrUserDefined;
        }
    }
    {  // gemma4 and plamo: "</s>" is a normal token
        const int32_t s_id = in_eog("</s>");
        if (s_id != kNoToken && (in_eog("<|tool_response>") != kNoToken || in_eog("<|plamo:eos|>") != kNoToken)) {
            eog_erase(s_id);
            attrs[size_t(s_id)] = kAttrNormal;
        }
    }
    std::sort(eog_set.begin(), eog_set.end());
    eog = eog_set;
}

// Special tokens, longest first (std::sort with llama.cpp's comparator, so ties come out the same)
void TokenizerImpl::list_special_tokens() {
    for (int32_t id = 0; id < n_vocab(); ++id)
        if (attrs[size_t(id)] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_tokens.push_back(id);
    std::sort(special_tokens.begin(), special_tokens.end(),
              [&](int32_t a, int32_t b) { return texts.get(size_t(a)).size() > texts.get(size_t(b)).size(); });
}

// SentencePiece: the tokens that span a "x▁" boundary (see tokenize_spm)
void TokenizerImpl::find_spm_crossings() {
    if (type == VocabType::kSpm) {
        for (int32_t id = 0; id < n_vocab(); ++id) {
            const std::string_view t = texts.get(size_t(id));
            for (size_t at = t.find("\xE2\x96\x81", 1); at != std::string_view::npos;
                 at = t.find("\xE2\x96\x81", at + 1)) {
                if (at < 3 || t.compare(at - 3, 3, "\xE2\x96\x81") != 0) {
                    spm_crossing.push_back(id);
                    break;
                }
            }
            if (spm_crossing.size() > 64) break;
        }
        spm_can_cut = spm_crossing.size() <= 64;
    }
}

// Newline token
void TokenizerImpl::find_newline() {
    if (type == VocabType::kSpm) {
        nl = find("<0x0A>");
        if (nl == kNoToken) nl = find("\n");
        if (nl == kNoToken) nl = pad;
    } else if (type == VocabType::kWpm) {
        nl = pad;
    } else {
        std::vector<int32_t> ids;
        WordCache cache;
        if (type == VocabType::kBpe) tokenize_bpe("\n", ids, cache);
        if (type == VocabType::kUgm) tokenize_ugm("\n", ids);
        if (type == VocabType::kRwkv) tokenize_rwkv("\n", ids);
        nl = ids.empty() ? pad : ids[0];
    }
}

// Pieces (token_to_piece with special = true), before the attributes below, as in llama.cpp
void TokenizerImpl::build_pieces() {
    pieces.reserve(size_t(n_vocab()), texts.bytes() + 16);
    for (int32_t id = 0; id < n_vocab(); ++id) {
        append_piece(id);
        pieces.commit();
    }
}

// Attributes llama.cpp sets by model name
void TokenizerImpl::set_attrs_by_name(VocabSource& src) {
    std::string name_lower = src.general_name;
    for (char& c : name_lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    auto has = [](const std::string& s, std::initializer_list<const char*> parts) {
        for (const char* p : parts)
            if (s.find(p) != std::string::npos) return true;
        return false;
    };
    auto set_attr = [&](std::string_view text, uint32_t attr, bool on) {
        const int32_t id = find(text);
        if (id == kNoToken) return;
        attrs[size_t(id)] = on ? (attrs[size_t(id)] | attr) : (attrs[size_t(id)] & ~attr);
    };
    if (has(src.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
        has(src.general_architecture, {"nomic-bert-moe", "jina-bert-v3"})) {
        set_attr("<mask>", kAttrLstrip, true);
    } else if (has(name_lower, {"phi-3", "phi3"})) {
        for (int32_t id : special_tokens) attrs[size_t(id)] |= kAttrRstrip;
        set_attr("</s>", kAttrRstrip, true);
        for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRstrip, false);
    } else if (has(name_lower, {"modern-bert"})) {
        set_attr("[MASK]", kAttrLstrip, true);
    }
}

// The phases of llama_vocab::impl::load, in its order (later phases read what earlier ones set).
void TokenizerImpl::load(VocabSource& src) {
    set_model_type(src);
    const bool duplicates = load_tokens(src);
    build_tries();
    load_merges(src);
    load_special_ids(src);
    find_roles_by_text();
    mark_unused(duplicates);
    build_eog();
    list_special_tokens();
    find_spm_crossings();
    find_newline();
    build_pieces();
    set_attrs_by_name(src);
}

void TokenizerImpl::append_piece(int32_t id) {
    const uint32_t attr = attrs[size_t(id)];
    const std::string_view text = texts.get(size_t(id));
    if (type == VocabType::kRwkv) {
        pieces.append(rwkv_unescape(text));
        return;
    }
    if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
        pieces.append(text);
    } else if (attr & kAttrNormal) {
        if (type != VocabType::kBpe || escape_whitespaces) {  // U+2581 -> space
            for (size_t k = 0; k < text.size(); ++k) {
                if (text.compare(k, 3, "\xE2\x96\x81") == 0) {
                    pieces.append(' ');
                    k += 2;
                } else {
                    pieces.append(text[k]);
                }
            }
            return;
        }
        // byte-level BPE: each character back to its byte (llama_decode_text, with its odd error text)
        const auto* s = reinterpret_cast<const uint8_t*>(text.data());
        for (size_t off = 0; off < text.size();) {
            const size_t start = off;
            const uint32_t c = utf8_decode(s, text.size(), off);
            const int b = cpt_to_byte(c);
            if (b >= 0) {
                pieces.append(char(b));
                continue;
            }
            std::string utf8;
            utf8_append(utf8, c);
            (void)start;
            pieces.append("[UNK_BYTE_0x");
            static const char* hex = "0123456789abcdef";
            for (unsigned char ch : utf8) {
                pieces.append(hex[ch >> 4]);
                pieces.append(hex[ch & 15]);
            }
            pieces.append(text);
            pieces.append("]");
        }
    } else if (attr & kAttrByte) {
        // "<0xAB>": llama.cpp parses the two characters at offset 3 with strtol
        const std::string hex2 = text.size() > 3 ? std::string(text.substr(3, 2)) : std::string();
        pieces.append(char(std::strtol(hex2.c_str(), nullptr, 16)));
    }
}

}  // namespace lc::tok
