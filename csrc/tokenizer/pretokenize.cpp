#include "tokenizer/pretokenize.h"

#include <algorithm>
#include <stdexcept>

#include "tokenizer/unicode.h"

namespace lc::tok {

namespace {

// tokenizer.ggml.pre -> pre-tokenizer type and the flags the name sets (llama_vocab::impl::load).
struct PreName {
    const char* name;
    const char* type;
    bool ignore_merges;
    int add_bos;       // -1 keep
    int clean_spaces;  // -1 keep
    bool no_bos_token, escape_whitespaces, add_sep;
};

constexpr int K = -1;  // keep the default
const PreName kPreNames[] = {
    {"default", "default", false, K, K, false, false, false},
    {"minicpm5", "minicpm5", true, K, K, false, false, false},
    {"llama3", "llama3", true, 1, K, false, false, false},
    {"llama-v3", "llama3", true, 1, K, false, false, false},
    {"llama-bpe", "llama3", true, 1, K, false, false, false},
    {"falcon3", "llama3", true, 1, K, false, false, false},
    {"falcon-h1", "llama3", true, 1, K, false, false, false},
    {"pixtral", "llama3", true, 1, K, false, false, false},
    {"midm-2.0", "llama3", true, 1, K, false, false, false},
    {"lfm2", "llama3", true, 1, K, false, false, false},
    {"jina-v5-nano", "llama3", true, 1, K, false, false, false},
    {"deepseek-llm", "deepseek_llm", false, K, 0, false, false, false},
    {"deepseek-coder", "deepseek_coder", false, K, 0, false, false, false},
    {"deepseek-v3", "deepseek3_llm", false, K, 0, false, false, false},
    {"spark2_5", "spark2_5", false, K, 0, false, false, false},
    {"youtu", "youtu", true, K, 0, false, false, false},
    {"falcon", "falcon", false, K, K, false, false, false},
    {"mpt", "mpt", false, K, K, false, false, false},
    {"starcoder", "starcoder", false, K, K, false, false, false},
    {"gpt-2", "gpt2", false, K, K, false, false, false},
    {"phi-2", "gpt2", false, K, K, false, false, false},
    {"jina-es", "gpt2", false, K, K, false, false, false},
    {"jina-de", "gpt2", false, K, K, false, false, false},
    {"gigachat", "gpt2", false, K, K, false, false, false},
    {"jina-v2-es", "gpt2", false, K, K, false, false, false},
    {"jina-v2-de", "gpt2", false, K, K, false, false, false},
    {"a.x-4.0", "gpt2", false, K, K, false, false, false},
    {"mellum", "gpt2", false, K, K, false, false, false},
    {"modern-bert", "gpt2", false, K, K, false, false, false},
    {"jais-2", "jais2", false, K, K, false, false, false},
    {"gemma4", "gemma4", false, K, K, false, true, false},
    {"granite-embed-multi-311m", "gemma4", false, K, K, false, true, false},
    {"sarvam-moe", "sarvam_moe", false, K, 0, false, true, false},
    {"jina-v1-en", "gpt2", false, K, K, false, false, true},
    {"jina-v2-code", "gpt2", false, K, K, false, false, true},
    {"roberta-bpe", "gpt2", false, K, K, false, false, true},
    {"refact", "refact", false, K, K, false, false, false},
    {"command-r", "command_r", false, K, 0, false, false, false},
    {"qwen2", "qwen2", false, K, 0, false, false, false},
    {"deepseek-r1-qwen", "qwen2", false, K, 0, false, false, false},
    {"kormo", "qwen2", false, K, 0, false, false, false},
    {"f2llmv2", "qwen2", false, K, 0, false, false, false},
    {"qwen35", "qwen35", false, K, 0, false, false, false},
    {"stablelm2", "stablelm2", false, K, K, false, false, false},
    {"olmo", "olmo", false, K, K, false, false, false},
    {"dbrx", "dbrx", false, K, K, false, false, false},
    {"smaug-bpe", "smaug", false, K, K, false, false, false},
    {"poro-chat", "poro", false, K, 0, false, false, false},
    {"chatglm-bpe", "chatglm4", false, K, K, true, false, false},
    {"glm4", "chatglm4", true, K, K, true, false, false},
    {"glm5", "chatglm4", true, K, K, true, false, false},
    {"viking", "viking", false, K, 0, false, false, false},
    {"jais", "jais", false, K, K, false, false, false},
    {"tekken", "tekken", true, 1, 0, false, false, false},
    {"smollm", "smollm", false, K, 0, false, false, false},
    {"codeshell", "codeshell", false, K, K, false, false, false},
    {"bloom", "bloom", false, K, K, false, false, false},
    {"gpt3-finnish", "gpt3_finnish", false, K, K, false, false, false},
    {"exaone", "exaone", false, K, K, false, false, false},
    {"exaone4", "gpt2", false, K, K, false, false, false},
    {"exaone-moe", "exaone_moe", false, K, K, false, false, false},
    {"chameleon", "chameleon", false, 1, 0, false, false, false},
    {"minerva-7b", "minerva", false, K, K, false, false, false},
    {"megrez", "qwen2", false, K, K, false, false, false},
    {"gpt-4o", "gpt4o", false, K, 0, false, false, false},
    {"llama4", "gpt4o", false, K, 0, false, false, false},
    {"kanana2", "gpt4o", false, K, 0, false, false, false},
    {"talkie", "gpt4o", false, K, 0, false, false, false},
    {"granite-embed-multi-97m", "granite_emb_multi", true, K, 0, false, false, false},
    {"tiny_aya", "tiny_aya", false, K, 0, false, false, false},
    {"cohere2moe", "tiny_aya", false, K, 0, false, false, false},
    {"superbpe", "superbpe", false, K, 0, false, false, false},
    {"trillion", "trillion", false, K, 0, false, false, false},
    {"granite-docling", "granite_docling", false, K, 0, false, false, false},
    {"bailingmoe", "bailingmoe", false, K, 0, false, false, false},
    {"bailingmoe2", "bailingmoe", false, K, 0, false, false, false},
    {"llada-moe", "bailingmoe", false, K, 0, false, false, false},
    {"seed-coder", "seed_coder", false, K, 0, false, false, false},
    {"hunyuan", "hunyuan", false, K, 0, false, false, false},
    {"hunyuan-dense", "hunyuan_dense", false, K, 0, false, false, false},
    {"hy_v4", "hy_v4", false, K, 0, false, false, false},
    {"joyai-llm", "joyai_llm", false, K, 0, false, false, false},
    {"kimi-k2", "kimi_k2", false, K, 0, false, false, false},
    {"ufakzeka", "ufakzeka", false, K, 0, false, false, false},
    {"grok-2", "grok_2", false, K, 0, false, false, false},
    {"afmoe", "afmoe", false, K, 0, false, false, false},
    {"laguna", "laguna", false, K, 0, false, false, false},
    {"minimax-m2", "minimax_m2", false, K, 0, false, false, false},
    {"solar-open", "solar_open", false, K, 0, false, false, false},
    {"mellum2", "mellum2", false, K, K, false, false, false},
};

// Pre-tokenizer type -> the expressions llama.cpp applies in order (llm_tokenizer_bpe's constructor; the
// originals from each model's tokenizer.json, with (?i:...) spelled out as std::regex has no inline flags).
struct PreType {
    std::vector<const char*> types;
    bool byte_encode;
    std::vector<const char*> exprs;
};
const PreType kPreTypes[] = {
    {{"llama3", "dbrx", "smaug", "chatglm4"},
     true,
     {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"jais2"},
     true,
     {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{"
      "32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"}},
    {{"deepseek_llm"},
     true,
     {"[\r\n]",
      "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-"
      "ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-"
      "𐳲𑢠-𑣟𞤀-𞥃]+",
      "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"}},
    {{"deepseek3_llm", "hunyuan_dense", "joyai_llm", "hy_v4"},
     true,
     {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
    {{"spark2_5"},
     true,
     {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
      "\\p{N}"}},
    {{"youtu"},
     true,
     {"[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR]["
      "eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}"
      "\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"deepseek_coder"}, true, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"}},
    {{"falcon"},
     true,
     {"[\\p{P}\\$\\+<=>\\^~\\|`]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
      "[0-9][0-9][0-9]"}},
    {{"starcoder", "refact", "command_r", "smollm", "codeshell", "exaone", "minerva", "mellum2"},
     true,
     {"\\p{N}", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"}},
    {{"gpt2", "mpt", "olmo", "jais", "trillion", "granite_docling"},
     true,
     {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"}},
    {{"stablelm2", "qwen2", "hunyuan", "solar_open", "grok_2"},
     true,
     {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"qwen35"},
     true,
     {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "
      "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"poro", "bloom", "gpt3_finnish"}, true, {" ?[^(\\s|.,!?…。，、।۔،)]+"}},
    {{"viking"}, true, {" ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}"}},
    {{"tekken"},
     true,
     {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z])"
      ")+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"chameleon"},
     true,
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
      "[\\p{P}!-/:-@\\[-`{-~]", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"}},
    {{"gpt4o", "minimax_m2"},
     true,
     {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'["
      "lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'["
      "vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"granite_emb_multi"},
     true,
     {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV]["
      "eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'"
      "[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"tiny_aya"},
     true,
     {"\\d{1,3}(?=(?:\\d{3})*\\b)",
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR]["
      "eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}"
      "\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"kimi_k2"}, true, {"\\p{Han}+"}},
    {{"superbpe"}, true, {"\\p{N}+", "(?=(\\d{3})+(?!\\d))"}},
    {{"bailingmoe"},
     true,
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
    {{"seed_coder"},
     true,
     {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| "
      "?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"ufakzeka"},
     true,
     {"[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"afmoe"},
     true,
     {"\\p{AFMoE_digits}",
      "[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"laguna"},
     true,
     {"[^\\n]+|[\\n]+",
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"exaone_moe"},
     true,
     {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: "
      "\\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
    {{"gemma4", "sarvam_moe"}, false, {"[^\\n]+|[\\n]+"}},
    {{"minicpm5"},
     true,
     {"\\p{N}{1,3}",
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"whitespace"}, false, {"\\S+"}},
    {{"default"},
     true,
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
      "\\p{N}+", "[0-9][0-9][0-9]"}},
};

const PreType* find_type(const std::string& type) {
    for (const auto& t : kPreTypes)
        for (const char* name : t.types)
            if (type == name) return &t;
    return nullptr;
}

// ---- hand-written splitters: llama.cpp's (unicode.cpp), which give its token ids, quirks included ----

constexpr uint32_t kOut = 0xFFFFFFFF;  // a position outside the piece

// One piece [ini, end) of the text being split, with llama.cpp's bounds-checked accessors.
struct Piece {
    const uint32_t* cpt;
    const uint16_t* flags;
    size_t ini, end;
    std::vector<size_t>& out;
    size_t prev_end;

    Piece(const uint32_t* c, const uint16_t* f, size_t a, size_t b, std::vector<size_t>& o)
        : cpt(c), flags(f), ini(a), end(b), out(o), prev_end(a) {}
    uint32_t c(size_t pos) const { return pos >= ini && pos < end ? cpt[pos] : kOut; }
    uint16_t f(size_t pos) const { return pos >= ini && pos < end ? flags[pos] : 0; }
    size_t add(size_t until) {  // ends a word at `until`; returns its length
        const size_t len = until - prev_end;
        if (len > 0) out.push_back(len);
        prev_end = until;
        return len;
    }
};

bool is_letter(uint16_t f) { return f & kLetter; }
bool is_number(uint16_t f) { return f & kNumber; }
bool is_space(uint16_t f) { return f & kWhitespace; }
bool is_mark(uint16_t f) { return f & kMark; }
bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

// 's|'t|'re|'ve|'m|'ll|'d (case-insensitive when `fold`); returns the length matched at pos, 0 for none
size_t contraction(const Piece& p, size_t pos, bool fold) {
    if (p.c(pos) != '\'' || pos + 1 >= p.end) return 0;
    auto low = [&](size_t q) { return fold ? cpt_tolower(p.c(q)) : p.c(q); };
    const uint32_t n1 = low(pos + 1);
    if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return 2;
    if (pos + 2 < p.end) {
        const uint32_t n2 = low(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) return 3;
    }
    return 0;
}

// whitespace tail shared by the splitters: \s*[\r\n]+ (when crlf_rule) | \s+(?!\S) | \s+ | any single char
void whitespace_or_single(Piece& p, size_t& pos, bool crlf_rule) {
    size_t n = 0, last_crlf = 0;
    while (is_space(p.f(pos + n))) {
        if (is_crlf(p.c(pos + n))) last_crlf = pos + n + 1;
        ++n;
    }
    if (crlf_rule && last_crlf > 0) {
        pos = last_crlf;
        p.add(pos);
    } else if (n > 1 && p.c(pos + n) != kOut) {
        pos += n - 1;
        p.add(pos);
    } else if (n > 0) {
        pos += n;
        p.add(pos);
    } else {
        p.add(++pos);
    }
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
void split_gpt2(Piece& p) {
    for (size_t pos = p.ini; pos < p.end;) {
        const uint32_t c = p.c(pos);
        if (const size_t n = contraction(p, pos, false)) {
            pos += p.add(pos + n);
            continue;
        }
        uint16_t f2 = c == ' ' ? p.f(pos + 1) : p.f(pos);
        if (is_letter(f2) || is_number(f2)) {
            const uint16_t kind = is_letter(f2) ? kLetter : kNumber;
            pos += c == ' ';
            while (f2 & kind) f2 = p.f(++pos);
            p.add(pos);
            continue;
        }
        if (!(is_space(f2) || is_letter(f2) || is_number(f2)) && f2) {
            pos += c == ' ';
            while (!(is_space(f2) || is_letter(f2) || is_number(f2)) && f2) f2 = p.f(++pos);
            p.add(pos);
            continue;
        }
        whitespace_or_single(p, pos, false);
    }
}

// llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|
// \s+(?!\S)|\s+ ; qwen2 is the same with \p{N}; qwen35 letter runs also take marks (\p{M}).
void split_llama3(Piece& p, size_t max_digits, bool marks) {
    auto wordish = [&](uint16_t f) { return is_letter(f) || (marks && is_mark(f)); };
    for (size_t pos = p.ini; pos < p.end;) {
        const uint32_t c = p.c(pos);
        const uint16_t f = p.f(pos);
        if (const size_t n = contraction(p, pos, true)) {
            pos += p.add(pos + n);
            continue;
        }
        if (!(is_crlf(c) || is_number(f)) && (wordish(f) || wordish(p.f(pos + 1)))) {
            ++pos;
            while (wordish(p.f(pos))) ++pos;
            p.add(pos);
            continue;
        }
        if (is_number(f)) {
            size_t start = pos;
            while (is_number(p.f(pos))) {
                if (++pos - start >= max_digits) {
                    p.add(pos);
                    start = pos;
                }
            }
            p.add(pos);
            continue;
        }
        uint16_t f2 = c == ' ' ? p.f(pos + 1) : f;
        if (!(is_space(f2) || wordish(f2) || is_number(f2)) && f) {
            pos += c == ' ';
            while (!(is_space(f2) || wordish(f2) || is_number(f2)) && f2) f2 = p.f(++pos);
            while (is_crlf(p.c(pos))) ++pos;
            p.add(pos);
            continue;
        }
        whitespace_or_single(p, pos, true);
    }
}

// kimi-k2: [\p{Han}]+ | letter words without Han, with an optional contraction | \p{N}{1,3} | ...
void split_kimi_k2(Piece& p) {
    auto letter_not_han = [&](size_t q) { return is_letter(p.f(q)) && !cpt_is_han(p.c(q)); };
    for (size_t pos = p.ini; pos < p.end;) {
        const uint32_t c = p.c(pos);
        const uint16_t f = p.f(pos);
        if (cpt_is_han(c)) {
            while (cpt_is_han(p.c(pos))) ++pos;
            p.add(pos);
            continue;
        }
        const bool lead_ok = !(is_crlf(c) || is_letter(f) || is_number(f));
        if ((is_letter(f) && !cpt_is_han(c)) || (lead_ok && letter_not_han(pos + 1))) {
            bool has_lead = false;
            if (lead_ok) {
                has_lead = true;
                ++pos;
            }
            bool has_letters = false;
            while (letter_not_han(pos)) {
                has_letters = true;
                ++pos;
            }
            if (has_letters || (!has_lead && letter_not_han(pos))) {
                if (!has_letters) ++pos;
                while (letter_not_han(pos)) ++pos;
                pos += contraction(p, pos, true);
                p.add(pos);
                continue;
            } else if (has_lead) {
                --pos;
            }
        }
        if (is_number(f)) {
            size_t start = pos;
            while (is_number(p.f(pos))) {
                if (++pos - start >= 3) {
                    p.add(pos);
                    start = pos;
                }
            }
            p.add(pos);
            continue;
        }
        uint16_t f2 = c == ' ' ? p.f(pos + 1) : f;
        if (!(is_space(f2) || is_letter(f2) || is_number(f2)) && f2) {
            pos += c == ' ';
            while (!(is_space(f2) || is_letter(f2) || is_number(f2)) && f2) f2 = p.f(++pos);
            while (is_crlf(p.c(pos))) ++pos;
            p.add(pos);
            continue;
        }
        whitespace_or_single(p, pos, true);
    }
}

// afmoe / tiny_aya digits: a digit run splits into a leading 1-2 digits then groups of 3 (the text before the run
// goes with its first group, as in llama.cpp)
void split_digit_groups(Piece& p) {
    for (size_t pos = p.ini; pos < p.end;) {
        if (!is_number(p.f(pos))) {
            ++pos;
            continue;
        }
        const size_t start = pos;
        while (pos < p.end && is_number(p.f(pos))) ++pos;
        const size_t count = pos - start, rem = count % 3;
        size_t cur = start;
        if (rem > 0) {
            p.add(cur + rem);
            cur += rem;
        }
        while (cur < start + count) {
            p.add(cur + 3);
            cur += 3;
        }
    }
    if (p.prev_end < p.end) p.add(p.end);
}

// [^\n]+|[\n]+
void split_newlines(Piece& p) {
    for (size_t pos = p.ini; pos < p.end;) {
        const bool nl = p.cpt[pos] == '\n';
        const size_t start = pos;
        while (pos < p.end && (p.cpt[pos] == '\n') == nl) ++pos;
        p.out.push_back(pos - start);
    }
}

// superbpe's (?=(\d{3})+(?!\d)): empty matches where the ASCII digits from there to the end of their run are a
// multiple of 3 (at least 3), laid out as llama.cpp's std::regex_iterator does (an empty piece per match). The
// matcher would get there in quadratic time over a long run of digits.
void split_triples_ahead(Piece& p) {
    auto digit = [&](size_t i) { return p.cpt[i] >= '0' && p.cpt[i] <= '9'; };
    size_t done = p.ini;
    size_t run_end = p.ini;  // end of the digit run that contains pos
    for (size_t pos = p.ini; pos < p.end; ++pos) {
        if (!digit(pos)) continue;
        if (run_end <= pos) {
            run_end = pos;
            while (run_end < p.end && digit(run_end)) ++run_end;
        }
        const size_t left = run_end - pos;
        if (left >= 3 && left % 3 == 0) {
            if (pos > done) p.out.push_back(pos - done);
            p.out.push_back(0);
            done = pos;
        }
    }
    if (p.end > done) p.out.push_back(p.end - done);
}

bool names_category(const std::string& re) {
    for (const char* cat :
         {"\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}", "\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}"})
        if (re.find(cat) != std::string::npos) return true;
    return false;
}

}  // namespace

bool pre_tokenizer_info(const std::string& name, PreTokenizerInfo& info) {
    for (const auto& n : kPreNames) {
        if (name != n.name) continue;
        info.type = n.type;
        info.ignore_merges = n.ignore_merges;
        info.add_bos = n.add_bos;
        info.clean_spaces = n.clean_spaces;
        info.no_bos_token = n.no_bos_token;
        info.escape_whitespaces = n.escape_whitespaces;
        info.add_sep = n.add_sep;
        return true;
    }
    return false;
}

std::vector<std::string> supported_pre_tokenizers() {
    std::vector<std::string> names;
    for (const auto& n : kPreNames) names.emplace_back(n.name);
    return names;
}

PreTokenizer::PreTokenizer(const std::string& type) {
    const PreType* t = find_type(type);
    if (!t) throw std::invalid_argument("unknown pre-tokenizer type '" + type + "'");
    byte_encode_ = t->byte_encode;
    // the same dispatch as llama.cpp's unicode_regex_split_custom: these exact expressions have splitters
    const std::string kGpt2Expr = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    const std::string kLlama3a =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    const std::string kLlama3b =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    const std::string kQwen2Expr =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    const std::string kQwen35Expr =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "
        "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    for (const char* expr_c : t->exprs) {
        const std::string expr = expr_c;
        Step step;
        if (expr == kGpt2Expr) {
            step.kind = kGpt2;
        } else if (expr == kLlama3a || expr == kLlama3b) {
            step.kind = kLlama3;
        } else if (expr == kQwen2Expr) {
            step.kind = kQwen2;
        } else if (expr == kQwen35Expr) {
            step.kind = kQwen35;
        } else if (expr == "\\p{Han}+") {
            step.kind = kKimiK2;
        } else if (expr == "\\p{AFMoE_digits}" || expr == "\\d{1,3}(?=(?:\\d{3})*\\b)") {
            step.kind = kDigitGroups;
        } else if (expr == "[^\\n]+|[\\n]+") {
            step.kind = kNewlines;
        } else if (expr == "(?=(\\d{3})+(?!\\d))") {
            step.kind = kTriplesAhead;
        } else {
            step.kind = kRegex;
            step.collapsed = names_category(expr);
            std::vector<uint32_t> units;
            if (step.collapsed) {
                for (unsigned char b : collapse_pattern(expr)) units.push_back(b);
            } else {
                utf8_to_cpts(expr, units);
            }
            step.re = std::make_unique<Regex>(units);
        }
        steps_.push_back(std::move(step));
    }
}

void PreTokenizer::split(const std::vector<uint32_t>& cpts, std::vector<size_t>& pieces) const {
    const size_t n = cpts.size();
    std::vector<uint16_t> flags(n);
    const FlagTable& table = flag_table();
    for (size_t i = 0; i < n; ++i) flags[i] = table.get(cpts[i]);
    std::vector<uint32_t> collapsed, wide;  // the texts std::regex sees in llama.cpp, made when first needed

    std::vector<size_t> cur{n}, next;
    for (const Step& step : steps_) {
        next.clear();
        next.reserve(cur.size() * 2);
        const uint32_t* units = nullptr;
        if (step.kind == kRegex) {
            auto& u = step.collapsed ? collapsed : wide;
            if (u.empty() && n > 0) {
                u.resize(n);
                for (size_t i = 0; i < n; ++i) {
                    const uint32_t c = cpts[i];
                    u[i] = step.collapsed ? collapse_cpt(c) : (c > 0x7F && (flags[i] & kWhitespace) ? 0x0B : c);
                }
            }
            units = u.data();
        }
        size_t start = 0;
        for (size_t len : cur) {
            Piece p(cpts.data(), flags.data(), start, start + len, next);
            switch (step.kind) {
                case kGpt2: split_gpt2(p); break;
                case kLlama3: split_llama3(p, 3, false); break;
                case kQwen2: split_llama3(p, 1, false); break;
                case kQwen35: split_llama3(p, 1, true); break;
                case kKimiK2: split_kimi_k2(p); break;
                case kDigitGroups: split_digit_groups(p); break;
                case kNewlines: split_newlines(p); break;
                case kTriplesAhead: split_triples_ahead(p); break;
                case kRegex: step.re->split(units, start, start + len, next); break;
            }
            start += len;
        }
        cur.swap(next);
    }
    pieces.insert(pieces.end(), cur.begin(), cur.end());
}

}  // namespace lc::tok
