#include "tokenizer/regex.h"

#include <memory>
#include <stdexcept>
#include <string>

#include "tokenizer/unicode.h"

namespace lc::tok {

namespace {

// collapsed-text codes, as llama.cpp's k_ucat_cpt
constexpr uint32_t kCollapsedNumber = 0xD1, kCollapsedLetter = 0xD2, kCollapsedPunct = 0xD3, kCollapsedMark = 0xD4,
                   kCollapsedSymbol = 0xD5, kCollapsedOther = 0xD0, kCollapsedSpace = 0x0B;

// std::regex's \s \d \w in the "C" locale: ASCII only
bool is_space_unit(uint32_t u) { return u == ' ' || (u >= 0x09 && u <= 0x0D); }
bool is_digit_unit(uint32_t u) { return u >= '0' && u <= '9'; }
bool is_word_unit(uint32_t u) {
    return is_digit_unit(u) || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || u == '_';
}
bool is_line_terminator(uint32_t u) { return u == '\n' || u == '\r' || u == 0x2028 || u == 0x2029; }

enum Escape : uint32_t { kEscS = 1, kEscNotS = 2, kEscD = 4, kEscNotD = 8, kEscW = 16, kEscNotW = 32 };

}  // namespace

uint32_t collapse_cpt(uint32_t cpt) {
    if (cpt < 128) return cpt;
    const uint16_t f = cpt_flags(cpt);
    if (f & kWhitespace) return kCollapsedSpace;
    switch (f & kCategoryMask) {
        case kNumber: return kCollapsedNumber;
        case kLetter: return kCollapsedLetter;
        case kPunctuation: return kCollapsedPunct;
        case kMark: return kCollapsedMark;
        case kSymbol: return kCollapsedSymbol;
        default: return kCollapsedOther;
    }
}

bool Regex::Class::contains(uint32_t u) const {
    bool in = false;
    for (const auto& r : ranges) {
        if (r.first <= u && u <= r.second) {
            in = true;
            break;
        }
    }
    if (!in && escapes) {
        in = ((escapes & kEscS) && is_space_unit(u)) || ((escapes & kEscNotS) && !is_space_unit(u)) ||
             ((escapes & kEscD) && is_digit_unit(u)) || ((escapes & kEscNotD) && !is_digit_unit(u)) ||
             ((escapes & kEscW) && is_word_unit(u)) || ((escapes & kEscNotW) && !is_word_unit(u));
    }
    return in != negate;
}

// ---- parsing: pattern -> tree -> program ----

struct Regex::Node {
    enum Kind { kEmpty, kUnit, kSet, kAnyUnit, kSeq, kAlt, kRepeat, kAssert, kLookahead } kind = kEmpty;
    uint32_t value = 0;    // kUnit: the unit; kSet: class index; kAssert: the Op
    int min = 0, max = 0;  // kRepeat (max < 0: unbounded)
    bool greedy = true, negative = false;
    std::vector<std::unique_ptr<Node>> kids;
};

class RegexCompiler {
   public:
    RegexCompiler(Regex& re, const std::vector<uint32_t>& pattern) : re_(re), p_(pattern) {}

    void compile() {
        auto root = disjunction();
        if (i_ != p_.size()) fail("unbalanced ')'");
        emit(*root);
        re_.prog_.push_back({Regex::kMatch});
    }

   private:
    using Node = Regex::Node;
    using NodeP = std::unique_ptr<Node>;
    Regex& re_;
    std::vector<uint32_t> p_;
    size_t i_ = 0;

    [[noreturn]] void fail(const char* why) const {
        throw std::invalid_argument(std::string("pre-tokenizer regex: ") + why);
    }
    bool more() const { return i_ < p_.size(); }
    uint32_t peek() const { return p_[i_]; }

    static NodeP make(Node::Kind k) {
        auto n = std::make_unique<Node>();
        n->kind = k;
        return n;
    }

    NodeP disjunction() {
        auto first = alternative();
        if (!more() || peek() != '|') return first;
        auto alt = make(Node::kAlt);
        alt->kids.push_back(std::move(first));
        while (more() && peek() == '|') {
            ++i_;
            alt->kids.push_back(alternative());
        }
        return alt;
    }

