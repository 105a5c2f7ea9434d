"""What the API accepts as text a person typed (a prompt, an API key's name).

Control characters (other than ordinary whitespace where allowed), private-use and unassigned code
points have no place there: they are a classic way to smuggle instructions or break logs
downstream. The models validate with ``is_forbidden``; the OpenAPI document states the same rule as
a ``pattern`` built from the same categories (``printable_pattern``), so the two cannot drift apart.

The pattern is a class of the characters allowed, not a negated class of the forbidden ones: both
say the same, but data generators (Hypothesis, behind schemathesis) expand every range of a class,
and the forbidden code points (unassigned planes) outnumber the allowed ones six to one.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Iterable
from itertools import groupby

FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
PROMPT_CONTROLS = "\t\n\r"  # the whitespace a prompt may hold
Ranges = list[tuple[int, int]]  # (first, last) code points, sorted and disjoint


def is_forbidden(char: str, allowed: str = "") -> bool:
    return char not in allowed and unicodedata.category(char) in FORBIDDEN_CATEGORIES


def first_forbidden(value: str, allowed: str = "") -> str | None:
    return next((char for char in value if is_forbidden(char, allowed)), None)


@functools.cache
def _category_runs() -> tuple[tuple[int, int, str], ...]:
    """Every code point as runs of one general category: (first, last, category). One pass."""
    runs, first = [], 0
    for category, run in groupby(map(unicodedata.category, map(chr, range(sys.maxunicode + 1)))):
        count = len(list(run))
        runs.append((first, first + count - 1, category))
        first += count
    return tuple(runs)


def _in_categories(categories: frozenset[str]) -> Ranges:
    merged: Ranges = []
    for first, last, category in _category_runs():
        if category in categories:
            start = merged.pop()[0] if merged and merged[-1][1] + 1 == first else first
            merged.append((start, last))
    return merged


def _minus(ranges: Ranges, holes: Iterable[int]) -> Ranges:
    """``ranges`` without the code points ``holes``."""
    result: Ranges = []
    for first, last in ranges:
        start = first
        for hole in sorted(code for code in holes if first <= code <= last):
            if start < hole:
                result.append((start, hole - 1))
            start = hole + 1
        if start <= last:
            result.append((start, last))
    return result


def _complement(ranges: Ranges) -> Ranges:
    result: Ranges = []
    start = 0
    for first, last in ranges:
        if start < first:
            result.append((start, first - 1))
        start = last + 1
    if start <= sys.maxunicode:
        result.append((start, sys.maxunicode))
    return result


@functools.cache
def allowed_ranges(allowed: str = "") -> tuple[tuple[int, int], ...]:
    """Every code point ``is_forbidden`` lets through (no surrogate: they are category Cs)."""
    forbidden = _minus(_in_categories(FORBIDDEN_CATEGORIES), map(ord, allowed))
    return tuple(_complement(forbidden))


@functools.cache
def printable_pattern(allowed: str = "", *, nonblank: bool = False) -> str:
    """A JSON Schema ``pattern`` of text without forbidden characters (with ``nonblank``, with a
    character that ``str.strip`` keeps, too). Under a second to build, once per container."""
    permitted = list(allowed_ranges(allowed))
    if not nonblank:
        return f"^[{_class(permitted)}]*$"
    # What str.isspace() is true of: bidi class WS, B or S, or category Zs (all in these categories).
    blanks = [
        code
        for first, last in _in_categories(frozenset({"Zs", "Zl", "Zp", "Cc"}))
        for code in range(first, last + 1)
        if chr(code).isspace() and not is_forbidden(chr(code), allowed)
    ]
    # Blanks, then the first character strip() keeps, then any allowed text.
    blank = _class((code, code) for code in blanks)
    return f"^[{blank}]*[{_class(_minus(permitted, blanks))}][{_class(permitted)}]*$"


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    """Ranges of code points as a class body: BMP ones escaped, astral ones as literal characters
    (which ECMA-262 with the ``u`` flag, Python's ``re`` and Rust's ``regex`` all read alike)."""
    return "".join(_one(first) if first == last else f"{_one(first)}-{_one(last)}" for first, last in ranges)


def _one(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)
