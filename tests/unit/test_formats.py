"""The OpenAPI document's patterns against the code that parses each value.

Whatever a pattern admits, the code accepts (a fuzzer's "valid request rejected"); what the
service hands out (a cursor) matches it; where the code's rule is simple enough (``Prefer``,
printable text) the two agree both ways.
"""

from __future__ import annotations

import base64
import itertools
import random
import re
import secrets
import string
import sys

import pytest

from chalicelib.api import formats
from chalicelib.api.prefer import Prefer
from chalicelib.domain import text
from chalicelib.domain.errors import InvalidRequest
from chalicelib.services.gallery import catalog as gallery
from chalicelib.services.generation.read import decode_cursor, encode_cursor
from tests.regex_samples import sample

SAMPLES = 400


# --- cursors ------------------------------------------------------------------------------------


def test_the_history_cursors_the_service_makes_match_the_pattern() -> None:
    pattern = re.compile(formats.generation_cursor_pattern())
    rng = random.Random(1)
    for _ in range(SAMPLES):
        score = rng.randrange(10**12, 10**13)  # epoch milliseconds from 2001 to 2286
        cursor = encode_cursor((score, "gen_" + secrets.token_urlsafe(15)))
        assert pattern.fullmatch(cursor), cursor


def test_every_history_cursor_the_pattern_admits_is_accepted() -> None:
    rng = random.Random(2)
    for _ in range(SAMPLES):
        cursor = sample(formats.generation_cursor_pattern(), rng)
        score, gen_id = decode_cursor(cursor) or (0, "")
        assert gen_id.startswith("gen_") and score >= 0, cursor


def test_the_gallery_cursors_the_service_makes_match_the_pattern() -> None:
    pattern = re.compile(formats.gallery_cursor_pattern())
    rng = random.Random(3)
    ids = [f"proc-{style}-{n:03d}" for style in ("anime", "pixel") for n in range(20)]
    ids += ["pexels-601", "x", "y" * formats.GALLERY_CURSOR_MAX_ID_CHARS]
    ids += ["".join(rng.choices(string.printable, k=rng.randint(1, 128))) for _ in range(SAMPLES)]
    for item_id in ids:
        cursor = gallery._encode_cursor(item_id)
        assert pattern.fullmatch(cursor), item_id
        assert gallery._decode_cursor(cursor) == item_id
    assert not pattern.fullmatch(gallery._encode_cursor("y" * (formats.GALLERY_CURSOR_MAX_ID_CHARS + 1)))


def test_every_gallery_cursor_the_pattern_admits_is_accepted() -> None:
    rng = random.Random(4)
    for _ in range(SAMPLES):
        cursor = sample(formats.gallery_cursor_pattern(), rng)
        assert 1 <= len(gallery._decode_cursor(cursor)) <= formats.GALLERY_CURSOR_MAX_ID_CHARS


def _encodings(classes: list[frozenset[int]]) -> set[str]:
    return {
        base64.urlsafe_b64encode(bytes(combo)).decode().rstrip("=") for combo in itertools.product(*classes)
    }


@pytest.mark.parametrize("seed", range(6))
def test_a_base64url_chunk_pattern_is_exactly_the_encodings_of_its_bytes(seed: int) -> None:
    rng = random.Random(seed)
    for width in (1, 2, 3):
        classes = [frozenset(rng.sample(range(256), rng.randint(1, 12))) for _ in range(width)]
        pattern = re.compile(formats.base64url_pattern(classes))
        expected = _encodings(classes)
        assert all(pattern.fullmatch(encoded) for encoded in expected)
        length = width + 1
        if width < 3:
            candidates = ("".join(chars) for chars in itertools.product(formats.B64URL, repeat=length))
        else:
            candidates = ("".join(rng.choices(formats.B64URL, k=length)) for _ in range(20_000))
        for candidate in candidates:
            assert bool(pattern.fullmatch(candidate)) == (candidate in expected), (classes, candidate)


