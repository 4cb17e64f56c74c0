"""JSON-schema constrained generation on the real models: schemas drawn by hypothesis over the keywords llama.cpp's
json-schema-to-grammar covers, sampled at high temperature; a finished output parses and validates (jsonschema)."""

from __future__ import annotations

import json
import re
import uuid

import numpy as np
import pytest

from llamacore.sampling.grammar import json_schema_constraint
from llamacore.tokenizer import Tokenizer

jsonschema = pytest.importorskip("jsonschema")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_grammar import generate  # noqa: E402

# ---- formats checked by hand (jsonschema's own checks need optional packages) ----
FORMAT = jsonschema.FormatChecker(formats=())


@FORMAT.checks("date")
def _date(v):
    """RFC 3339 full-date: any four-digit year (0000 too), a real day of that month."""
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", v) if isinstance(v, str) else None
    if not isinstance(v, str):
        return True
    if m is None:
        return False
    year, month, day = map(int, m.groups())
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([zZ]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"


@FORMAT.checks("time")
def _time(v):
    return not isinstance(v, str) or re.fullmatch(_TIME, v) is not None


@FORMAT.checks("date-time", raises=ValueError)
def _date_time(v):
    if not isinstance(v, str):
        return True
    m = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[tT](.*)", v)
    return m is not None and _date(m.group(1)) and _time(m.group(2))


@FORMAT.checks("uuid", raises=ValueError)
def _uuid(v):
    return not isinstance(v, str) or (len(v) == 36 and bool(uuid.UUID(v)))


@FORMAT.checks("email")
def _email(v):
    return not isinstance(v, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) is not None


def validate(text: str, schema: dict) -> object:
    value = json.loads(text)
    jsonschema.Draft202012Validator(schema, format_checker=FORMAT).validate(value)
    return value


# ---- schemas ----
NAMES = st.sampled_from(["id", "name", "age", "tags", "when", "score", "kind", "items", "ok", "note"])
STRINGS = st.text(alphabet="abcxyz é", min_size=0, max_size=4)


def _leaf() -> st.SearchStrategy[dict]:
    def bounded(kind):
        def make(lo, span):
            out = {"type": kind}
            if lo is not None:
                out["minimum"] = lo
            if span is not None:
                out["maximum"] = (lo or 0) + span
            return out

        lows = st.none() | st.integers(-50, 50)
        return st.builds(make, lows, st.none() | st.integers(0, 100))

    def string(lo, hi):
        out = {"type": "string", "maxLength": lo + hi}
        if lo:
            out["minLength"] = lo
        return out

    return st.one_of(
        st.builds(string, st.integers(0, 3), st.integers(0, 8)),
        st.sampled_from(["date", "time", "date-time", "uuid", "email"]).map(lambda f: {"type": "string", "format": f}),
        st.sampled_from([r"^[a-z]{2,5}$", r"^[0-9]{3}-[0-9]{2}$", r"^(yes|no)$"]).map(
            lambda p: {"type": "string", "pattern": p}
        ),
        bounded("integer"),
        bounded("number"),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.lists(STRINGS | st.integers(-9, 9) | st.booleans(), min_size=1, max_size=4, unique=True).map(
            lambda v: {"enum": v}
        ),
        (STRINGS | st.integers(-9, 9)).map(lambda v: {"const": v}),
    )


def _composite(inner: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    def obj(props, data):
        names = list(props)
        schema = {"type": "object", "properties": props}
        required = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
        if required:
            schema["required"] = required
        extra = data.draw(st.sampled_from(["unsaid", "false", "schema"]))
        if extra == "false":
            schema["additionalProperties"] = False
        elif extra == "schema":
            schema["additionalProperties"] = {"type": "integer"}
        return schema

    def array(items, lo, span):
        return {"type": "array", "items": items, "minItems": lo, "maxItems": lo + span}

    objects = st.builds(obj, st.dictionaries(NAMES, inner, min_size=1, max_size=3), st.data())
    return st.one_of(
        objects,
        st.builds(array, inner, st.integers(0, 2), st.integers(0, 2)),
        st.lists(inner, min_size=2, max_size=3).map(lambda alts: {"anyOf": alts}),
        # oneOf over branches of different types (disjoint, so exactly one matches)
        st.sampled_from([("string", "integer"), ("boolean", "null"), ("integer", "array")]).map(
            lambda kinds: {"oneOf": [{"type": k} if k != "array" else {"type": "array", "maxItems": 2} for k in kinds]}
        ),
        # allOf: one member gives the shape, another adds constraints
        st.builds(
            lambda name, leaf: {
                "allOf": [{"type": "object", "properties": {name: leaf}}, {"required": [name]}],
            },
            NAMES,
            inner,
        ),
    )


def _with_defs(schema: dict) -> dict:
    """$ref/$defs: the schema moved into $defs, referenced from an object property and an array."""
    return {
        "$defs": {"thing": schema},
        "type": "object",
        "properties": {
            "first": {"$ref": "#/$defs/thing"},
            "more": {"type": "array", "items": {"$ref": "#/$defs/thing"}, "maxItems": 2},
        },
        "required": ["first"],
    }


SCHEMAS = st.recursive(_leaf(), _composite, max_leaves=6).flatmap(lambda s: st.sampled_from([s, _with_defs(s)]))


# ---- generation ----


@pytest.fixture(scope="module")
def models(smollm2_path, gemma3_path):
    from llamacore.engine import Engine

    engines = {}
    for name, path in (("smollm2", smollm2_path), ("gemma3", gemma3_path)):
        engines[name] = (Engine(path, n_ctx=256), Tokenizer.from_gguf(path))
    yield engines
    for engine, _ in engines.values():
        engine.close()


def _check_generation(models, name, schema, seed, stats, temperature=1.5, max_tokens=96) -> None:
    engine, tok = models[name]
    constraint = json_schema_constraint(schema, tok)
    text, finish, _ = generate(
        engine, tok, "JSON:\n", constraint, max_tokens=max_tokens, temperature=temperature, seed=seed
    )
    stats[finish] = stats.get(finish, 0) + 1
    if finish == "stop":
        assert constraint.is_accepting()
        validate(text, schema)  # raises with the reason when the output does not validate


STATS: dict = {}


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=SCHEMAS, seed=st.integers(0, 2**31 - 1))
def test_generated_json_validates(models, name, schema, seed):
    try:
        json_schema_constraint(schema, models[name][1])
    except ValueError as e:  # only what the engine declares unsupported may be refused; name the keyword
        assert "oneOf" in str(e) or "Unimplemented" in str(e), (schema, e)
        return
    _check_generation(models, name, schema, seed, STATS.setdefault(name, {}))


FIXED = [
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 12},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "email": {"type": "string", "format": "email"},
            "born": {"type": "string", "format": "date"},
            "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 1, "maxItems": 3},
        },
        "required": ["name", "age", "born"],
    },
    {"type": "array", "items": {"type": "number", "minimum": -1.5, "maximum": 2.5}, "minItems": 2, "maxItems": 4},
    {"anyOf": [{"type": "string", "pattern": "^[A-Z][a-z]{1,6}$"}, {"const": 42}]},
    {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "t": {"type": "string", "format": "time"},
        },
        "required": ["at", "id", "t"],
    },
    None,  # any JSON object
]


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
def test_fixed_schemas_finish_and_validate(models, name):
    """Schemas with bounded output: most runs must finish (not only end by length), and every finished one validates."""
    stats: dict = {}
    for i, schema in enumerate(FIXED):
        for seed in range(2):
            _check_generation(models, name, schema or {"type": "object"}, 100 * i + seed, stats, 0.8, 160)
    assert stats.get("stop", 0) >= 6, stats


