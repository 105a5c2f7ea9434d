"""Prompt moderation: a list of refused terms and patterns, and the normalisation that keeps
spacing, case, accents, invisible characters, look-alike letters and leetspeak from slipping past it.

The list is a text file (``AVATARFLOW_MODERATION_FILE``; the default is ``refused_terms.txt``
beside this module), one rule a line, ``#`` starts a comment:

- ``a term`` or ``a short phrase``: refused where its words appear as whole words of the prompt,
  in that order. Whole words: "rape" refuses "r a p e" and "R4PE" but not "grape" or "therapist".
- ``re: <pattern>``: a Python regular expression searched in the normalised prompt (lower-case
  ASCII words separated by single spaces), for families of words (``re: \\bpedo\\w*``).
- ``combo: word, word ; word, word``: refused where a word of EACH ``;`` group appears anywhere in
  the prompt ("a child" alone and "nude" alone pass; together they do not).

How a prompt is read (each step is a reason a rule could otherwise be dodged):

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

A rule matches the words of step 4 or of step 5. A file that does not parse raises
:class:`ModerationFileError` naming the file and the line, so that a deployment with a broken list
fails at start-up instead of refusing nothing.
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

__all__ = ["DEFAULT_LIST", "ModerationFileError", "PromptModeration", "normalised_variants"]

DEFAULT_LIST = Path(__file__).with_name("refused_terms.txt")

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
# What a pattern cannot keep inside a combined alternation: group references and inline flags.
_REFERS = re.compile(r"\\[1-9]|\(\?P=|\(\?[aiLmsux-]+[:)]")
_NOT_ALNUM_RUN = re.compile(r"[^a-z0-9]+")
# Invisible letters that are not format characters (category Cf): the Hangul fillers.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
# A list word shorter than this only ever matches a whole word: inside run-together letters it
# would match nearly anything.
_MIN_SEGMENT = 3
_ARTICLES = ("a", "i")


class ModerationFileError(ValueError):
    """The moderation list could not be read: ``<file>:<line>: <what is wrong>``."""


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
class _Lexicon:
    """The list's own words (of terms, combinations and the finite patterns), by first letters."""

    by_prefix: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, words: Iterable[str]) -> _Lexicon:
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


def normalised_variants(text: str, lexicon: _Lexicon | None = None) -> list[tuple[str, ...]]:
    """The prompt as the word sequences a rule is matched against: each reading (as written, and
    with leetspeak read as letters), with spaced-out letters joined, and segmented into the
    ``lexicon``'s words where they run together."""
    variants: dict[tuple[str, ...], None] = {}
    for words, articles in _readings(text):
        variants[words] = None
        if lexicon is not None:
            variants[lexicon.segment(words, articles)] = None
    return list(variants)


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _NOT_ALNUM_RUN.split(_fold(text)) if w)


# -- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]

    def matches(self, words: tuple[str, ...], present: frozenset[str], joined: str) -> bool:
        n, first = len(self.words), self.words[0]
        # The first word's presence is checked at C speed; most prompts stop there.
        if first in present:
            if n == 1:
                return True
            at = words.index(first)
            while True:  # each place the first word is, at C speed too
                if words[at : at + n] == self.words:
                    return True
                try:
                    at = words.index(first, at + 1)
                except ValueError:
                    break
        # A phrase written as one word ("childporn") is still that phrase.
        return n > 1 and f" {''.join(self.words)} " in joined

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return self.words


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]  # searched by PromptModeration, all patterns in one alternation

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return tuple(_finite_words(self.regex.pattern))


@dataclass(frozen=True)
class _Combo:
    groups: tuple[frozenset[str], ...]

    def matches(self, words: tuple[str, ...], present: frozenset[str], joined: str) -> bool:
        return all(not group.isdisjoint(present) for group in self.groups)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return tuple(w for group in self.groups for w in group)


_Rule = _Term | _Pattern | _Combo


class _NotFinite(Exception):
    pass