    NodeP alternative() {
        auto seq = make(Node::kSeq);
        while (more() && peek() != '|' && peek() != ')') seq->kids.push_back(term());
        return seq;
    }

    NodeP term() {
        const uint32_t c = peek();
        if (c == '^' || c == '$') {
            ++i_;
            auto a = make(Node::kAssert);
            a->value = c == '^' ? Regex::kBol : Regex::kEol;
            return a;
        }
        if (c == '\\' && i_ + 1 < p_.size() && (p_[i_ + 1] == 'b' || p_[i_ + 1] == 'B')) {
            auto a = make(Node::kAssert);
            a->value = p_[i_ + 1] == 'b' ? Regex::kWordB : Regex::kNotWordB;
            i_ += 2;
            return a;
        }
        NodeP atom_node;
        if (c == '(' && i_ + 2 < p_.size() && p_[i_ + 1] == '?' && (p_[i_ + 2] == '=' || p_[i_ + 2] == '!')) {
            auto look = make(Node::kLookahead);
            look->negative = p_[i_ + 2] == '!';
            i_ += 3;
            look->kids.push_back(disjunction());
            expect(')');
            return look;  // ECMAScript: a lookahead takes no quantifier
        }
        atom_node = atom();
        return quantified(std::move(atom_node));
    }

    void expect(uint32_t c) {
        if (!more() || peek() != c) fail("syntax error");
        ++i_;
    }

    NodeP quantified(NodeP a) {
        if (!more()) return a;
        int lo, hi;
        const uint32_t c = peek();
        if (c == '*') {
            lo = 0, hi = -1, ++i_;
        } else if (c == '+') {
            lo = 1, hi = -1, ++i_;
        } else if (c == '?') {
            lo = 0, hi = 1, ++i_;
        } else if (c == '{') {
            size_t j = i_ + 1;
            auto number = [&](int& v) {
                if (j >= p_.size() || !is_digit_unit(p_[j])) return false;
                v = 0;
                while (j < p_.size() && is_digit_unit(p_[j])) v = v * 10 + int(p_[j++] - '0');
                return true;
            };
            if (!number(lo)) return a;  // a literal '{'
            hi = lo;
            if (j < p_.size() && p_[j] == ',') {
                ++j;
                if (!number(hi)) hi = -1;
            }
            if (j >= p_.size() || p_[j] != '}') fail("bad {n,m}");
            i_ = j + 1;
            if (hi >= 0 && hi < lo) fail("bad {n,m}");
        } else {
            return a;
        }
        auto r = make(Node::kRepeat);
        r->min = lo, r->max = hi;
        if (more() && peek() == '?') {
            r->greedy = false;
            ++i_;
        }
        r->kids.push_back(std::move(a));
        return r;
    }

    NodeP atom() {
        const uint32_t c = peek();
        if (c == '(') {
            ++i_;
            if (i_ + 1 < p_.size() && peek() == '?' && p_[i_ + 1] == ':') i_ += 2;
            auto inner = disjunction();
            expect(')');
            return inner;  // capturing groups do not matter with `nosubs`
        }
        if (c == '[') return bracket();
        if (c == '.') {
            ++i_;
            return make(Node::kAnyUnit);
        }
        if (c == '\\') {
            Regex::Class cls;
            uint32_t unit;
            if (escape(cls, unit)) return set(std::move(cls));
            return unit_node(unit);
        }
        if (c == ')' || c == '*' || c == '+' || c == '?') fail("syntax error");
        ++i_;
        return unit_node(c);
    }

    NodeP unit_node(uint32_t u) {
        auto n = make(Node::kUnit);
        n->value = u;
        return n;
    }

    NodeP set(Regex::Class cls) {
        auto n = make(Node::kSet);
        n->value = uint32_t(re_.classes_.size());
        re_.classes_.push_back(std::move(cls));
        return n;
    }