def test_the_text_pattern_counts_bytes_like_the_decoder() -> None:
    pattern = re.compile(formats.base64url_text_pattern(formats.ASCII_BYTES, 2, 5))
    for size in range(8):
        encoded = base64.urlsafe_b64encode(b"a" * size).decode().rstrip("=")
        assert bool(pattern.fullmatch(encoded)) == (2 <= size <= 5), size
    assert not pattern.fullmatch(base64.urlsafe_b64encode("é".encode() * 2).decode().rstrip("="))


# --- headers ------------------------------------------------------------------------------------


def _prefer_accepts(value: str) -> bool:
    try:
        Prefer.parse(value)
    except InvalidRequest:
        return False
    return True


def test_the_prefer_pattern_is_exactly_what_prefer_parse_accepts() -> None:
    pattern = re.compile(formats.prefer_pattern())
    rng = random.Random(5)
    pieces = [
        "wait=", "WAIT=", "Wait =", "wait", "respond-async", "handling=lenient", " ", "\t", ",", ", ",
        "1", "25", "0.5", ".5", "5.", "1e3", "1E-2", "1_0", "1__0", "_1", "inf", "-Infinity", "nan",
        "+", "-", "x", "=", "wai", "wa", "w", "\xa0", "\x85", "\x1c", "é", "2.5.1", "e",
    ]  # fmt: skip
    checked = set()
    for _ in range(20_000):
        value = "".join(rng.choices(pieces, k=rng.randint(0, 6)))
        if value in checked:
            continue
        checked.add(value)
        assert bool(pattern.fullmatch(value)) == _prefer_accepts(value), repr(value)
    for _ in range(SAMPLES):
        assert _prefer_accepts(sample(formats.prefer_pattern(), rng))


def test_every_idempotency_key_the_pattern_admits_keeps_its_length_through_http() -> None:
    # Servers strip a header value's surrounding whitespace; the pattern admits none there.
    rng = random.Random(6)
    for _ in range(SAMPLES):
        key = sample(formats.IDEMPOTENCY_KEY_PATTERN, rng)
        assert key == key.strip() and key


# --- printable text -----------------------------------------------------------------------------


def _checked_code_points(rng: random.Random) -> list[int]:
    """Every BMP code point, every boundary of an allowed range and random astral ones."""
    codes = set(range(0x10000)) | set(rng.sample(range(0x10000, sys.maxunicode + 1), 30_000))
    for first, last in text.allowed_ranges(text.PROMPT_CONTROLS) + text.allowed_ranges():
        codes |= {first - 1, first, last, last + 1}
    return sorted(code for code in codes if 0 <= code <= sys.maxunicode and not 0xD800 <= code < 0xE000)


def test_the_prompt_pattern_is_exactly_the_printable_rule() -> None:
    pattern = re.compile(text.printable_pattern(text.PROMPT_CONTROLS))
    for code in _checked_code_points(random.Random(7)):
        char = chr(code)
        assert bool(pattern.fullmatch(char)) == (not text.is_forbidden(char, text.PROMPT_CONTROLS)), hex(code)
    assert pattern.fullmatch("a cat\twith\r\nglasses") and not pattern.fullmatch("a\x00b")


def test_the_name_pattern_is_printable_and_not_blank() -> None:
    pattern = re.compile(text.printable_pattern(nonblank=True))
    for code in _checked_code_points(random.Random(8)):
        char = chr(code)
        ok = not text.is_forbidden(char) and not char.isspace()
        assert bool(pattern.fullmatch(f" {char}\u3000")) == ok, hex(code)
    assert not pattern.fullmatch("") and not pattern.fullmatch(" \u2003 ") and not pattern.fullmatch("a\tb")
    rng = random.Random(9)
    for _ in range(SAMPLES):
        name = sample(text.printable_pattern(nonblank=True), rng)
        assert name.strip() and text.first_forbidden(name) is None
