"""Grammar constraints (llamacore.sampling.grammar): llama.cpp's example grammars parse and constrain generation on the
real models, token masks agree with a brute-force check of every token, errors name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llamacore.sampling.grammar import (
    GrammarConstraint,
    LlamaGrammar,
    TokenConstraint,
    grammar_from_response_format,
    json_schema_constraint,
    response_format_constraint,
)
from llamacore.tokenizer import Tokenizer

regex = pytest.importorskip("regex")

GRAMMARS = Path(__file__).parent / "data" / "grammars"
LLAMA_CPP_GRAMMARS = ["arithmetic", "c", "chess", "english", "japanese", "json", "json_arr", "list"]

# Text each grammar accepts (complete) and text it must refuse (the refused token is somewhere in it).
VALID = {
    "arithmetic": "x = 3\n(a+1)*b2 = (c)\n",
    "c": "int main(){int x = 1;while(x<10){x = x+1;}return x;}",
    "chess": "1. e4 e5\n2. Nf3 Nc6\n3. Bb5 a6\n",
    "english": "Hello world, this is fine!",
    "japanese": "こんにちは 世界",
    "json": '{"a": [1, 2.5, "x"], "b": {"c": true}}',
    "json_arr": '[\n{"a": 1},\n"b"]',
    "list": "- one\n- two items\n",
}
INVALID = {
    "arithmetic": "x == 3\n",
    "c": "int main(){x = = 1;}",
    "chess": "1. e9 e5\n",
    "english": "Hello  world",
    "japanese": "hello",
    "json": '{"a": tru}',
    "json_arr": "[1, 2]",
    "list": "* one\n",
}


@pytest.fixture(scope="module")
def smollm2_tok(smollm2_path) -> Tokenizer:
    return Tokenizer.from_gguf(smollm2_path)


@pytest.fixture(scope="module")
def gemma3_tok(gemma3_path) -> Tokenizer:
    return Tokenizer.from_gguf(gemma3_path)


def feed(constraint: TokenConstraint, tokens: list[int]) -> None:
    """Accept `tokens` one by one, checking each against the mask first."""
    for t in tokens:
        mask = constraint.allowed()
        assert mask[t], f"token {t} refused by the mask"
        constraint.accept(t)


def generate(
    engine,
    tokenizer: Tokenizer,
    prompt: str,
    constraint: TokenConstraint | None,
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
) -> tuple[str, str, list[int]]:
    """The generation loop of these tests: decode, mask, sample; returns (text, finish reason, tokens)."""
    rng = np.random.default_rng(seed)
    engine.kv_clear()
    ids = tokenizer.tokenize(prompt, add_bos=True)
    logits = engine.decode(np.asarray(ids, np.int32), np.arange(len(ids)))[0]
    out: list[int] = []
    finish = "length"
    for _ in range(max_tokens):
        if constraint is not None and constraint.is_finished():
            finish = "stop"
            break
        z = logits.astype(np.float64) / temperature
        if constraint is not None:
            mask = constraint.allowed()
            assert mask.shape == (tokenizer.n_vocab(),) and mask.dtype == np.bool_
            z = np.where(mask[: z.shape[0]], z, -np.inf)
        p = np.exp(z - z.max())
        token = int(rng.choice(p.shape[0], p=p / p.sum()))
        if constraint is not None:
            constraint.accept(token)
        if tokenizer.is_eog(token):
            finish = "stop"
            break
        out.append(token)
        pos = len(ids) + len(out) - 1
        logits = engine.decode(np.asarray([token], np.int32), np.asarray([pos]))[0]
    return tokenizer.detokenize(out).decode("utf-8", "replace"), finish, out


# ---- llama.cpp's grammars ----


@pytest.mark.parametrize("name", LLAMA_CPP_GRAMMARS)
def test_llama_cpp_grammar_accepts_and_refuses(name, smollm2_tok, gemma3_tok):
    grammar = LlamaGrammar.from_file(GRAMMARS / f"{name}.gbnf")
    assert grammar.kind == "gbnf"
    for tok in (smollm2_tok, gemma3_tok):
        c = grammar.constraint(tok)
        assert isinstance(c, TokenConstraint)
        feed(c, tok.tokenize(VALID[name], add_bos=False))
        assert c.is_accepting(), name
        eog = sorted(tok.eog_tokens())
        assert c.allowed()[eog].all()  # complete: the end tokens are allowed
        c.accept(eog[0])
        assert c.is_finished()

        c = grammar.constraint(tok)
        bad = tok.tokenize(INVALID[name], add_bos=False)
        refused = False
        for t in bad:
            if not c.allowed()[t]:
                with pytest.raises(ValueError, match="not allowed"):
                    c.accept(t)
                refused = True
                break
            c.accept(t)
        assert refused or not c.is_accepting(), name


def test_end_tokens_only_when_complete(smollm2_tok):
    c = LlamaGrammar.from_string('root ::= "ab" "c"?').constraint(smollm2_tok)
    eog = sorted(smollm2_tok.eog_tokens())
    assert not c.allowed()[eog].any() and not c.is_accepting()
    with pytest.raises(ValueError, match="not allowed"):
        c.accept(eog[0])
    feed(c, smollm2_tok.tokenize("ab", add_bos=False))
    assert c.is_accepting() and not c.is_finished() and c.allowed()[eog].all()
    feed(c, smollm2_tok.tokenize("c", add_bos=False))
    assert c.is_finished()
    assert np.flatnonzero(c.allowed()).tolist() == eog  # nothing but the end can follow


@pytest.mark.parametrize("name", LLAMA_CPP_GRAMMARS)
def test_llama_cpp_grammar_constrains_generation(name, smollm2_path, smollm2_tok):
    """Sampled text under each grammar is accepted by the grammar's regex twin / stays a valid prefix."""
    from llamacore.engine import Engine

    grammar = LlamaGrammar.from_file(GRAMMARS / f"{name}.gbnf")
    with Engine(smollm2_path, n_ctx=256) as engine:
        c = grammar.constraint(smollm2_tok)
        text, finish, tokens = generate(engine, smollm2_tok, "Example:\n", c, max_tokens=40, temperature=1.0, seed=1)
    # the same tokens fed to a fresh constraint are all accepted, and a finished text is complete
    again = grammar.constraint(smollm2_tok)
    feed(again, tokens)
    if finish == "stop":
        assert again.is_accepting()
    if name in PATTERNS:
        whole = smollm2_tok.detokenize(tokens).decode("utf-8", "ignore")  # a length-cut text may end mid-character
        assert regex.fullmatch(PATTERNS[name], whole, partial=finish != "stop"), (name, text)
    if name == "json" and finish == "stop":
        assert isinstance(json.loads(text), dict)


