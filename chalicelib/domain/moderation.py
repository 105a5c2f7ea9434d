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

The prompt is matched as ``domain/prompt_reading.py`` reads it: folded (compatibility forms,
accents, invisible characters and look-alike letters), split into words, read with and without
leetspeak, spaced-out letters joined and run-together list words segmented. How each kind of rule
is parsed and matched: ``domain/moderation_rules.py``.

A file that does not parse raises :class:`ModerationFileError` naming the file and the line, so
that a deployment with a broken list fails at start-up instead of refusing nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from chalicelib.domain.moderation_rules import Combo, Pattern, Rule, Term, combined_patterns, parse_line
from chalicelib.domain.prompt_reading import Lexicon, normalised_variants

__all__ = ["DEFAULT_LIST", "ModerationFileError", "PromptModeration", "normalised_variants"]

DEFAULT_LIST = Path(__file__).with_name("refused_terms.txt")


class ModerationFileError(ValueError):
    """The moderation list could not be read: ``<file>:<line>: <what is wrong>``."""


class PromptModeration:
    """Decides whether a prompt is refused, before anything is charged or sent to a provider."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(rules)
        self._lexicon = Lexicon.of(w for rule in self._rules for w in rule.vocabulary)
        # The same rules grouped so that a prompt costs a few C calls, not one call per rule:
        # single words as one set, and the patterns as one alternation where they combine.
        self._single = frozenset(r.words[0] for r in self._rules if isinstance(r, Term) and len(r.words) == 1)
        self._others: tuple[Term | Combo, ...] = tuple(
            r
            for r in self._rules
            if not (isinstance(r, Pattern) or (isinstance(r, Term) and len(r.words) == 1))
        )
        self._patterns = combined_patterns([r.regex for r in self._rules if isinstance(r, Pattern)])

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: str = "<moderation list>") -> PromptModeration:
        rules = []
        for number, line in enumerate(lines, start=1):
            try:
                rule = parse_line(line)
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