@pytest.fixture(scope="module")
def short_token_weights(models):
    """Per model: weights favouring short tokens (1/len^3), so that random walks through a grammar can finish."""
    out = {}
    for name, (_, tok) in models.items():
        lens = np.array([max(1, len(tok.token_to_piece(i))) for i in range(tok.n_vocab())], dtype=np.float64)
        out[name] = 1.0 / lens**3
    return out


@pytest.mark.parametrize("name", ["smollm2", "gemma3"])
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=SCHEMAS, seed=st.integers(0, 2**31 - 1))
def test_random_walks_validate(models, short_token_weights, name, schema, seed):
    """Without a model: any allowed token at random (the hardest sampler); a walk that stops where the constraint
    accepts must give valid JSON. This reaches far more of each grammar than the model does."""
    tok = models[name][1]
    weights = short_token_weights[name]
    eog = sorted(tok.eog_tokens())
    rng = np.random.default_rng(seed)
    c = json_schema_constraint(schema, tok)
    out: list[int] = []
    for _ in range(200):
        if c.is_finished() or (c.is_accepting() and rng.random() < 0.3):
            break
        p = np.where(c.allowed(), weights, 0.0)
        p[eog] = 0.0
        assert p.sum() > 0, "only end tokens allowed, yet the text is not complete"
        token = int(rng.choice(p.shape[0], p=p / p.sum()))
        c.accept(token)
        out.append(token)
    if c.is_accepting():
        validate(tok.detokenize(out).decode("utf-8"), schema)