# ---- brute force: every token's text tried against the grammar ----

# Regular grammars of llama.cpp written as regexes (an oracle independent of the engine): regex's partial matching
# says whether a text can still be completed.
PATTERNS = {
    "chess": (
        r"1\. (?&m) (?&m)\n(?:[1-9][0-9]?\. (?&m) (?&m)\n)+"
        r"(?(DEFINE)(?<m>(?:(?:[a-h]x)?[a-h][1-8](?:=[NBKQR])?|[NBKQR][a-h]?[1-8]?x?[a-h][1-8]|O-O(?:-O)?)[+#]?))"
    ),
    "english": r"[a-zA-Z0-9!-/:-@\[-`{-~]+(?:[ \t\n][a-zA-Z0-9!-/:-@\[-`{-~]+)*",
    "japanese": r"[ぁ-ゟァ-ヿ、-〾一-鿿]+(?:[ \t\n][ぁ-ゟァ-ヿ、-〾一-鿿]+)*",
    "list": r"(?:- [^\r\n\x0b\x0c\x85\u2028\u2029]+\n)+",
}


def _viable(pattern: str, data: bytes) -> bool | None:
    """Whether `data` can begin a text of `pattern` (None when it ends inside a UTF-8 character: not judged here)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start >= len(data) - 3 and e.reason == "unexpected end of data":
            return None
        return False
    return regex.fullmatch(pattern, text, partial=True) is not None


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_mask_matches_brute_force(name, smollm2_tok, gemma3_tok):
    grammar = LlamaGrammar.from_file(GRAMMARS / f"{name}.gbnf")
    pattern = regex.compile(PATTERNS[name])
    rng = np.random.default_rng(0)
    for tok in (smollm2_tok, gemma3_tok):
        n = tok.n_vocab()
        # SmolLM2: every token; Gemma-3 (262k): every byte-fallback token and a random fifth of the rest
        ids = (
            np.arange(n)
            if n < 100_000
            else np.unique(np.concatenate([np.arange(238, 494), rng.integers(0, n, n // 5)]))
        )
        pieces = {int(t): tok.token_to_piece(int(t)) for t in ids}
        # special: control/unknown/unused, and user-defined tokens that look like control tokens (Gemma's "<td>")
        special = {
            int(t)
            for t in ids
            if tok.token_attr(int(t)) & (1 | 2 | 8)
            or (tok.token_attr(int(t)) & 16 and pieces[int(t)][:1] == b"<" and pieces[int(t)][-1:] == b">")
        }
        prefix_text = VALID[name][: len(VALID[name]) * 2 // 3]
        for prefix in ("", prefix_text[:1], prefix_text):
            c = grammar.constraint(tok)
            feed(c, tok.tokenize(prefix, add_bos=False))
            mask = c.allowed()
            base = prefix.encode()
            judged, missing = 0, []
            for t, piece in pieces.items():
                if t in tok.eog_tokens():
                    want = pattern.fullmatch(prefix) is not None
                elif t in special or not piece:
                    want = False
                else:
                    want = _viable(pattern, base + piece)
                    if want is None:
                        continue
                judged += 1
                assert want or not mask[t], ("allowed but invalid", name, tok, prefix, t, piece)
                if want and not mask[t]:
                    missing.append(piece)
            # Where the grammar forces text (chess's "1. "), the engine allows only the model's own tokenization of
            # it, not every token that is a prefix of it: the refused tokens are then prefixes of one text.
            missing.sort(key=len)
            assert all(missing[-1].startswith(p) for p in missing[:-1]), (name, tok, prefix, missing[:20])
            assert judged > len(pieces) * 0.9


def test_byte_fallback_tokens_spell_characters(gemma3_tok):
    """Gemma-3 (SPM): a character spelled with <0xNN> byte tokens is accepted byte by byte; a bad byte is refused."""
    c = LlamaGrammar.from_file(GRAMMARS / "japanese.gbnf").constraint(gemma3_tok)
    byte_token = {gemma3_tok.token_to_piece(t): t for t in range(238, 494)}
    for b in "ぁ".encode():
        t = byte_token[bytes([b])]
        assert c.allowed()[t]
        c.accept(t)
    assert c.is_accepting()
    assert not c.allowed()[byte_token[b"a"]]
    assert not c.allowed()[byte_token[b"\x80"]]  # a continuation byte cannot start a character


def test_spm_space_pieces(gemma3_tok):
    """SentencePiece's U+2581 is a space to the grammar: " world" is one token and allowed after "hello"."""
    c = LlamaGrammar.from_string('root ::= "hello" " world"').constraint(gemma3_tok)
    feed(c, gemma3_tok.tokenize("hello", add_bos=False))
    (t,) = gemma3_tok.tokenize(" world", add_bos=False)
    assert gemma3_tok.token_text(t).startswith("\u2581".encode())
    assert c.allowed()[t]


