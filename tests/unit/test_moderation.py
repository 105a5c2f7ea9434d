"""Prompt moderation: evasions are refused, harmless words that contain a refused one pass, and a
list that does not parse names its file and line. The tables of issue 22 (tests/moderation_cases.py)
run here on the domain and in tests/functional/test_moderation.py through the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain import moderation_rules, prompt_reading
from chalicelib.domain.moderation import ModerationFileError, PromptModeration, normalised_variants
from tests.moderation_cases import EVASIONS, HARMLESS, SPACED_PAIR

DEFAULT = PromptModeration.from_file()


def test_letters_spaced_with_two_spaces_between_the_words_are_refused() -> None:
    assert DEFAULT.refuses("n u d e  c h i l d")
    assert DEFAULT.variants("n u d e  c h i l d") == [("nude", "child")]


@pytest.mark.parametrize("word", ["grape", "therapist", "Scunthorpe"])
def test_the_classic_false_positives_pass(word: str) -> None:
    assert not DEFAULT.refuses(word)
    assert not DEFAULT.refuses(" ".join(word))  # spelled out too


def test_the_tables_are_as_large_as_the_issue_asks() -> None:
    assert len(EVASIONS) >= 50 and len(HARMLESS) >= 50
    assert SPACED_PAIR in [prompt for prompt, _ in EVASIONS]


@pytest.mark.parametrize(("prompt", "trick"), EVASIONS, ids=[trick for _, trick in EVASIONS])
def test_every_evasion_of_the_table_is_refused(prompt: str, trick: str) -> None:
    assert DEFAULT.refuses(prompt), (prompt, trick, DEFAULT.variants(prompt))


@pytest.mark.parametrize(("prompt", "why"), HARMLESS, ids=[why for _, why in HARMLESS])
def test_every_harmless_look_alike_of_the_table_passes(prompt: str, why: str) -> None:
    assert not DEFAULT.refuses(prompt), (prompt, why, DEFAULT.variants(prompt))


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


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("n u d e  c h i l d", ("nude", "child")),  # a wider gap ends a spaced-out word
        ("n.u.d.e c.h.i.l.d", ("nude", "child")),  # so does another separator
        ("n u d e c h i l d", ("nudechild",)),  # one gap everywhere: one run (segmented below)
        ("a b  c", ("ab", "c")),
    ],
)
def test_spaced_out_letters_are_joined_where_the_same_gap_joins_them(
    prompt: str, words: tuple[str, ...]
) -> None:
    assert normalised_variants(prompt)[0] == words


def test_run_together_list_words_are_segmented_only_along_word_edges() -> None:
    assert DEFAULT.variants("nudechild") == [("nudechild",), ("nude", "child")]
    assert DEFAULT.variants("chi ldporn") == [("chi", "ldporn"), ("child", "porn")]
    assert DEFAULT.variants("a r a p e") == [("arape",), ("a", "rape")]  # the article stays a word
    # "rape" inside "grape" and "rapist" inside "therapist" start inside a word: not read.
    assert DEFAULT.variants("grape therapist") == [("grape", "therapist")]
    # A list word followed by letters that are no list word is not read either.
    assert DEFAULT.variants("rapeseed kidney") == [("rapeseed", "kidney")]


def test_invisible_characters_go_and_look_alike_letters_read_as_latin() -> None:
    assert normalised_variants("nu\u200bde ch\u00adild\u2060") == [("nude", "child")]
    assert normalised_variants("\u0441\u0430t \u0440\u043e\u0441") == [("cat", "poc")]  # Cyrillic
    assert normalised_variants("\u039a\u0391\u03a4") == [("kat",)]  # Greek capitals
    # Greek capital iota looks like I and l: its prototype is read both ways, like a "1".
    assert ("kid",) in normalised_variants("K\u0399D") and ("kld",) in normalised_variants("K\u0399D")


def test_the_confusables_data_is_read_only_for_a_prompt_that_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prompt_reading._skeleton_table.cache_clear()
    monkeypatch.setattr(prompt_reading, "_FOLDED", prompt_reading._Folding({c: chr(c) for c in range(128)}))
    assert not DEFAULT.refuses("a fox in the snow, crème brûlée")  # ASCII once NFKD has run
    assert prompt_reading._skeleton_table.cache_info().currsize == 0
    assert DEFAULT.refuses("r\u0430pe")
    assert prompt_reading._skeleton_table.cache_info().currsize == 1


def test_the_folding_table_stops_growing_at_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_reading, "_FOLDING_SIZE", 130)
    monkeypatch.setattr(prompt_reading, "_FOLDED", prompt_reading._Folding({c: chr(c) for c in range(128)}))
    prompt = "".join(chr(code) for code in range(0x4E00, 0x4E00 + 50))  # 50 distinct CJK letters
    assert not DEFAULT.refuses(prompt)
    assert not DEFAULT.refuses(prompt)  # looked up again, the same answer
    assert len(prompt_reading._FOLDED) == 130


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"\brap(e|es)\b", {"rape", "rapes"}),
        (r"\bpa?edo(s|phile)?\b", {"pedo", "paedo", "pedos", "paedos", "pedophile", "paedophile"}),
        (r"\bkikes?\b", {"kike", "kikes"}),
        (r"(?:ab|cd)\-x", {"ab-x", "cd-x"}),
        (r"\bpedo\w*", set()),  # infinite: whole words only
        (r"colou?rs+", set()),
        (r"[abc]at", set()),
        (r"(?i)cat", set()),
        (r"(unclosed", set()),
    ],
)
def test_the_words_of_a_finite_pattern_are_enumerated_for_the_segmentation(
    pattern: str, words: set[str]
) -> None:
    assert moderation_rules._finite_words(pattern) == words


def test_patterns_that_cannot_share_one_alternation_are_searched_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "refused.txt"
    path.write_text("re: (\\w)\\1{2}\nre: \\bmeow\\b\n", encoding="utf-8")  # a group reference
    moderation_list = PromptModeration.from_file(path)
    assert moderation_list.refuses("zzz top")  # three of a kind, through \1
    assert moderation_list.refuses("cat says meow")
    assert not moderation_list.refuses("ab cd")


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
