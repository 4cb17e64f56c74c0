"""llama.cpp's GBNF grammars for the constraint engine: parse (errors with their position), check that every rule the
root reaches can end, and translate to llguidance's Lark dialect.

The parser is llguidance's (llguidance.gbnf_to_lark). The translation is ours (gbnf_lexemes.py): llguidance's own
turns every rule made only of text into a lexer token, which its greedy lexer commits to, so "3\n" in arithmetic.gbnf's
`num ::= [0-9]+ ws` swallows the newline the next rule needs and `"int"` in c.gbnf shadows an identifier "inty".
GBNF's meaning is character by character (llama.cpp keeps every parse alive); ours keeps that meaning and makes a rule
a lexer token only where greed provably loses no parse (JSON strings and numbers in json.gbnf, for example).
"""

from __future__ import annotations

import functools

import llguidance
from llguidance import gbnf_to_lark as _g2l

from .gbnf_lexemes import class_charset, decode_char, rule_refs, to_lark


def _where(pos) -> str:
    """'line L, column C' of a gbnf_to_lark Position."""
    text, offset = pos.text, pos.pos
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _can_end(node, productive: set[str]) -> bool:
    """Whether `node` derives some finite text, given the rules known to (`productive`)."""
    if isinstance(node, (_g2l.LiteralNode, _g2l.RegexNode)):
        return True
    if isinstance(node, _g2l.RuleRefNode):
        return node.name in productive
    if isinstance(node, _g2l.RepetitionNode):
        return node.min_times == 0 or _can_end(node.node, productive)
    if isinstance(node, _g2l.SequenceNode):
        return all(_can_end(n, productive) for n in node.nodes)
    if isinstance(node, _g2l.AlternativeNode):
        return any(_can_end(n, productive) for n in node.alternatives)
    if isinstance(node, _g2l.RuleNode):
        return _can_end(node.alternatives, productive)
    raise TypeError(f"unexpected GBNF node {type(node).__name__}")


class _CharLevelParser(_g2l.GrammarParser):
    """llguidance's GBNF parser, with each quoted literal kept as a sequence of one-character literals, and every
    one-character node annotated with its set of code points (`.charset`)."""

    def _parse_literal(self, pos):
        if pos.current() != '"':
            raise _g2l.GbnfToLarkError(pos, "Expected '\"'")
        pos = pos.advance()
        chars: list = []
        while True:
            c, pos = self._parse_char(pos)
            if c == '"':
                break
            node = _g2l.LiteralNode(c)
            code = decode_char(c)
            node.charset = ((code, code),)
            chars.append(node)
        return (chars[0] if len(chars) == 1 else _g2l.SequenceNode(chars)), pos

    def _parse_char_class(self, pos):
        node, end = super()._parse_char_class(pos)
        items, p = [], pos.advance()  # the characters again, as _parse_char gives them, up to the closing bracket
        while True:
            c, p = self._parse_char(p)
            if c == "]":
                break
            items.append(c)
        node.charset = class_charset(items)
        return node, end


def _check_repetitions(rule: str, node) -> None:
    if isinstance(node, _g2l.RepetitionNode) and node.max_times is not None and node.max_times < node.min_times:
        raise ValueError(
            f"invalid GBNF grammar: rule '{rule}' repeats {{{node.min_times},{node.max_times}}}: max < min"
        )
    for child in node.children():
        _check_repetitions(rule, child)


def parse_gbnf(text: str) -> dict:
    """GBNF text -> {rule name: llguidance RuleNode}, checked: raises ValueError for a syntax error (with line and
    column), a rule used but not defined, no `root` rule, or a rule reachable from root that can never end (e.g.
    `x ::= "a" x`), which would make generation run until the length limit."""
    try:
        rules = _CharLevelParser().parse(text)
    except _g2l.GbnfToLarkError as e:
        message = str(e).split(" at line ")[0]
        context = str(e.pos).split(", ", 1)[-1]  # 'text before' ^ 'text after'
        raise ValueError(f"invalid GBNF grammar at {_where(e.pos)}: {message} ({context})") from None
    if "root" not in rules:
        raise ValueError("invalid GBNF grammar: no 'root' rule (generation starts at root)")
    for name, rule in rules.items():
        _check_repetitions(name, rule.alternatives)
    reachable, todo = set(), ["root"]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        if name not in rules:
            raise ValueError(f"invalid GBNF grammar: rule '{name}' is used but not defined")
        reachable.add(name)
        todo.extend(rule_refs(rules[name]))
    productive: set[str] = set()
    changed = True
    while changed:  # least fixed point: a rule can end if one of its alternatives can with what is known so far
        changed = False
        for name in reachable - productive:
            if _can_end(rules[name], productive):
                productive.add(name)
                changed = True
    endless = sorted(reachable - productive)
    if endless:
        names = ", ".join(f"'{n}'" for n in endless)
        raise ValueError(f"GBNF grammar can never end: rule(s) {names} have no finite derivation")
    return {name: rules[name] for name in rules if name in reachable}


@functools.lru_cache(maxsize=256)
def gbnf_to_llguidance(text: str) -> str:
    """llguidance's grammar text for a GBNF grammar (or for a Lark grammar starting with `%llguidance`, which llama.cpp
    also accepts). Raises ValueError for an invalid grammar."""
    if not isinstance(text, str):
        raise TypeError(f"grammar must be a str, not {type(text).__name__}")
    lark = text if _g2l.is_lark_syntax(text) else to_lark(parse_gbnf(text))
    grammar = llguidance.LLMatcher.grammar_from_lark(lark)
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        raise ValueError(f"invalid grammar: {messages[0]}")
    return grammar
