"""JSON Schema to the constraint engine's grammar (llguidance's JSON compiler), with llama.cpp's conventions.

Two choices follow llama.cpp's json-schema-to-grammar rather than the letter of JSON Schema:
- an object schema that lists `properties` and says nothing of `additionalProperties` allows no other properties
  (a model asked for {"name", "age"} should not invent more keys; the output still validates against the schema);
- whitespace between tokens is what llama.cpp's `space` rule allows: nothing, one space, or one or two newlines and
  up to 20 spaces/tabs of indentation, so a model cannot fill its length budget with blanks.
Keywords the compiler does not implement (not, if/then/else, uniqueItems, contains, propertyNames, ...), unknown
formats, and oneOf branches that may overlap are ValueErrors naming them.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import llguidance

_OPTIONS = {
    "whitespace_flexible": True,
    "whitespace_pattern": r"(?: |\n{1,2}[ \t]{0,20})?",
    "coerce_one_of": False,  # oneOf stays exact: overlapping branches are refused, not silently relaxed to anyOf
}

# Keywords whose values are a schema / a map of schemas / a list of schemas (where an object may sit).
_SCHEMA = ("additionalProperties", "items", "additionalItems", "not", "contains", "propertyNames", "if", "then", "else")
_SCHEMA_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LIST = ("anyOf", "oneOf", "prefixItems")


def _closed_objects(schema: Any, closable: bool = True) -> Any:
    """A copy of `schema` where objects that list properties (and say nothing of additionalProperties or
    patternProperties) allow no other properties. Not at the top of an allOf member: there the other members' properties
    would count as additional."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if (
        closable
        and "properties" in out
        and "additionalProperties" not in out
        and "patternProperties" not in out
        and "unevaluatedProperties" not in out
        and "allOf" not in out
        and "$ref" not in out
    ):
        out["additionalProperties"] = False
    for key in _SCHEMA:
        if isinstance(out.get(key), dict):
            out[key] = _closed_objects(out[key])
        elif key == "items" and isinstance(out.get(key), list):  # draft-4 tuple form
            out[key] = [_closed_objects(s) for s in out[key]]
    for key in _SCHEMA_MAP:
        if isinstance(out.get(key), dict):
            out[key] = {k: _closed_objects(s) for k, s in out[key].items()}
    for key in _SCHEMA_LIST:
        if isinstance(out.get(key), list):
            out[key] = [_closed_objects(s) for s in out[key]]
    if isinstance(out.get("allOf"), list):
        out["allOf"] = [_closed_objects(s, closable=False) for s in out["allOf"]]
    return out


def normalize_schema(schema: dict | bool | str | None) -> dict | bool:
    """The schema as a dict (or True/False): None is any JSON object, a str is parsed as JSON."""
    if schema is None:
        return {"type": "object"}
    if isinstance(schema, (str, bytes)):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as e:
            raise ValueError(f"JSON schema is not valid JSON: {e}") from None
    if isinstance(schema, bool):
        if not schema:
            raise ValueError("JSON schema `false` accepts no value: nothing could be generated")
        return True
    if not isinstance(schema, dict):
        raise TypeError(f"JSON schema must be a dict (or its JSON text), not {type(schema).__name__}")
    return schema


@functools.lru_cache(maxsize=256)
def _compile(schema_json: str) -> str:
    schema = json.loads(schema_json)
    if isinstance(schema, dict):
        schema = _closed_objects(schema)
    grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema), defaults=_OPTIONS)
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        message = messages[0]
        if "oneOf" in message:  # llguidance proves oneOf branches disjoint or refuses; its text names an option
            message = "oneOf whose branches may overlap is not supported (use anyOf, or make the branches disjoint)"
        raise ValueError(f"unsupported or invalid JSON schema: {message}")
    return grammar


def json_schema_grammar(schema: dict | bool | str | None) -> str:
    """llguidance's grammar text for JSON that validates against `schema` (None: any JSON object).

    Raises ValueError naming the keyword for what is not supported, and for invalid schemas ($ref to nothing,
    a bad pattern, ...); TypeError when the schema is not a dict."""
    schema = normalize_schema(schema)
    try:
        text = json.dumps(schema, allow_nan=False)  # key order kept: properties are generated in schema order
    except (TypeError, ValueError) as e:
        raise ValueError(f"JSON schema cannot be written as JSON: {e}") from None
    return _compile(text)
