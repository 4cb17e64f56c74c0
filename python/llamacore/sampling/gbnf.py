"""llama.cpp's GBNF grammars for the constraint engine: parse (errors with their position), check that every rule the
root reaches can end, and translate to llguidance's Lark dialect.

The parser and translator are llguidance's own (llguidance.gbnf_to_lark, the converter llama.cpp's llguidance build
relies on); this module adds the checks llama.cpp makes at load time and errors that say where the grammar is wrong.
"""

from __future__ import annotations

import functools

import llguidance
from llguidance import gbnf_to_lark as _g2l


def _where(pos) -> str:
    """'line L, column C' of a gbnf_to_lark Position."""
    text, offset = pos.text, pos.pos
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _refs(node) -> list[str]:
    """Names of the rules a GBNF AST node refers to, in order."""
    if isinstance(node, _g2l.RuleRefNode):
        return [node.name]
    return [name for child in node.children() for name in _refs(child)]


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


def check_gbnf(text: str) -> None:
    """Raise ValueError when `text` is not a usable GBNF grammar: a syntax error (with line and column), a rule used
    but not defined, no `root` rule, or a rule reachable from root that can never end (e.g. `x ::= "a" x`), which
    would make generation run until the length limit."""
    try:
        rules = _g2l.GrammarParser().parse(text)
    except _g2l.GbnfToLarkError as e:
        message = str(e).split(" at line ")[0]
        context = str(e.pos).split(", ", 1)[-1]  # 'text before' ^ 'text after'
        raise ValueError(f"invalid GBNF grammar at {_where(e.pos)}: {message} ({context})") from None
    if "root" not in rules:
        raise ValueError("invalid GBNF grammar: no 'root' rule (generation starts at root)")
    reachable, todo = set(), ["root"]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        if name not in rules:
            raise ValueError(f"invalid GBNF grammar: rule '{name}' is used but not defined")
        reachable.add(name)
        todo.extend(_refs(rules[name]))
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


@functools.lru_cache(maxsize=256)
def gbnf_to_llguidance(text: str) -> str:
    """llguidance's grammar text for a GBNF grammar (or for a Lark grammar starting with `%llguidance`, which llama.cpp
    also accepts). Raises ValueError for an invalid grammar."""
    if not isinstance(text, str):
        raise TypeError(f"grammar must be a str, not {type(text).__name__}")
    if _g2l.is_lark_syntax(text):
        lark = text
    else:
        check_gbnf(text)
        try:
            lark = _g2l.gbnf_to_lark(text)
        except Exception as e:  # the converter raises bare Exception (e.g. two rules that map to the same Lark name)
            raise ValueError(f"invalid GBNF grammar: {e}") from None
    grammar = llguidance.LLMatcher.grammar_from_lark(lark)
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        raise ValueError(f"invalid grammar: {messages[0]}")
    return grammar