# ---- errors ----


@pytest.mark.parametrize(
    "text, message",
    [
        ('root ::= "a', r"line 1, column 12"),
        ('root ::= "x"\nfoo ::= "a" (', r"line 2, column 14.*Expected '\)'"),
        ("root ::= [a-", r"line 1, column 13"),
        ('root ::= foo "x"', r"rule 'foo' is used but not defined"),
        ('x ::= "a"', r"no 'root' rule"),
        ('root ::= "a" root', r"can never end.*'root'"),
        ('root ::= "a"{2,1}', r"max < min"),
        ('root ::= "\\q"', r"line 1, column 12: Invalid escape"),
        ("root ::= <tool_call>", r"line 1, column 10"),
        ('root ::= "a" | "b" x\nx ::= "c" x', r"can never end.*'x'"),
    ],
)
def test_invalid_gbnf(text, message):
    with pytest.raises(ValueError, match=message):
        LlamaGrammar.from_string(text)


def test_unreachable_rules_and_lark():
    LlamaGrammar.from_string('root ::= "a"\nunused ::= "b" unused')  # not reachable from root: harmless
    g = LlamaGrammar.from_string('%llguidance {}\nstart: "yes" | "no"')  # llguidance's Lark, as llama.cpp allows
    assert g.kind == "gbnf"


