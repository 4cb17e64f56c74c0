"""Which GBNF rules may become llguidance lexemes without changing what the grammar accepts, and the Lark text.

llguidance is fast when text runs are lexemes (a JSON string body is one regex, its masks come from precomputed token
sets) and slow when every character is a grammar symbol (an Earley step per byte of every token tried: json.gbnf
costs ~3 ms per token on a 49k vocabulary). But its lexer is greedy and commits to the longest lexeme, while GBNF keeps
every parse alive, so a rule may become a lexeme only when greed cannot lose a parse. A rule T is promoted when:
  1. T is regular (only characters and other regular rules, no recursion) and cannot be empty;
  2. no character that can extend a complete T (EXT, from T's automaton) can follow T anywhere (FOLLOW): then the
     longest match is the only match the rest of the grammar can use;
  3. no character that can start T (FIRST) can be consumed by anything else where T may start: conservatively, by no
     character-level symbol anywhere and by no other promoted lexeme.
Everything else stays character-level (each literal split into single characters), which is GBNF's own meaning.
"""

from __future__ import annotations

import re

from llguidance import gbnf_to_lark as _g2l

MAX_CODE_POINT = 0x10FFFF
_MAX_UNROLL = 64  # bounded repetitions up to this are unrolled in the automaton; beyond, treated as unbounded

# ---- character sets: sorted, disjoint, non-adjacent inclusive (lo, hi) ranges ----
CharSet = tuple[tuple[int, int], ...]
EMPTY: CharSet = ()
ANY: CharSet = ((0, MAX_CODE_POINT),)


def charset(ranges) -> CharSet:
    out: list[list[int]] = []
    for lo, hi in sorted((min(a, b), max(a, b)) for a, b in ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def union(*sets: CharSet) -> CharSet:
    return charset([r for s in sets for r in s])


def complement(s: CharSet) -> CharSet:
    out, start = [], 0
    for lo, hi in s:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_CODE_POINT:
        out.append((start, MAX_CODE_POINT))
    return tuple(out)


def intersects(a: CharSet, b: CharSet) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][1] < b[j][0]:
            i += 1
        elif b[j][1] < a[i][0]:
            j += 1
        else:
            return True
    return False


def decode_char(token: str) -> int:
    """The code point of one character as gbnf_to_lark's _parse_char returns it (raw, or a Lark escape)."""
    if len(token) == 1:
        return ord(token)
    kind = token[1]
    if kind in "nrt":
        return {"n": 10, "r": 13, "t": 9}[kind]
    if kind in "xuU":
        return int(token[2:] or "0", 16)
    return ord(kind)  # \" \\ \[ \] \/


def class_charset(items: list[str]) -> CharSet:
    """The set of a GBNF character class from its characters as _parse_char returns them (without the brackets)."""
    negate = bool(items) and items[0] == "^"
    if negate:
        items = items[1:]
    ranges, i = [], 0
    while i < len(items):
        lo = decode_char(items[i])
        if i + 2 < len(items) and items[i + 1] == "-":
            ranges.append((lo, decode_char(items[i + 2])))
            i += 3
        else:
            ranges.append((lo, lo))
            i += 1
    s = charset(ranges)
    return complement(s) if negate else s


def node_charset(node) -> CharSet:
    """A one-character node's set (literals are split into one-character literals by the parser)."""
    s = getattr(node, "charset", None)
    if s is None:  # "." (any character) and anything not annotated: the widest set is the safe answer
        return ANY
    return s


# ---- grammar analysis ----


def _is_char(node) -> bool:
    return isinstance(node, (_g2l.LiteralNode, _g2l.RegexNode))


