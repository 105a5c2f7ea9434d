"""How prompt moderation reads a prompt (``domain/moderation.py``): the word sequences its rules
are matched against, so that spacing, case, accents, invisible characters, look-alike letters and
leetspeak do not slip past them. Each step is a reason a rule could otherwise be dodged:

1. Folded: compatibility forms (full-width, mathematical letters, ligatures) and accents dropped
   (NFKD), invisible characters dropped (format characters such as zero-width spaces and joiners,
   soft hyphens, bidi marks, Hangul fillers), letters of other scripts that look like Latin ones
   replaced by them (the Unicode confusables of UTS #39, the TR39 skeleton, from the
   ``confusable-homoglyphs`` package; loaded on the first prompt that needs it), then lower case.
2. Split into words at every other character: spacing of any kind and punctuation.
3. Read as written and with leetspeak read as letters ("1" as "i" and as "l").
4. Spaced-out letters joined into a word where the same separator joins them: ``r a p e``,
   ``r.a.p.e``; a different or a wider gap ends the word (``n u d e  c h i l d`` is two words).
5. Segmented: consecutive words whose letters, run together, are exactly a sequence of the list's
   own words (``nudechild``, ``chi ldporn``, ``n a k e d k i d``) are read as those words. Only
   the list's words, and only chains that start and end where words start and end: "grape",
   "therapist" and "Scunthorpe" stay what they are.

A rule matches the words of step 4 or of step 5 (:func:`normalised_variants`).
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path

# Digits and symbols written for letters. "1" stands for "i" as often as "l": both are tried.
_LEET = str.maketrans(
    {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i"}
)
_LEET_ONE = ("i", "l")
_LEET_CHARS = re.compile(r"[0-9@$!]")
# Words and what separates them (kept: a run of spaced-out letters ends where the separator changes).
_SPLIT = re.compile(r"([^a-z0-9@$!]+)")
_SYMBOLS = re.compile(r"[@$!]")
# Two one-character words in a row: spaced-out letters to join.
_TWO_LETTERS = re.compile(r"(?<![a-z0-9@$!])[a-z0-9@$!][^a-z0-9@$!]+[a-z0-9@$!](?![a-z0-9@$!])")
_NOT_ALNUM_RUN = re.compile(r"[^a-z0-9]+")
# Invisible letters that are not format characters (category Cf): the Hangul fillers.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
# A list word shorter than this only ever matches a whole word: inside run-together letters it
# would match nearly anything.
_MIN_SEGMENT = 3
_ARTICLES = ("a", "i")


# -- step 1: folding --------------------------------------------------------------------------------


@cache
def _skeleton_table() -> dict[int, str]:
    """Each character whose TR39 prototype is ASCII, mapped to it: Cyrillic small a (U+0430) to
    "a", Greek capital rho (U+03A1) to "P". From the confusables data of ``confusable-homoglyphs``
    (Unicode's confusables.txt), read on the first prompt with a character outside ASCII that NFKD
    does not fold, never at start-up (about 1 MB of JSON).

    The package's file lists each pair both ways; for a character outside ASCII the ASCII entry
    is its prototype (ASCII characters are never confusable with something outside ASCII there).
    Two prototypes are read as the letters they stand for in a word: "l" (the prototype of "I",
    "l" and "1") as "1", which the leetspeak readings try as "i" and as "l", and "rn" as "m"."""
    import importlib.util  # here, not at import: only a prompt outside ASCII ever needs them
    import json

    spec = importlib.util.find_spec("confusable_homoglyphs")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the confusable-homoglyphs package is not installed (requirements.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "confusables.json"
    data: dict[str, list[dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))
    table: dict[int, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or char.isascii():
            continue
        prototype = next((e["c"] for e in entries if e["c"] and e["c"].isascii()), None)
        if prototype is not None:
            table[ord(char)] = {"l": "1", "rn": "m"}.get(prototype, prototype)
    return table


class _Folding(dict[int, str | None]):
    """``str.translate`` table of the characters outside ASCII, filled as they are met: invisible
    ones (marks, format characters, fillers) to nothing, look-alikes to their ASCII prototype,
    the rest as they are. Bounded: past ``_FOLDING_SIZE`` entries a character is looked up
    each time instead of kept (a flood of distinct characters must not grow it forever)."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value: str | None
        if unicodedata.combining(char) or unicodedata.category(char) == "Cf" or char in _FILLERS:
            value = None
        else:
            value = _skeleton_table().get(code, char)
        if len(self) < _FOLDING_SIZE:
            self[code] = value
        return value


_FOLDING_SIZE = 20_000
_FOLDED = _Folding({code: chr(code) for code in range(128)})


def _fold(text: str) -> str:
    """Compatibility forms and accents dropped (NFKD), invisible characters dropped, look-alike
    letters replaced by their ASCII prototype, then lower case. ASCII costs one ``casefold``."""
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    if not decomposed.isascii():
        # Before lower case: confusables are per case (Cyrillic U+041D looks like "H", U+043D not).
        decomposed = decomposed.translate(_FOLDED)
    return decomposed.casefold()


# -- steps 2 to 4: words ----------------------------------------------------------------------------


def _join_letter_runs(words: Sequence[str], gaps: Sequence[str]) -> tuple[tuple[str, ...], frozenset[int]]:
    """``words`` and the ``gaps`` between them (``gaps[i]`` follows ``words[i]``); runs of
    one-letter words with the same gap between each become one word. Also the indexes of joined
    words that begin with an article ("a r a p e"): the segmentation may start a word after it."""
    joined: list[str] = []
    articles: set[int] = set()
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        if len(word) != 1 or i + 1 >= n or len(words[i + 1]) != 1:
            joined.append(word)
            i += 1
            continue
        gap, j = gaps[i], i + 1  # a run is set by its first gap
        while j + 1 < n and len(words[j + 1]) == 1 and gaps[j] == gap:
            j += 1
        if j - i >= 3 and word in _ARTICLES:
            articles.add(len(joined))
        joined.append("".join(words[i : j + 1]))
        i = j + 1
    return tuple(joined), frozenset(articles)


def _reading(folded: str, table: dict[int, str] | None) -> tuple[tuple[str, ...], frozenset[int]]:
    """The words of ``folded`` read through ``table`` (leetspeak), spaced-out letters joined."""
    text = folded.translate(table) if table else folded
    parts = _SPLIT.split(text)
    words, gaps = parts[0::2], parts[1::2]
    cleaned = table is None and _SYMBOLS.search(text) is not None
    if cleaned:
        words = [_SYMBOLS.sub("", w) for w in words]
    if words and not words[0]:  # the prompt starts with a separator
        words, gaps = words[1:], gaps[1:]
    if words and not words[-1]:  # ... or ends with one
        words, gaps = words[:-1], gaps[:-1]
    if "" in words:  # a word that cleaning emptied ("@@")
        kept_words: list[str] = []
        kept_gaps: list[str] = []
        pending = ""
        for index, word in enumerate(words):
            if word:
                if kept_words:
                    kept_gaps.append(pending)
                kept_words.append(word)
                pending = ""
            elif 0 < index < len(words) - 1:
                pending += "\0"  # the gap around an emptied word is unlike any separator
            if index < len(gaps):
                pending += gaps[index]
        words, gaps = kept_words, kept_gaps
    if not _TWO_LETTERS.search(text) and not cleaned:  # most prompts: no spaced-out letters
        return tuple(words), frozenset()
    return _join_letter_runs(words, gaps)


def _readings(text: str) -> list[tuple[tuple[str, ...], frozenset[int]]]:
    """The prompt's words as written and with leetspeak read as letters (once when it has none)."""
    folded = _fold(text)
    readings = {_reading(folded, None): None}
    if _LEET_CHARS.search(folded):
        for one in _LEET_ONE:
            readings[_reading(folded, {**_LEET, ord("1"): one})] = None
    return list(readings)


# -- step 5: segmentation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Lexicon:
    """The list's own words (of terms, combinations and the finite patterns), by first letters."""

    by_prefix: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, words: Iterable[str]) -> Lexicon:
        index: dict[str, list[str]] = {}
        for word in sorted(set(words), key=len, reverse=True):
            if len(word) >= _MIN_SEGMENT and word.isalnum() and word.isascii():
                index.setdefault(word[:_MIN_SEGMENT], []).append(word)
        return cls({prefix: tuple(found) for prefix, found in index.items()})

    def segment(self, words: tuple[str, ...], articles: frozenset[int]) -> tuple[str, ...]:
        """``words`` with each chain of list words that starts where a word starts and ends where a
        word ends read as those words (the longest chain from each start; others as they are)."""
        index = self.by_prefix
        if not index:
            return words
        text = "".join(words)
        bounds = list(accumulate(map(len, words), initial=0))
        starts = [at for at in bounds[:-1] if text[at : at + _MIN_SEGMENT] in index]
        starts += [bounds[i] + 1 for i in articles]
        if not starts:  # most prompts: no word of the list starts where a word starts
            return words
        ends = set(bounds)
        # Forward: every list word that a chain from a start can reach.
        edges: dict[int, list[tuple[int, str]]] = {}
        seen = set(starts)
        todo = list(seen)
        heapq.heapify(todo)
        while todo:
            at = heapq.heappop(todo)
            found = index.get(text[at : at + _MIN_SEGMENT])
            if not found:
                continue
            for word in found:
                if text.startswith(word, at):
                    end = at + len(word)
                    edges.setdefault(at, []).append((end, word))
                    if end not in seen:
                        seen.add(end)
                        heapq.heappush(todo, end)
        if not edges:
            return words
        # Backward: from each position, the farthest word end a chain reaches, and its first word.
        far: dict[int, tuple[int, str, int | None]] = {}
        for at in sorted(edges, reverse=True):
            best: tuple[int, str, int | None] | None = None
            for end, word in edges[at]:
                if end in ends and (best is None or end > best[0]):
                    best = (end, word, None)
                if end in far and (best is None or far[end][0] > best[0]):
                    best = (far[end][0], word, end)
            if best is not None:
                far[at] = best
        if not articles and all(_as_written(at, best, bounds, words) for at, best in far.items()):
            return words  # every chain is a word as written: nothing to read differently
        position = {b: i for i, b in enumerate(bounds)}
        out: list[str] = []
        i = 0
        while i < len(words):
            at = bounds[i]
            if at not in far and i in articles and at + 1 in far:
                out.append(words[i][0])
                at += 1
            if at in far:
                stop = far[at][0]
                step: int | None = at
                while step is not None:
                    _, word, step = far[step]
                    out.append(word)
                i = position[stop]
                continue
            out.append(words[i])
            i += 1
        return tuple(out)


def _as_written(at: int, best: tuple[int, str, int | None], bounds: list[int], words: Sequence[str]) -> bool:
    """True when the chain from ``at`` is the one word written there."""
    index = bisect_left(bounds, at)
    return index < len(words) and bounds[index] == at and best == (bounds[index + 1], words[index], None)


def normalised_variants(text: str, lexicon: Lexicon | None = None) -> list[tuple[str, ...]]:
    """The prompt as the word sequences a rule is matched against: each reading (as written, and
    with leetspeak read as letters), with spaced-out letters joined, and segmented into the
    ``lexicon``'s words where they run together."""
    variants: dict[tuple[str, ...], None] = {}
    for words, articles in _readings(text):
        variants[words] = None
        if lexicon is not None:
            variants[lexicon.segment(words, articles)] = None
    return list(variants)


def plain_words(text: str) -> tuple[str, ...]:
    """The folded words of a rule's text: letters and digits, split at everything else."""
    return tuple(w for w in _NOT_ALNUM_RUN.split(_fold(text)) if w)