    // Parses an escape at p_[i_] == '\\'. Returns true when it is a class (filled into cls), else sets unit.
    bool escape(Regex::Class& cls, uint32_t& unit) {
        if (i_ + 1 >= p_.size()) fail("trailing backslash");
        const uint32_t e = p_[i_ + 1];
        switch (e) {
            case 's': cls.escapes |= kEscS; break;
            case 'S': cls.escapes |= kEscNotS; break;
            case 'd': cls.escapes |= kEscD; break;
            case 'D': cls.escapes |= kEscNotD; break;
            case 'w': cls.escapes |= kEscW; break;
            case 'W': cls.escapes |= kEscNotW; break;
            case 'r':
                unit = '\r';
                i_ += 2;
                return false;
            case 'n':
                unit = '\n';
                i_ += 2;
                return false;
            case 't':
                unit = '\t';
                i_ += 2;
                return false;
            case 'f':
                unit = '\f';
                i_ += 2;
                return false;
            case 'v':
                unit = '\v';
                i_ += 2;
                return false;
            case '0':
                unit = 0;
                i_ += 2;
                return false;
            default:
                if (is_word_unit(e)) fail("unsupported escape");
                unit = e;  // identity escape of a punctuation character
                i_ += 2;
                return false;
        }
        i_ += 2;
        return true;
    }

    NodeP bracket() {
        ++i_;  // '['
        Regex::Class cls;
        if (more() && peek() == '^') {
            cls.negate = true;
            ++i_;
        }
        bool first = true;
        while (true) {
            if (!more()) fail("unterminated [");
            if (peek() == ']' && !first) {
                ++i_;
                break;
            }
            first = false;
            uint32_t lo;
            if (!class_atom(cls, lo)) continue;  // a class escape, already added
            if (i_ + 1 < p_.size() && peek() == '-' && p_[i_ + 1] != ']') {
                ++i_;
                uint32_t hi;
                if (!class_atom(cls, hi)) fail("bad range");
                if (hi < lo) fail("bad range");
                cls.ranges.emplace_back(lo, hi);
            } else {
                cls.ranges.emplace_back(lo, lo);
            }
        }
        return set(std::move(cls));
    }

    // One member of a bracket: returns false for a class escape (added to cls), else the unit.
    bool class_atom(Regex::Class& cls, uint32_t& unit) {
        if (peek() == '\\') {
            if (i_ + 1 < p_.size() && p_[i_ + 1] == 'b') {  // backspace inside brackets
                unit = 0x08;
                i_ += 2;
                return true;
            }
            return !escape(cls, unit);
        }
        unit = p_[i_++];
        return true;
    }

    static bool nullable(const Node& n) {
        switch (n.kind) {
            case Node::kEmpty:
            case Node::kAssert:
            case Node::kLookahead: return true;
            case Node::kUnit:
            case Node::kSet:
            case Node::kAnyUnit: return false;
            case Node::kSeq:
                for (const auto& k : n.kids)
                    if (!nullable(*k)) return false;
                return true;
            case Node::kAlt:
                for (const auto& k : n.kids)
                    if (nullable(*k)) return true;
                return false;
            case Node::kRepeat: return n.min == 0 || nullable(*n.kids[0]);
        }
        return true;
    }

    int pc() const { return int(re_.prog_.size()); }
    int push(Regex::Inst in) {
        re_.prog_.push_back(in);
        return pc() - 1;
    }