class Analysis:
    """nullable / FIRST / FOLLOW of the rules, and which rules are regular."""

    def __init__(self, rules: dict):
        self.rules = rules
        self.null: dict[str, bool] = dict.fromkeys(rules, False)
        self.first_of: dict[str, CharSet] = dict.fromkeys(rules, EMPTY)
        changed = True
        while changed:
            changed = False
            for name, rule in rules.items():
                n, f = self.nullable(rule.alternatives), self.first(rule.alternatives)
                if n != self.null[name] or f != self.first_of[name]:
                    self.null[name], self.first_of[name] = n, f
                    changed = True
        self.follow_of: dict[str, CharSet] = dict.fromkeys(rules, EMPTY)
        changed = True
        while changed:
            before = dict(self.follow_of)
            for name, rule in rules.items():
                self._follow(rule.alternatives, self.follow_of[name])
            changed = before != self.follow_of
        self.regular = self._regular()

    def nullable(self, node) -> bool:
        if _is_char(node):
            return False
        if isinstance(node, _g2l.RuleRefNode):
            return self.null[node.name]
        if isinstance(node, _g2l.RepetitionNode):
            return node.min_times == 0 or self.nullable(node.node)
        if isinstance(node, _g2l.SequenceNode):
            return all(self.nullable(n) for n in node.nodes)
        return any(self.nullable(n) for n in node.alternatives)  # AlternativeNode

    def first(self, node) -> CharSet:
        if _is_char(node):
            return node_charset(node)
        if isinstance(node, _g2l.RuleRefNode):
            return self.first_of[node.name]
        if isinstance(node, _g2l.RepetitionNode):
            return self.first(node.node) if node.max_times != 0 else EMPTY
        if isinstance(node, _g2l.SequenceNode):
            return self.first_seq(node.nodes)
        return union(*(self.first(n) for n in node.alternatives))

    def first_seq(self, nodes) -> CharSet:
        out = EMPTY
        for n in nodes:
            out = union(out, self.first(n))
            if not self.nullable(n):
                break
        return out

    def _follow(self, node, after: CharSet) -> None:
        """Record, for every rule referenced inside `node`, that `after` may follow it."""
        if isinstance(node, _g2l.RuleRefNode):
            self.follow_of[node.name] = union(self.follow_of[node.name], after)
        elif isinstance(node, _g2l.RepetitionNode):
            repeats = node.max_times is None or node.max_times > 1
            self._follow(node.node, union(self.first(node.node), after) if repeats else after)
        elif isinstance(node, _g2l.SequenceNode):
            for i, n in enumerate(node.nodes):
                rest = node.nodes[i + 1 :]
                tail = self.first_seq(rest)
                self._follow(n, union(tail, after) if all(self.nullable(r) for r in rest) else tail)
        elif isinstance(node, _g2l.AlternativeNode):
            for n in node.alternatives:
                self._follow(n, after)

    def _regular(self) -> set[str]:
        """Rules made only of characters and regular rules, without recursion."""
        state: dict[str, bool | None] = {}  # None while being visited (a cycle means not regular)

        def visit(name: str) -> bool:
            if name in state:
                return bool(state[name])
            state[name] = None
            ok = all(visit(r) for r in rule_refs(self.rules[name].alternatives))
            state[name] = ok
            return ok

        return {name for name in self.rules if visit(name)}


def rule_refs(node) -> list[str]:
    """Names of the rules a GBNF AST node refers to, in order."""
    if isinstance(node, _g2l.RuleRefNode):
        return [node.name]
    return [name for child in node.children() for name in rule_refs(child)]


def _chars(node) -> list:
    """The one-character nodes directly in `node` (not inside referenced rules)."""
    if _is_char(node):
        return [node]
    return [c for child in node.children() for c in _chars(child)]


# ---- EXT: characters that extend a complete match, from a small automaton ----


class _NFA:
    def __init__(self, rules: dict):
        self.rules = rules
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[CharSet, int]]] = []

    def state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def build(self, node) -> tuple[int, int]:
        s, t = self.state(), self.state()
        if _is_char(node):
            self.edges[s].append((node_charset(node), t))
        elif isinstance(node, _g2l.RuleRefNode):
            a, b = self.build(self.rules[node.name].alternatives)
            self.eps[s].append(a)
            self.eps[b].append(t)
        elif isinstance(node, _g2l.SequenceNode):
            cur = s
            for n in node.nodes:
                a, b = self.build(n)
                self.eps[cur].append(a)
                cur = b
            self.eps[cur].append(t)
        elif isinstance(node, _g2l.AlternativeNode):
            for n in node.alternatives:
                a, b = self.build(n)
                self.eps[s].append(a)
                self.eps[b].append(t)
        else:  # RepetitionNode
            lo, hi = node.min_times, node.max_times
            if hi is not None and hi > _MAX_UNROLL:
                hi = None
            lo = min(lo, _MAX_UNROLL)
            cur = s
            for _ in range(lo):
                a, b = self.build(node.node)
                self.eps[cur].append(a)
                cur = b
            if hi is None:  # loop
                a, b = self.build(node.node)
                self.eps[cur].append(a)
                self.eps[b].append(cur)
                self.eps[cur].append(t)
            else:
                for _ in range(hi - lo):
                    a, b = self.build(node.node)
                    self.eps[cur].append(a)
                    self.eps[cur].append(t)
                    cur = b
                self.eps[cur].append(t)
        return s, t

    def closure(self, states) -> frozenset[int]:
        seen, todo = set(states), list(states)
        while todo:
            for n in self.eps[todo.pop()]:
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return frozenset(seen)