def _finite_words(pattern: str, limit: int = 512) -> frozenset[str]:
    """Every string a simple pattern matches (literals, ``\\b``, escaped punctuation, groups,
    ``|`` and ``?``): ``\\brap(e|es)\\b`` -> {"rape", "rapes"}. Empty for anything else (``\\w*``,
    classes, repeats, more than ``limit`` strings): such a rule still matches whole words, and
    only segmentation goes without its words."""

    def alternatives(i: int) -> tuple[set[str], int]:
        found, i = sequence(i)
        while i < len(pattern) and pattern[i] == "|":
            more, i = sequence(i + 1)
            found |= more
        return found, i

    def sequence(i: int) -> tuple[set[str], int]:
        found = {""}
        while i < len(pattern) and pattern[i] not in "|)":
            options, i = atom(i)
            if i < len(pattern) and pattern[i] == "?":
                options, i = options | {""}, i + 1
            if i < len(pattern) and pattern[i] in "*+{?":
                raise _NotFinite
            found = {a + b for a in found for b in options}
            if len(found) > limit:
                raise _NotFinite
        return found, i

    def atom(i: int) -> tuple[set[str], int]:
        char = pattern[i]
        if char == "(":
            i += 1
            if pattern.startswith("?:", i):
                i += 2
            elif pattern.startswith("?", i):
                raise _NotFinite
            options, i = alternatives(i)
            if i >= len(pattern) or pattern[i] != ")":
                raise _NotFinite
            return options, i + 1
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "b":
                return {""}, i + 2
            if escaped.isalnum():
                raise _NotFinite  # \w, \d, \s...
            return {escaped}, i + 2
        if char.isalnum() or char == " ":
            return {char}, i + 1
        raise _NotFinite

    try:
        found, end = alternatives(0)
    except (_NotFinite, IndexError):
        return frozenset()
    return frozenset(found) if end == len(pattern) else frozenset()


def _parse_line(line: str) -> _Rule | None:
    """One rule from one line (None for a blank line or a comment); raises ValueError."""
    text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("re:") else line.strip()
    if not text:
        return None
    kind, sep, rest = text.partition(":")
    if sep and kind.strip() == "re":
        pattern = rest.strip()
        if not pattern:
            raise ValueError("empty pattern after 're:'")
        try:
            return _Pattern(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    if sep and kind.strip() == "combo":
        groups = tuple(
            frozenset(w for term in group.split(",") for w in _words(term)) for group in rest.split(";")
        )
        if len(groups) < 2 or not all(groups):
            raise ValueError("'combo:' needs two or more non-empty groups separated by ';'")
        return _Combo(groups)
    if sep:
        raise ValueError(f"unknown rule kind {kind.strip()!r} (use a plain term, 're:' or 'combo:')")
    words = _words(text)
    if not words:
        raise ValueError("a term must contain a letter or a digit")
    return _Term(words)


class PromptModeration:
    """Decides whether a prompt is refused, before anything is charged or sent to a provider."""

    def __init__(self, rules: Iterable[_Rule]) -> None:
        self._rules = tuple(rules)
        self._lexicon = _Lexicon.of(w for rule in self._rules for w in rule.vocabulary)
        # The same rules grouped so that a prompt costs a few C calls, not one call per rule:
        # single words as one set, and the patterns as one alternation where they combine.
        self._single = frozenset(
            r.words[0] for r in self._rules if isinstance(r, _Term) and len(r.words) == 1
        )
        self._others: tuple[_Term | _Combo, ...] = tuple(
            r
            for r in self._rules
            if not (isinstance(r, _Pattern) or (isinstance(r, _Term) and len(r.words) == 1))
        )
        self._patterns = _combined([r.regex for r in self._rules if isinstance(r, _Pattern)])

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: str = "<moderation list>") -> PromptModeration:
        rules = []
        for number, line in enumerate(lines, start=1):
            try:
                rule = _parse_line(line)
            except ValueError as exc:
                raise ModerationFileError(f"{source}:{number}: {exc}") from None
            if rule is not None:
                rules.append(rule)
        return cls(rules)

    @classmethod
    def from_file(cls, path: Path | None = None) -> PromptModeration:
        """The rules of ``path`` (the default list when None); raises :class:`ModerationFileError`."""
        path = path or DEFAULT_LIST
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModerationFileError(f"{path}:0: cannot read the moderation file ({exc})") from None
        return cls.from_lines(text.splitlines(), str(path))

    @property
    def rule_count(self) -> int:
        return len(self._rules)

    def variants(self, prompt: str) -> list[tuple[str, ...]]:
        """The word sequences the rules are matched against (for tests and for operators who
        wonder why a prompt was or was not refused)."""
        return normalised_variants(prompt, self._lexicon)

    def refuses(self, prompt: str | None) -> bool:
        """True when any rule matches any normalised reading of the prompt."""
        if not prompt or not self._rules:
            return False
        for words in normalised_variants(prompt, self._lexicon):
            present = frozenset(words)
            if not self._single.isdisjoint(present):
                return True
            joined = f" {' '.join(words)} "
            if any(rule.matches(words, present, joined) for rule in self._others):
                return True
            stripped = joined[1:-1]
            if any(pattern.search(stripped) for pattern in self._patterns):
                return True
        return False


def _combined(patterns: Sequence[re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    """The patterns as one alternation (one scan of the prompt), or as they are where one of them
    would mean something else inside it (group references, inline flags) or it does not compile."""
    if len(patterns) < 2 or any(_REFERS.search(p.pattern) for p in patterns):
        return tuple(patterns)
    try:
        return (re.compile("|".join(f"(?:{p.pattern})" for p in patterns)),)
    except re.error:
        return tuple(patterns)