    void emit(const Node& n) {
        auto& prog = re_.prog_;
        switch (n.kind) {
            case Node::kEmpty: break;
            case Node::kUnit: push({Regex::kChar, false, n.value}); break;
            case Node::kSet: push({Regex::kClass, false, n.value}); break;
            case Node::kAnyUnit: push({Regex::kAny}); break;
            case Node::kAssert: push({Regex::Op(n.value)}); break;
            case Node::kSeq:
                for (const auto& k : n.kids) emit(*k);
                break;
            case Node::kAlt: {
                std::vector<int> jumps;
                for (size_t k = 0; k < n.kids.size(); ++k) {
                    int split = -1;
                    if (k + 1 < n.kids.size()) split = push({Regex::kSplit});
                    if (split >= 0) prog[split].x = pc();
                    emit(*n.kids[k]);
                    if (k + 1 < n.kids.size()) {
                        jumps.push_back(push({Regex::kJump}));
                        prog[split].y = pc();
                    }
                }
                for (int j : jumps) prog[j].x = pc();
                break;
            }
            case Node::kLookahead: {
                const int look = push({Regex::kLook, n.negative});
                prog[look].x = pc();
                emit(*n.kids[0]);
                push({Regex::kMatch});
                prog[look].y = pc();
                break;
            }
            case Node::kRepeat: {
                const Node& body = *n.kids[0];
                if (n.max < 0 && nullable(body)) fail("a repeated sub-pattern that can match empty");
                for (int k = 0; k < n.min; ++k) emit(body);
                if (n.max < 0) {
                    const int split = push({Regex::kSplit, !n.greedy});
                    prog[split].x = pc();
                    emit(body);
                    const int back = push({Regex::kJump});
                    prog[back].x = split;
                    prog[split].y = pc();
                } else {
                    std::vector<int> splits;
                    for (int k = n.min; k < n.max; ++k) {
                        const int split = push({Regex::kSplit, !n.greedy});
                        prog[split].x = pc();
                        splits.push_back(split);
                        emit(body);
                    }
                    for (int s : splits) prog[s].y = pc();
                }
                break;
            }
        }
    }
};

Regex::Regex(const std::vector<uint32_t>& pattern) {
    RegexCompiler(*this, pattern).compile();
    compute_first_units();
}

void Regex::compute_first_units() {
    std::vector<char> seen(prog_.size(), 0);
    std::vector<int> todo{0};
    while (!todo.empty()) {
        const int pc = todo.back();
        todo.pop_back();
        if (seen[size_t(pc)]) continue;
        seen[size_t(pc)] = 1;
        const Inst& in = prog_[size_t(pc)];
        switch (in.op) {
            case kChar:
                if (in.c < 256)
                    first_[in.c] = true;
                else
                    first_high_ = true;
                break;
            case kClass:
                for (uint32_t u = 0; u < 256; ++u) first_[u] |= classes_[in.c].contains(u);
                first_high_ = true;  // conservatively
                break;
            case kAny:
                for (bool& f : first_) f = true;
                first_high_ = true;
                break;
            case kSplit: todo.push_back(in.x), todo.push_back(in.y); break;
            case kJump: todo.push_back(in.x); break;
            case kLook: todo.push_back(in.y); break;  // a lookahead consumes nothing
            case kMatch: nullable_ = true; break;
            default: todo.push_back(pc + 1); break;  // ^ $ \b \B consume nothing
        }
    }
}

std::string collapse_pattern(const std::string& re) {
    // llama.cpp's k_ucat_map: what each category becomes inside a bracket (its collapsed code + ASCII members)
    static const std::pair<const char*, std::string> kCategories[] = {
        {"\\p{N}", "\xD1\x30-\x39"},
        {"\\p{L}", "\xD2\x41-\x5A\x61-\x7A"},
        {"\\p{P}", "\xD3\x21-\x23\x25-\x2A\x2C-\x2F\x3A-\x3B\x3F-\x40\\\x5B-\\\x5D\x5F\\\x7B\\\x7D"},
        {"\\p{M}", "\xD4"},
        {"\\p{S}", "\xD5\\\x24\\\x2B\x3C-\x3E\x5E\x60\\\x7C\\\x7E"},
        {"\\p{Lu}", "\xD2\x41-\x5A\x61-\x7A"},
        {"\\p{Ll}", "\xD2\x41-\x5A\x61-\x7A"},
        {"\\p{Lt}", "\xD2\x41-\x5A\x61-\x7A"},
        {"\\p{Lm}", "\xD2\x41-\x5A\x61-\x7A"},
        {"\\p{Lo}", "\xD2\x41-\x5A\x61-\x7A"},
    };
    std::string out;
    bool inside = false;  // within [...]; llama.cpp's own bookkeeping, escapes judged by the previous char only
    for (size_t i = 0; i < re.size(); ++i) {
        if (re[i] == '[' && (i == 0 || re[i - 1] != '\\')) {
            out += '[';
            inside = true;
            continue;
        }
        if (inside && re[i] == ']' && re[i - 1] != '\\') {
            out += ']';
            inside = false;
            continue;
        }
        if (re[i] == '\\' && i + 3 < re.size() && re[i + 1] == 'p' && re[i + 2] == '{') {
            const size_t close = re.find('}', i + 3);
            if (close != std::string::npos && close <= i + 10) {
                const std::string name = re.substr(i, close - i + 1);
                const std::string* members = nullptr;
                for (const auto& c : kCategories)
                    if (name == c.first) members = &c.second;
                if (members) {
                    if (!inside) out += '[';
                    out += *members;
                    if (!inside) out += ']';
                    i = close;
                    continue;
                }
            }
        }
        out += re[i];
    }
    return out;
}

// Backtracking in priority order from pc at pos; the first accepting path wins (ECMAScript). tbegin is the begin of
// the current std::regex executor: the search attempt's start, or a lookahead's position (libstdc++ runs a
// lookahead as a sub-search beginning there, which is what ^, \b and match_not_null then see).
bool Regex::run(int pc0, const uint32_t* s, size_t tbegin, size_t end, size_t pos0, bool prev_avail, bool not_null,
                size_t /*start*/, size_t& mend) const {
    std::vector<std::pair<int, size_t>> stack;
    stack.emplace_back(pc0, pos0);
    while (!stack.empty()) {
        int pc = stack.back().first;
        size_t pos = stack.back().second;
        stack.pop_back();
        while (true) {
            const Inst& in = prog_[size_t(pc)];
            bool ok = true;
            switch (in.op) {
                case kChar:
                    ok = pos < end && s[pos] == in.c;
                    ++pos, ++pc;
                    break;
                case kClass:
                    ok = pos < end && classes_[in.c].contains(s[pos]);
                    ++pos, ++pc;
                    break;
                case kAny:
                    ok = pos < end && !is_line_terminator(s[pos]);
                    ++pos, ++pc;
                    break;
                case kSplit:
                    if (in.flag) {
                        stack.emplace_back(in.x, pos);
                        pc = in.y;
                    } else {
                        stack.emplace_back(in.y, pos);
                        pc = in.x;
                    }
                    break;
                case kJump: pc = in.x; break;
                case kMatch:
                    if (not_null && pos == tbegin) {
                        ok = false;
                        break;
                    }
                    mend = pos;
                    return true;
                case kBol:
                    ok = pos == tbegin && !prev_avail;
                    ++pc;
                    break;
                case kEol:
                    ok = pos == end;
                    ++pc;
                    break;
                case kWordB:
                case kNotWordB: {
                    const bool left = (pos != tbegin || prev_avail) && is_word_unit(s[pos - 1]);
                    const bool right = pos != end && is_word_unit(s[pos]);
                    ok = (left != right) == (in.op == kWordB);
                    ++pc;
                    break;
                }
                case kLook: {
                    size_t sub_end;
                    const bool found = run(in.x, s, pos, end, pos, prev_avail, not_null, pos, sub_end);
                    ok = found != in.flag;
                    pc = in.y;
                    break;
                }
            }
            if (!ok) break;
        }
    }
    return false;
}

bool Regex::search(const uint32_t* s, size_t begin, size_t end, size_t from, bool prev_avail, bool continuous,
                   bool not_null, size_t& mbegin, size_t& mend) const {
    (void)begin;
    for (size_t start = from;; ++start) {
        if (!nullable_ && !continuous) {  // skip to a unit that can begin a match
            while (start < end && (s[start] < 256 ? !first_[s[start]] : !first_high_)) ++start;
            if (start == end) return false;
        }
        // libstdc++ sets match_prev_avail itself for every start after the first
        const bool avail = prev_avail || start != from;
        if (run(0, s, start, end, start, avail, not_null, start, mend)) {
            mbegin = start;
            return true;
        }
        if (continuous || start == end) return false;
    }
}

void Regex::split(const uint32_t* s, size_t begin, size_t end, std::vector<size_t>& out) const {
    // mirrors std::regex_iterator: flags_prev_avail is its match_prev_avail flag, set from the second plain search on
    size_t done = begin;  // end of the last piece written
    size_t mb, me;
    bool flags_prev_avail = false;
    bool found = search(s, begin, end, begin, false, false, false, mb, me);
    while (found) {
        if (mb > done) out.push_back(mb - done);
        out.push_back(me - mb);
        done = me;
        size_t next = me;
        if (mb == me) {  // an empty match: retry there without empty matches, else move on one unit
            if (me == end) break;
            if (search(s, begin, end, me, flags_prev_avail, true, true, mb, me)) continue;
            ++next;
        }
        flags_prev_avail = true;
        found = search(s, begin, end, next, true, false, false, mb, me);
    }
    if (end > done) out.push_back(end - done);
}

}  // namespace lc::tok