def test_grammar_file_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        LlamaGrammar.from_file(tmp_path / "missing.gbnf")
    (tmp_path / "empty.gbnf").write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        LlamaGrammar.from_file(tmp_path / "empty.gbnf")
    with pytest.raises(TypeError):
        LlamaGrammar.from_string(b'root ::= "a"')


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"not": {"type": "string"}}, r'"not"'),
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"if": {"type": "string"}, "then": {"minLength": 2}}, '"if"'),
        ({"type": "string", "format": "color"}, "format: color"),
        ({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 2}]}, "oneOf"),
        ({"$ref": "#/$defs/missing"}, "missing"),
        ({"type": "string", "pattern": "(a"}, "unclosed group"),
        ('{"type": ', "not valid JSON"),
        (False, "accepts no value"),
    ],
)
def test_invalid_schema(schema, message):
    with pytest.raises(ValueError, match=message):
        LlamaGrammar.from_json_schema(schema)


def test_schema_type_errors():
    with pytest.raises(TypeError):
        LlamaGrammar.from_json_schema(5)
    with pytest.raises(TypeError):
        json_schema_constraint({"type": "object"}, "not a tokenizer")


def test_response_format(smollm2_tok):
    tok = smollm2_tok
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert response_format_constraint({"type": "text"}, tok) is None
    assert grammar_from_response_format(None) is None
    for rf in (
        {"type": "json_object"},
        {"type": "json_object", "schema": schema},
        {"type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": True}},
        {"type": "json_schema", "json_schema": {"name": "any"}},
    ):
        c = response_format_constraint(rf, tok)
        assert isinstance(c, GrammarConstraint)
        feed(c, tok.tokenize('{"n": 7}', add_bos=False))
        assert c.is_accepting()
    c = response_format_constraint({"type": "json_object", "schema": schema}, tok)
    feed(c, tok.tokenize("{", add_bos=False))
    assert not c.allowed()[tok.tokenize("}", add_bos=False)[0]]  # "n" is required
    for bad, err in (
        ({"type": "xml"}, ValueError),
        ({"type": "json_schema"}, ValueError),
        ({"type": "json_schema", "json_schema": {"name": 3, "schema": {}}}, ValueError),
        ("json_object", TypeError),
    ):
        with pytest.raises(err):
            grammar_from_response_format(bad)


