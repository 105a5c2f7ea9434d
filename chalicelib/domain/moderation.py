"""Prompt moderation: a list of refused terms and patterns, and the normalisation that keeps
spacing, case, accents and leetspeak from slipping past it.

The list is a text file (``AVATARFLOW_MODERATION_FILE``; the default is ``refused_terms.txt``
beside this module), one rule a line, ``#`` starts a comment:

- ``a term`` or ``a short phrase``: refused where its words appear as whole words of the prompt,
  in that order. Whole words: "rape" refuses "r a p e" and "R4PE" but not "grape" or "therapist".
- ``re: <pattern>``: a Python regular expression searched in the normalised prompt (lower-case
  ASCII words separated by single spaces), for families of words (``re: \\bpedo\\w*``).
- ``combo: word, word ; word, word``: refused where a word of EACH ``;`` group appears anywhere in
  the prompt ("a child" alone and "nude" alone pass; together they do not).

A file that does not parse raises :class:`ModerationFileError` naming the file and the line, so
that a deployment with a broken list fails at start-up instead of refusing nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_LIST", "ModerationFileError", "PromptModeration", "normalised_variants"]

DEFAULT_LIST = Path(__file__).with_name("refused_terms.txt")

# Digits and symbols written for letters. "1" stands for "i" as often as "l": both are tried.
_LEET = str.maketrans(
    {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i"}
)
_LEET_ONE = ("i", "l")
_SEPARATORS = re.compile(r"[^a-z0-9@$!]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_NOT_ALNUM_RUN = re.compile(r"[^a-z0-9]+")


class ModerationFileError(ValueError):
    """The moderation list could not be read: ``<file>:<line>: <what is wrong>``."""


def _fold(text: str) -> str:
    """Lower case, accents dropped (NFKD, combining marks removed), compatibility forms folded
    (full-width letters, ligatures)."""
    if text.isascii():  # NFKD leaves ASCII as it is and it has no combining marks
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _merge_letter_runs(words: Sequence[str], keep_article: bool = False) -> list[str]:
    """Runs of two or more one-character words joined into one word: ``r a p e`` -> ``rape``.
    With ``keep_article``, a run's leading "a" or "i" stays a word of its own ("a r a p e")."""
    merged: list[str] = []
    run: list[str] = []
    for word in (*words, ""):
        if len(word) == 1:
            run.append(word)
            continue
        if keep_article and len(run) >= 3 and run[0] in ("a", "i"):
            merged.append(run.pop(0))
        if len(run) >= 2:
            merged.append("".join(run))
        else:
            merged.extend(run)
        run = []
        if word:
            merged.append(word)
    return merged


def normalised_variants(text: str) -> list[tuple[str, ...]]:
    """The prompt as the word sequences a rule is matched against: as written and with
    leetspeak read as letters, each also with spaced-out letters joined."""
    folded = _fold(text)
    plain = [w for w in _SEPARATORS.split(folded) if w]
    readings: dict[tuple[str, ...], None] = {tuple(plain): None}
    for one in _LEET_ONE:
        readings[tuple(w.replace("1", one).translate(_LEET) for w in plain)] = None
    variants: dict[tuple[str, ...], None] = {}
    # A prompt without digits or symbols reads the same three ways: each reading is cleaned once.
    for words in readings:
        cleaned = [_NOT_ALNUM.sub("", w) for w in words]
        cleaned = [w for w in cleaned if w]
        variants[tuple(cleaned)] = None
        variants[tuple(_merge_letter_runs(cleaned))] = None
        variants[tuple(_merge_letter_runs(cleaned, keep_article=True))] = None
    return list(variants)


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _NOT_ALNUM_RUN.split(_fold(text)) if w)


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]

    def matches(self, words: tuple[str, ...], joined: str) -> bool:
        n = len(self.words)
        # The first word's presence is checked at C speed; most prompts stop there.
        if self.words[0] in words and (
            n == 1 or any(words[i : i + n] == self.words for i in range(len(words) - n + 1))
        ):
            return True
        # A phrase written as one word ("childporn") is still that phrase.
        return n > 1 and f" {''.join(self.words)} " in joined


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]

    def matches(self, words: tuple[str, ...], joined: str) -> bool:
        return self.regex.search(joined.strip()) is not None


@dataclass(frozen=True)
class _Combo:
    groups: tuple[frozenset[str], ...]

    def matches(self, words: tuple[str, ...], joined: str) -> bool:
        present = set(words)
        return all(group & present for group in self.groups)


_Rule = _Term | _Pattern | _Combo


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

    def refuses(self, prompt: str | None) -> bool:
        """True when any rule matches any normalised reading of the prompt."""
        if not prompt or not self._rules:
            return False
        for words in normalised_variants(prompt):
            joined = f" {' '.join(words)} "
            if any(rule.matches(words, joined) for rule in self._rules):
                return True
        return False
