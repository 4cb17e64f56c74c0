"""Finding where JSON values end in text that may still be growing (a model's output, token by token).

The scanners only find boundaries; json.loads checks a value once it is complete. Every function takes the text and
a start index and answers with an end index, OPEN (the text ends before the value does) or INVALID.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

OPEN = -1  # the value is not complete yet
INVALID = -2  # this cannot be the start of a JSON value / the object is malformed
_WS = " \t\r\n"
_SCALAR = set("-+0123456789.eEtrufalsn")


def skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def scan_string(text: str, i: int) -> int:
    """text[i] == '"': the index after the closing quote, or OPEN."""
    j, n = i + 1, len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
        elif c == '"':
            return j + 1
        else:
            j += 1
    return OPEN


def scan_value(text: str, i: int) -> int:
    """The index after the JSON value starting at text[i] (no leading whitespace), OPEN or INVALID."""
    n = len(text)
    if i >= n:
        return OPEN
    c = text[i]
    if c == '"':
        return scan_string(text, i)
    if c in "{[":
        depth, j = 0, i
        while j < n:
            c = text[j]
            if c == '"':
                j = scan_string(text, j)
                if j == OPEN:
                    return OPEN
                continue
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return OPEN
    if c in _SCALAR:
        j = i
        while j < n and text[j] in _SCALAR:
            j += 1
        return OPEN if j == n else j  # a number can go on as long as text comes
    return INVALID


@dataclass
class Member:
    key: str
    start: int  # where the value starts
    end: int  # where it ends, or OPEN


def object_members(text: str, i: int) -> tuple[list[Member], int]:
    """The members of the JSON object at text[i] == '{' seen so far, and the index after it (OPEN or INVALID).

    The last member's end is OPEN when its value is still growing; a member whose key is incomplete is left out."""
    members: list[Member] = []
    n = len(text)
    j = i + 1
    while True:
        j = skip_ws(text, j)
        if j >= n:
            return members, OPEN
        if text[j] == "}":
            return members, j + 1
        if members:
            if text[j] != ",":
                return members, INVALID
            j = skip_ws(text, j + 1)
            if j >= n:
                return members, OPEN
        if text[j] != '"':
            return members, INVALID
        k = scan_string(text, j)
        if k == OPEN:
            return members, OPEN
        try:
            key = json.loads(text[j:k])
        except json.JSONDecodeError:
            return members, INVALID
        j = skip_ws(text, k)
        if j >= n:
            return members, OPEN
        if text[j] != ":":
            return members, INVALID
        j = skip_ws(text, j + 1)
        if j >= n:
            members.append(Member(key, j, OPEN))
            return members, OPEN
        end = scan_value(text, j)
        members.append(Member(key, j, end))
        if end < 0:
            return members, end
        j = end


def loads_or(text: str, default=None):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return default
