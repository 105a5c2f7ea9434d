"""Random strings that fully match a regular expression, to check that whatever a pattern of the
OpenAPI document admits, the code accepts (the direction a fuzzer tests).

Covers the regex features the API's patterns use: literals, classes (ranges, negation, ``\\s``,
``\\S``, ``\\d``, ``\\w``), ``.``, groups, alternation, bounded and unbounded repeats, anchors.
"""

from __future__ import annotations

import random
import re
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

# What a negated class or "." draws from: ASCII, latin-1, a few BMP scripts and astral characters.
ALPHABET = (
    [chr(code) for code in range(0x20, 0x7F)] * 4
    + [chr(code) for code in range(0x20)]
    + [chr(code) for code in range(0x80, 0x100)]
    + list("Ωжאبअ中文한글ｶﾅ\u2028\u3000\ufeff\ue000\U0001f600\U00020000\U000e0041\U0010fffd")
)
UNBOUNDED = 6  # repeats of "*" and "+" at most this many times over their minimum


def sample(pattern: str, rng: random.Random) -> str:
    """One string ``re.fullmatch(pattern, ...)`` accepts."""
    text = _emit(_parser.parse(pattern), rng)
    assert re.fullmatch(pattern, text), (pattern[:80], text)
    return text


def _emit(parsed: Any, rng: random.Random) -> str:
    return "".join(_node(op, value, rng) for op, value in parsed)


def _node(op: Any, value: Any, rng: random.Random) -> str:
    if op is c.LITERAL:
        return chr(value)
    if op is c.NOT_LITERAL:
        return _draw(rng, lambda ch: ord(ch) != value)
    if op is c.ANY:
        return _draw(rng, lambda ch: ch != "\n")
    if op is c.IN:
        return _member(value, rng)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        low, high, inner = value
        top = low + UNBOUNDED if high is c.MAXREPEAT else high
        return "".join(_emit(inner, rng) for _ in range(rng.randint(low, top)))
    if op is c.SUBPATTERN:
        return _emit(value[-1], rng)
    if op is c.BRANCH:
        return _emit(rng.choice(value[1]), rng)
    if op is c.AT:
        return ""
    raise NotImplementedError(f"regex feature {op}")


def _member(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    negated = bool(items) and items[0][0] is c.NEGATE
    if negated:
        return _draw(rng, lambda ch: not _in_class(ch, items[1:]))
    if all(op in (c.LITERAL, c.RANGE) for op, _ in items):
        op, value = rng.choice(items)
        return chr(value) if op is c.LITERAL else chr(rng.randint(*value))
    return _draw(rng, lambda ch: _in_class(ch, items))


def _in_class(char: str, items: list[tuple[Any, Any]]) -> bool:
    code = ord(char)
    for op, value in items:
        if op is c.LITERAL and code == value:
            return True
        if op is c.RANGE and value[0] <= code <= value[1]:
            return True
        if op is c.CATEGORY and re.fullmatch(_CATEGORIES[value], char):
            return True
    return False


_CATEGORIES = {
    c.CATEGORY_SPACE: r"\s",
    c.CATEGORY_NOT_SPACE: r"\S",
    c.CATEGORY_DIGIT: r"\d",
    c.CATEGORY_NOT_DIGIT: r"\D",
    c.CATEGORY_WORD: r"\w",
    c.CATEGORY_NOT_WORD: r"\W",
}


def _draw(rng: random.Random, accept: Any) -> str:
    for _ in range(10_000):
        char = rng.choice(ALPHABET)
        if accept(char):
            return char
    raise AssertionError("no character of the alphabet fits")