def test_json_object_closes_listed_properties(smollm2_tok):
    """Like llama.cpp: properties listed and additionalProperties unsaid means no other keys; said, it is obeyed."""
    tok = smollm2_tok
    closed = json_schema_constraint({"type": "object", "properties": {"a": {"type": "integer"}}}, tok)
    with pytest.raises(AssertionError):
        feed(closed, tok.tokenize('{"a": 1, "b": 2}', add_bos=False))
    open_ = json_schema_constraint(
        {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": True}, tok
    )
    feed(open_, tok.tokenize('{"a": 1, "b": 2}', add_bos=False))
    assert open_.is_accepting()


def test_whitespace_is_bounded(smollm2_tok):
    c = json_schema_constraint(None, smollm2_tok)
    feed(c, smollm2_tok.tokenize("{", add_bos=False))
    (space,) = smollm2_tok.tokenize(" ", add_bos=False)
    c.accept(space)
    assert not c.allowed()[space]  # one space, not a run of them


def test_constraint_states_are_independent(smollm2_tok):
    g = LlamaGrammar.from_string('root ::= "a" "b"*')
    one, two = g.constraint(smollm2_tok), g.constraint(smollm2_tok)
    feed(one, smollm2_tok.tokenize("abb", add_bos=False))
    assert one.is_accepting() and not two.is_accepting()
    assert not two.allowed()[smollm2_tok.tokenize("b", add_bos=False)[0]]
    with pytest.raises(ValueError, match="out of range"):
        one.accept(smollm2_tok.n_vocab())


def _tiny_spm() -> Tokenizer:
    """A SentencePiece vocabulary without byte fallback: it cannot spell "c"; it adds a space in front of text."""
    tokens = ["<unk>", "<s>", "</s>", "a", "b", "\u2581a"]
    return Tokenizer.from_metadata(
        {
            "tokenizer.ggml.model": "llama",
            "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.scores": [0.0, 0.0, 0.0, -1.0, -2.0, -3.0],
            "tokenizer.ggml.token_type": [2, 3, 3, 1, 1, 1],
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
            "tokenizer.ggml.unknown_token_id": 0,
        }
    )


def test_inexpressible_grammar_is_an_error_at_construction():
    tok = _tiny_spm()
    with pytest.raises(ValueError, match="no token of this model can continue"):
        LlamaGrammar.from_string('root ::= "c"').constraint(tok)
    c = LlamaGrammar.from_string('root ::= "a" "c"').constraint(tok)  # a dead end found later is an error too
    c.accept(3)
    with pytest.raises(ValueError, match="no token of this model can continue"):
        c.allowed()


def test_forced_text_uses_exact_pieces():
    """Forced text "a" is the token "a", not the tokenizer's " a" (it adds a space in front of the text)."""
    tok = _tiny_spm()
    assert tok.tokenize("a", add_bos=False) == [5]
    for text, want in (
        ('root ::= "a"', [3]),
        ('root ::= "b"', [4]),
        ('root ::= "a" " a"', [3]),
        ("root ::= [ab]+", [3, 4]),
    ):
        assert np.flatnonzero(LlamaGrammar.from_string(text).constraint(tok).allowed()).tolist() == want, text


def test_schema_properties_in_schema_order(smollm2_tok):
    tok = smollm2_tok
    schema = {"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}}}
    c = json_schema_constraint({**schema, "required": ["zeta", "alpha"]}, tok)
    feed(c, tok.tokenize('{"zeta": 1, "alpha": 2}', add_bos=False))
    assert c.is_accepting()
    c = json_schema_constraint({**schema, "required": ["zeta", "alpha"]}, tok)
    with pytest.raises(AssertionError):
        feed(c, tok.tokenize('{"alpha": 2, "zeta": 1}', add_bos=False))


# ---- which rules become lexer tokens (speed) without changing what the grammar accepts ----


def _accepts(text: str, gbnf: str, tok: Tokenizer) -> bool:
    """Whether the grammar accepts `text` as the model tokenizes it (tokens cross lexeme boundaries: "inty" is
    "int" + "y"). Not byte by byte: where a grammar forces text, only the model's own tokenization of it is allowed."""
    c = LlamaGrammar.from_string(gbnf).constraint(tok)
    for t in tok.tokenize(text, add_bos=False):
        if not c.allowed()[t]:
            return False
        c.accept(t)
    return c.is_accepting()


@pytest.mark.parametrize(
    "gbnf, text, accepted",
    [
        ('root ::= num "x" | "1" [0-9] "y"\nnum ::= [0-9]+', "12y", True),  # a competitor where num may start
        ('root ::= num "x" | "1" [0-9] "y"\nnum ::= [0-9]+', "12x", True),
        ('root ::= word "s"\nword ::= [a-z]+', "cats", True),  # what follows word can extend it
        ('root ::= kw | id " "\nkw ::= "int"\nid ::= [a-z]+', "inty ", True),  # "int" must not shadow "inty"
        ('root ::= kw | id " "\nkw ::= "int"\nid ::= [a-z]+', "int", True),
        ('root ::= n ("," n)*\nn ::= [0-9]+', "1,22,333", True),  # promoted: nothing can follow that extends it
        ('root ::= n ("," n)*\nn ::= [0-9]+', "1,,2", False),
        ('root ::= (a | b)+\na ::= "x" "y"?\nb ::= "yz"', "xyz", True),  # "x" then "yz", though a could be "xy"
        ('root ::= (a | b)+\na ::= "x" "y"?\nb ::= "yz"', "xyyz", True),
        ('root ::= (a | b)+\na ::= "x" "y"?\nb ::= "yz"', "xzz", False),
        ('root ::= . "x"', "\nx", True),  # "." is any character, newline included
        ('root ::= . "x"', "éx", True),
    ],
)
def test_lexer_tokens_keep_gbnf_meaning(gbnf, text, accepted, smollm2_tok):
    assert _accepts(text, gbnf, smollm2_tok) == accepted


def test_lexer_token_choice():
    from llamacore.sampling.gbnf import parse_gbnf
    from llamacore.sampling.gbnf_lexemes import extension_chars, promoted_rules

    def promoted(name):
        return promoted_rules(parse_gbnf((GRAMMARS / f"{name}.gbnf").read_text()))

    assert promoted("json") == {"string", "number"}  # the text runs of JSON: fast masks
    assert promoted("arithmetic") == set()  # num/ident end in ws, which "\n" after a term needs
    assert "identifier" not in promoted("c")  # keywords start with the same letters
    rules = parse_gbnf('root ::= x y z w\nx ::= "a" | "abc"\ny ::= [0-9]+\nz ::= "a" [b]?\nw ::= [^a]')
    assert extension_chars(rules, "x") == ((ord("b"), ord("b")),)
    assert extension_chars(rules, "y") == ((ord("0"), ord("9")),)
    assert extension_chars(rules, "z") == ((ord("b"), ord("b")),)
    assert extension_chars(rules, "w") == ()


@pytest.mark.parametrize(
    "text, accepted",
    [
        ('{"a": -0.5, "b": [], "c": {}, "d": "x\\"y\\u00e9", "e": [1, 2e5, null]}', True),
        ('{"a":1,"b":"2"}', True),
        ('{"a": 1}\n  ', True),
        ('{"a": 01}', False),
        ('{"a": "x\ny"}', False),  # a raw newline inside a string
        ('{"a" : 1 }', True),  # json.gbnf's strings and numbers end with optional space
        ('{"a": 1,}', False),
    ],
)
def test_json_gbnf_strings_and_numbers(text, accepted, smollm2_tok):
    """json.gbnf's strings and numbers become lexer tokens: what it accepts is unchanged."""
    assert _accepts(text, (GRAMMARS / "json.gbnf").read_text(), smollm2_tok) == accepted


# What pydantic v2's model_json_schema() gives for a typical model (LangChain's with_structured_output and instructor
# send such schemas): $defs/$ref, titles and descriptions, Optional as anyOf with null, defaults, enums.
PYDANTIC_SCHEMA = {
    "$defs": {
        "Address": {
            "properties": {
                "street": {"title": "Street", "type": "string"},
                "zip": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Zip"},
            },
            "required": ["street"],
            "title": "Address",
            "type": "object",
        },
        "Color": {"enum": ["red", "blue"], "title": "Color", "type": "string"},
    },
    "properties": {
        "name": {"description": "full name", "maxLength": 30, "title": "Name", "type": "string"},
        "age": {"maximum": 150, "minimum": 0, "title": "Age", "type": "integer"},
        "color": {"$ref": "#/$defs/Color"},
        "when": {"format": "date-time", "title": "When", "type": "string"},
        "addresses": {"default": [], "items": {"$ref": "#/$defs/Address"}, "title": "Addresses", "type": "array"},
        "score": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None, "title": "Score"},
    },
    "required": ["name", "age", "color", "when"],
    "title": "Person",
    "type": "object",
}


@pytest.mark.parametrize(
    "text, accepted",
    [
        (
            '{"name":"Ann","age":3,"color":"red","when":"2020-01-02T03:04:05Z","addresses":[{"street":"x","zip":null}],'
            '"score":null}',
            True,
        ),
        ('{"name": "Ann", "age": 3, "color": "blue", "when": "2020-01-02T03:04:05+01:00"}', True),
        ('{"name": "Ann", "age": 3, "color": "green", "when": "2020-01-02T03:04:05Z"}', False),
        ('{"name": "Ann", "age": 151, "color": "red", "when": "2020-01-02T03:04:05Z"}', False),
        ('{"name": "Ann", "color": "red", "age": 3, "when": "2020-01-02T03:04:05Z"}', False),  # schema order
    ],
)
def test_pydantic_style_schema(text, accepted, smollm2_tok):
    c = json_schema_constraint(PYDANTIC_SCHEMA, smollm2_tok)
    ok = True
    for t in smollm2_tok.tokenize(text, add_bos=False):
        if not c.allowed()[t]:
            ok = False
            break
        c.accept(t)
    assert (ok and c.is_accepting()) == accepted
