"""The rules of the moderation list (``domain/moderation.py``): how a line of the list is parsed,
and how each kind of rule matches the words of a prompt as ``domain/prompt_reading.py`` reads it.

- ``a term`` or ``a short phrase`` (:class:`Term`): its words, whole and in that order;
- ``re: <pattern>`` (:class:`Pattern`): a regular expression searched in the normalised prompt;
- ``combo: word, word ; word, word`` (:class:`Combo`): a word of each group, anywhere.

A rule also gives the words it is made of (``vocabulary``): the segmentation reads run-together
letters as those words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.prompt_reading import plain_words

# What a pattern cannot keep inside a combined alternation: group references and inline flags.
_REFERS = re.compile(r"\\[1-9]|\(\?P=|\(\?[aiLmsux-]+[:)]")


@dataclass(frozen=True)
class Term:
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
class Pattern:
    regex: re.Pattern[str]  # searched by PromptModeration, the patterns combined where they can be

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return tuple(_finite_words(self.regex.pattern))


@dataclass(frozen=True)
class Combo:
    groups: tuple[frozenset[str], ...]

    def matches(self, words: tuple[str, ...], present: frozenset[str], joined: str) -> bool:
        return all(not group.isdisjoint(present) for group in self.groups)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return tuple(w for group in self.groups for w in group)


Rule = Term | Pattern | Combo


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


def parse_line(line: str) -> Rule | None:
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
            return Pattern(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    if sep and kind.strip() == "combo":
        groups = tuple(
            frozenset(w for term in group.split(",") for w in plain_words(term)) for group in rest.split(";")
        )
        if len(groups) < 2 or not all(groups):
            raise ValueError("'combo:' needs two or more non-empty groups separated by ';'")
        return Combo(groups)
    if sep:
        raise ValueError(f"unknown rule kind {kind.strip()!r} (use a plain term, 're:' or 'combo:')")
    words = plain_words(text)
    if not words:
        raise ValueError("a term must contain a letter or a digit")
    return Term(words)


def combined_patterns(patterns: Sequence[re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    """The patterns as one alternation (one scan of the prompt), or as they are where one of them
    would mean something else inside it (group references, inline flags) or it does not compile."""
    if len(patterns) < 2 or any(_REFERS.search(p.pattern) for p in patterns):
        return tuple(patterns)
    try:
        return (re.compile("|".join(f"(?:{p.pattern})" for p in patterns)),)
    except re.error:
        return tuple(patterns)
