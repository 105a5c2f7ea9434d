"""Prompt moderation: evasions are refused, harmless words that contain a refused one pass, and a
list that does not parse names its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.moderation import ModerationFileError, PromptModeration, normalised_variants

DEFAULT = PromptModeration.from_file()


@pytest.mark.parametrize(
    "prompt",
    [
        "rape",
        "RaPe scene",  # case
        "r a p e",  # spacing
        "r.a.p.e",  # punctuation between letters
        "rápë",  # accents
        "r4p3",  # digits for letters
        "a naked kid",  # the minors combination
        "N U D E schoolgirl",
        "sexy k1d",
        "\uff2e\uff41\uff4b\uff45\uff44 child",  # full-width letters
        "childporn",  # a phrase written as one word
        "child   porn",
        "paedophile",
        "p3d0",
        "S W A S T I K A flag",
    ],
)
def test_the_default_list_refuses_evasions(prompt: str) -> None:
    assert DEFAULT.refuses(prompt), prompt


@pytest.mark.parametrize(
    "prompt",
    [
        "grape juice on a table",  # "rape" inside a word
        "a therapist in her office",  # "rapist" inside a word
        "drapery and curtains",
        "kidney bean farmer",  # "kid" inside a word
        "a kid astronaut",  # a minor, nothing sexual
        "sexy pirate captain",  # sexual-ish, no minor
        "pedometer on the wrist",
        "sextant navigator",
        "fagioli soup chef",
        "3D cartoon of a fox",
        "",
    ],
)
def test_harmless_prompts_pass(prompt: str) -> None:
    assert not DEFAULT.refuses(prompt), prompt


def test_normalisation_reads_leetspeak_both_ways_and_joins_spaced_letters() -> None:
    variants = normalised_variants("K 1 D, Éclair")
    assert ("kid", "eclair") in variants
    assert ("kld", "eclair") in variants


def test_a_custom_list_with_terms_patterns_and_combinations(tmp_path: Path) -> None:
    path = tmp_path / "refused.txt"
    path.write_text("# ours\nbanana split\nre: \\bmeow+\\b  \ncombo: red ; hat, cap\n", encoding="utf-8")
    moderation = PromptModeration.from_file(path)
    assert moderation.rule_count == 3
    assert moderation.refuses("a b a n a n a split sundae")
    assert moderation.refuses("cat says MEOWWW")
    assert moderation.refuses("a cap, very red")
    assert not moderation.refuses("a red scarf")
    assert not moderation.refuses("bananas split")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("ok term\nre: (unclosed\n", 2, "regular expression"),
        ("\n\ncombo: alone\n", 3, "combo"),
        ("fine\nwhat: ever\n", 2, "unknown rule kind"),
        ("!!!\n", 1, "letter or a digit"),
    ],
)
def test_a_file_that_does_not_parse_names_file_and_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "broken.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModerationFileError) as raised:
        PromptModeration.from_file(path)
    assert str(raised.value).startswith(f"{path}:{line}: ")
    assert reason in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModerationFileError, match="cannot read"):
        PromptModeration.from_file(tmp_path / "nope.txt")