def extension_chars(rules: dict, name: str) -> CharSet:
    """EXT of a regular rule: characters c such that some complete match w has wc as a prefix of a match."""
    nfa = _NFA(rules)
    start, final = nfa.build(rules[name].alternatives)
    cuts = sorted(
        {lo for e in nfa.edges for cs, _ in e for lo, _ in cs}
        | {hi + 1 for e in nfa.edges for cs, _ in e for _, hi in cs}
        | {0}
    )
    atoms = [(lo, (cuts[i + 1] - 1) if i + 1 < len(cuts) else MAX_CODE_POINT) for i, lo in enumerate(cuts)]
    atoms = [a for a in atoms if a[0] <= MAX_CODE_POINT]
    out: list[tuple[int, int]] = []
    first = nfa.closure([start])
    seen, todo = {first}, [first]
    while todo:
        d = todo.pop()
        for lo, hi in atoms:
            nxt = nfa.closure([t for s in d for cs, t in nfa.edges[s] if intersects(cs, ((lo, lo),))])
            if not nxt:
                continue
            if final in d:
                out.append((lo, hi))
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return charset(out)


# ---- choice and emission ----


def promoted_rules(rules: dict) -> set[str]:
    """The rules that become llguidance lexemes (see the module docstring)."""
    a = Analysis(rules)
    candidates = {
        name
        for name in a.regular
        if name != "root" and not a.null[name] and not intersects(extension_chars(rules, name), a.follow_of[name])
    }
    while True:
        # character-level symbols: the one-character nodes of every rule reached from root without entering a lexeme
        lower, todo = set(), ["root"]
        while todo:
            name = todo.pop()
            if name in lower or name in candidates:
                continue
            lower.add(name)
            todo.extend(rule_refs(rules[name].alternatives))
        char_level = union(*(node_charset(c) for name in lower for c in _chars(rules[name].alternatives)))
        used = {r for name in lower for r in rule_refs(rules[name].alternatives) if r in candidates}
        keep = set()
        for name in used:
            others = union(*(a.first_of[o] for o in used if o != name))
            if not intersects(a.first_of[name], char_level) and not intersects(a.first_of[name], others):
                keep.add(name)
        if keep == used:
            return keep
        candidates = keep


def to_lark(rules: dict) -> str:
    """llguidance Lark text: promoted rules (and the regular rules inside them) as terminals, the rest as rules."""
    promoted = promoted_rules(rules)
    order = {name: i for i, name in enumerate(rules)}

    def lower_name(name: str) -> str:
        return "start" if name == "root" else f"r{order[name]}_{re.sub('[^a-z0-9]', '_', name.lower())}"

    def term_name(name: str) -> str:
        return f"T{order[name]}_{re.sub('[^A-Z0-9]', '_', name.upper())}"

    def expr(node, terminal: bool) -> str:
        if isinstance(node, _g2l.RuleRefNode):
            return term_name(node.name) if terminal or node.name in promoted else lower_name(node.name)
        if isinstance(node, _g2l.RegexNode) and node.rx == ".":
            return "/(?s:.)/"  # GBNF's "." is any character, newline included
        if _is_char(node):
            return str(node)
        if isinstance(node, _g2l.RepetitionNode):
            lo, hi = node.min_times, node.max_times
            suffix = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((lo, hi), f"{{{lo},{'' if hi is None else hi}}}")
            return f"({expr(node.node, terminal)}){suffix}"
        if isinstance(node, _g2l.SequenceNode):
            return " ".join(expr(n, terminal) for n in node.nodes) if node.nodes else '""'
        return "(" + " | ".join(expr(n, terminal) for n in node.alternatives) + ")"

    lower, terminals, todo = [], set(), ["root"]
    while todo:
        name = todo.pop()
        if name in lower:
            continue
        lower.append(name)
        todo.extend(r for r in rule_refs(rules[name].alternatives) if r not in promoted)
    todo = [r for name in lower for r in rule_refs(rules[name].alternatives) if r in promoted]
    while todo:
        name = todo.pop()
        if name not in terminals:
            terminals.add(name)
            todo.extend(rule_refs(rules[name].alternatives))
    out = ["%llguidance {}"]
    out += [f"{lower_name(n)}: {expr(rules[n].alternatives, False)}" for n in sorted(lower, key=order.get)]
    out += [f"{term_name(n)}: {expr(rules[n].alternatives, True)}" for n in sorted(terminals, key=order.get)]
    return "\n".join(out) + "\n"
