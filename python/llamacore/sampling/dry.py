"""DRY ("Don't Repeat Yourself"), llama.cpp's repetition sampler: a token that would extend a sequence already seen
in the context is penalised by multiplier * base^(length - allowed_length), where length is how long the repeated
sequence would already be. Sequence breakers (text such as "\\n" or ":") cut the context: no repeat is followed
across the most recent one.

    breakers = Breakers.build(tokenizer, ["\\n", ":", '"', "*"])     # once per vocabulary and breaker list (cached)
    row = dry(row, None, context, breakers, multiplier=0.8, base=1.75, allowed_length=2, last_n=-1)

As llama.cpp: a breaker string is matched by token text. A token whose text contains the whole string is a breaker
on its own; a token whose text ends with the string's beginning is a breaker when the rest of the string, tokenized,
follows it. Strings are cut to 40 bytes and the rest to 20 tokens.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_CHAR_LEN = 40  # llama.cpp: longer breaker strings are truncated
MAX_SEQ_LEN = 20  # ...and their tokenized tails
DEFAULT_BREAKERS = ("\n", ":", '"', "*")
_FLOAT_MAX_LOG = 88.7228391  # log(FLT_MAX): the exponent is clamped so base^exp stays finite


@dataclass(frozen=True)
class Breakers:
    """Sequence breakers as token sequences: head token -> tails (tuples of the tokens that must follow it; the empty
    tuple means the head alone is a breaker)."""

    tails: dict[int, tuple[tuple[int, ...], ...]]
    single: frozenset[int]  # heads that are breakers on their own (never penalised)

    @staticmethod
    def build(tokenizer, strings: Sequence[str]) -> Breakers:
        """The breakers of `strings` for a tokenizer (cached per tokenizer and list)."""
        key = tuple(strings)
        cache = _cache_for(tokenizer)
        if key not in cache:
            cache[key] = _build(tokenizer, key)
        return cache[key]


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TEXTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cache_for(tokenizer) -> dict:
    try:
        return _CACHES.setdefault(tokenizer, {})
    except TypeError:  # not weak-referenceable: no cache
        return {}


def _token_texts(tokenizer) -> list[bytes]:
    """Every token's text with control tokens written out (llama.cpp detokenizes with special=True); once per
    tokenizer (a loop over the vocabulary, so never per generated token)."""
    try:
        texts = _TEXTS.get(tokenizer)
    except TypeError:
        texts = None
    if texts is None:
        n = int(tokenizer.n_vocab())
        piece = getattr(tokenizer, "token_to_piece", None)
        if piece is not None:
            texts = [bytes(piece(t, True)) for t in range(n)]
        else:
            texts = [bytes(tokenizer.detokenize([t], special=True)) for t in range(n)]
        try:
            _TEXTS[tokenizer] = texts
        except TypeError:
            pass
    return texts


def _build(tokenizer, strings: tuple[str, ...]) -> Breakers:
    texts = _token_texts(tokenizer)
    tails: dict[int, list[tuple[int, ...]]] = {}
    for s in strings:
        if not isinstance(s, str):
            raise TypeError(f"dry_sequence_breakers must be strings, got {s!r}")
        b = s.encode("utf-8")[:MAX_CHAR_LEN]
        if not b:
            continue
        tail_cache: dict[int, tuple[int, ...]] = {}
        for tid, word in enumerate(texts):
            if b in word:
                _add(tails, tid, ())
                continue
            # every place where the word's end is a beginning of the string: the rest must follow as tokens
            pos = word.find(b[:1])
            while pos >= 0:
                m = len(word) - pos  # bytes of the string the word holds
                if word[pos:] == b[:m]:
                    if m not in tail_cache:
                        rest = tokenizer.tokenize(b[m:], add_bos=False, special=False)
                        tail_cache[m] = tuple(int(t) for t in rest[:MAX_SEQ_LEN])
                    _add(tails, tid, tail_cache[m])
                pos = word.find(b[:1], pos + 1)
    frozen = {k: tuple(v) for k, v in tails.items()}
    return Breakers(frozen, frozenset(k for k, v in frozen.items() if () in v))


def _add(tails: dict[int, list[tuple[int, ...]]], head: int, tail: tuple[int, ...]) -> None:
    lst = tails.setdefault(head, [])
    if tail not in lst:
        lst.append(tail)


def repeat_lengths(context: np.ndarray, breakers: Breakers, allowed_length: int, last_n: int) -> dict[int, int]:
    """token -> the length of the longest repeat that emitting it next would continue (only lengths >=
    allowed_length), over the last `last_n` tokens of the context (-1: all of it)."""
    n = context.shape[0] if last_n < 0 else min(context.shape[0], last_n)
    if n <= allowed_length:
        return {}
    w = np.asarray(context[context.shape[0] - n :], dtype=np.int64)  # the window, oldest first
    # Step 1: the most recent breaker limits how far back a repeat may reach.
    rep_limit = n
    heads = np.flatnonzero(np.isin(w, np.fromiter(breakers.tails.keys(), dtype=np.int64, count=len(breakers.tails))))
    for h in heads[::-1]:  # newest first
        i = n - 1 - int(h)  # tokens after the head
        longest = -1
        for tail in breakers.tails[int(w[h])]:
            L = len(tail)
            if longest < L <= i and tuple(w[h + 1 : h + 1 + L].tolist()) == tail:
                longest = L
        if longest >= 0:
            rep_limit = i - longest
            break
    if rep_limit < allowed_length:
        return {}
    # Step 2: for every earlier position p, how far the text ending at p matches the text ending now (capped at
    # rep_limit). Candidates are extended one token back per round, all at once.
    p = np.flatnonzero(w[:-1] == w[-1])
    length = np.zeros(p.shape[0], dtype=np.int64)
    alive = np.ones(p.shape[0], dtype=bool)
    j = 0
    while alive.any() and j < rep_limit:
        # position p - j must exist and equal the token j before the end
        ok = alive & (p - j >= 0)
        ok[ok] = w[p[ok] - j] == w[n - 1 - j]
        length[ok] += 1
        alive = ok
        j += 1
    length = np.minimum(length, rep_limit)
    # Step 3: the token after each such position would continue the repeat.
    sel = length >= allowed_length
    # allowed_length 0: every token seen after another one continues a "repeat" of length 0 (llama.cpp's rule)
    out: dict[int, int] = dict.fromkeys(w[1:].tolist(), 0) if allowed_length <= 0 else {}
    for tok, L in zip(w[p[sel] + 1].tolist(), length[sel].tolist(), strict=True):
        if out.get(tok, -1) < L:
            out[tok] = L
    return out


def dry(
    logits: np.ndarray,
    ids: np.ndarray | None,
    context: np.ndarray,
    breakers: Breakers,
    multiplier: float,
    base: float,
    allowed_length: int,
    last_n: int,
) -> np.ndarray:
    """The DRY penalty applied to logits float32[m]: a full row when ids is None, else the logits of candidate ids
    int64[m]. Returns a new array (or the input when nothing is penalised)."""
    if multiplier == 0.0 or base < 1.0 or last_n == 0:
        return logits
    reps = repeat_lengths(context, breakers, allowed_length, last_n)
    for t in breakers.single:
        reps.pop(t, None)
    if not reps:
        return logits
    toks = np.fromiter(reps.keys(), dtype=np.int64, count=len(reps))
    exps = np.fromiter(reps.values(), dtype=np.int64, count=len(reps)) - allowed_length
    if base > 1.000001:
        exps = np.minimum(exps, int(_FLOAT_MAX_LOG / np.log(base)))
    pen = (multiplier * np.power(float(base), exps.astype(np.float64))).astype(np.float32)
    out = logits.copy()
    if ids is None:
        ok = (toks >= 0) & (toks < logits.shape[0])
        out[toks[ok]] -= pen[ok]
    else:
        order = np.argsort(toks)
        pos = np.searchsorted(toks[order], ids)
        pos = np.minimum(pos, toks.shape[0] - 1)
        hit = toks[order][pos] == ids
        out[hit] -= pen[order][pos[hit]]
    return out
