"""The string formats of the API as regular expressions, built from the rules the code applies.

The OpenAPI document states them as ``pattern``s so that a client (or a fuzzer) that follows the
document never sends a value the service refuses: the cursors the services hand out, the
``Prefer`` header that ``api/prefer.py`` parses and the ``Idempotency-Key`` of ``api/users.py``.
``tests/unit/test_formats.py`` checks every pattern against the code that parses the value.

The patterns are ECMA-262 (JSON Schema's dialect) and read the same in Python's ``re`` and in Rust's
``regex``: no look-around, no inline flags, no ``\\p{...}``. The long ones are built on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ASCII_BYTES = frozenset(range(128))
DIGIT_BYTES = frozenset(b"0123456789")

# The history cursor (services/generation/read.py encode_cursor): base64url of "<score>:<generation id>", the
# score being the creation time in epoch milliseconds (13 digits until the year 2286) and the id
# "gen_" + secrets.token_urlsafe(15) (services/generation/admission.py): 20 characters after "gen_". The
# pattern allows any ASCII there (decode_cursor does), which keeps it short.
GENERATION_ID_TOKEN_CHARS = 20
SCORE_DIGITS = 13
# The gallery cursor (services/gallery/catalog.py _encode_cursor): base64url of a gallery item id, 1 to 128
# characters once decoded; item ids are ASCII.
GALLERY_CURSOR_MAX_ID_CHARS = 128


def _ranges(codes: Iterable[int], escape: Sequence[int] = ()) -> str:
    """The body of a character class holding ``codes``, as ranges where they run on."""
    ordered = sorted(set(codes))
    parts: list[str] = []
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = _char(ordered[index], escape), _char(ordered[end], escape)
        parts.append(first if end == index else first + last if end == index + 1 else f"{first}-{last}")
        index = end + 1
    return "".join(parts)


def _char(code: int, escape: Sequence[int]) -> str:
    if code in escape or not 0x20 <= code < 0x7F:
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    if chr(code) in "\\]^-[":
        return "\\" + chr(code)
    return chr(code)


def _b64_class(values: Iterable[int]) -> str:
    body = _ranges(ord(B64URL[value]) for value in values)
    return body if len(body) == 1 else f"[{body}]"


def _chunk(classes: Sequence[frozenset[int]]) -> str:
    """The unpadded base64url encodings of 1 to 3 bytes, byte i drawn from ``classes[i]``."""
    total_bits = 8 * len(classes)

    @functools.cache
    def emit(char: int, byte: int, width: int, pending: frozenset[int]) -> str:
        # ``pending``: the values the not yet written low ``width`` bits of byte ``byte`` may take.
        start = 6 * char
        if start >= total_bits:
            return ""
        following: dict[int, set[int]] = {}
        if width >= 6:
            for value in pending:
                following.setdefault(value >> (width - 6), set()).add(value & ((1 << (width - 6)) - 1))
            nxt = (byte, width - 6) if width > 6 else (byte + 1, 0)
        elif byte + (1 if width else 0) >= len(classes):  # the last bits: zero padding
            for value in pending:
                following.setdefault(value << (6 - width), set())
            nxt = (len(classes), 0)
        else:
            taken = 6 - width
            current = byte + 1 if width else byte
            for value in pending if width else {0}:
                for new in classes[current]:
                    code = (value << taken) | (new >> (8 - taken))
                    following.setdefault(code, set()).add(new & ((1 << (8 - taken)) - 1))
            nxt = (current, 8 - taken)
        by_rest: dict[str, list[int]] = {}
        for code, rest in following.items():
            by_rest.setdefault(emit(char + 1, nxt[0], nxt[1], frozenset(rest)), []).append(code)
        branches = [_b64_class(codes) + rest for rest, codes in sorted(by_rest.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(0, 0, 0, frozenset())


def _repeat(unit: str, low: int, high: int) -> str:
    if high == 0:
        return ""
    if (low, high) == (1, 1):
        return unit
    count = f"{{{low}}}" if low == high else f"{{{low},{high}}}"
    return f"(?:{unit}){count}"


def base64url_pattern(byte_classes: Sequence[frozenset[int]]) -> str:
    """The unpadded base64url encodings of a fixed-length byte string, byte i from class i."""
    chunks = [_chunk(byte_classes[i : i + 3]) for i in range(0, len(byte_classes), 3)]
    parts: list[str] = []
    index = 0
    while index < len(chunks):
        end = index
        while end + 1 < len(chunks) and chunks[end + 1] == chunks[index]:
            end += 1
        parts.append(_repeat(chunks[index], end - index + 1, end - index + 1))
        index = end + 1
    return "^" + "".join(parts) + "$"


def base64url_text_pattern(byte_class: frozenset[int], low: int, high: int) -> str:
    """The unpadded base64url encodings of ``low`` (at least 1) to ``high`` bytes from ``byte_class``."""
    group = _chunk([byte_class] * 3)
    branches = []
    for tail in (0, 1, 2):
        fewest, most = max(0, -(-(low - tail) // 3)), (high - tail) // 3
        if fewest > most or tail == most == 0:
            continue
        branches.append(_repeat(group, fewest, most) + (_chunk([byte_class] * tail) if tail else ""))
    return "^(?:" + "|".join(branches) + ")$"


@functools.cache
def generation_cursor_pattern() -> str:
    """``GET /v1/generations?cursor=``: a ``next_cursor`` of that route."""
    raw = [DIGIT_BYTES] * SCORE_DIGITS + [frozenset({b}) for b in b":gen_"]
    return base64url_pattern(raw + [ASCII_BYTES] * GENERATION_ID_TOKEN_CHARS)


@functools.cache
def gallery_cursor_pattern() -> str:
    """``GET /v1/gallery?cursor=``: a ``next_cursor`` of that route."""
    return base64url_text_pattern(ASCII_BYTES, 1, GALLERY_CURSOR_MAX_ID_CHARS)


# --- headers ------------------------------------------------------------------------------------

# What str.strip() removes from a header value (latin-1, as HTTP servers decode headers), and what
# float() does: not quite the same (float() keeps the ASCII separators \x1c-\x1f).
_STRIPPED = [code for code in range(256) if chr(code).isspace()]


def _float_strips(char: str) -> bool:
    try:
        float(char + "1" + char)
    except ValueError:
        return False
    return True


_FLOAT_STRIPPED = [code for code in range(256) if chr(code).isspace() and _float_strips(chr(code))]


@functools.cache
def prefer_pattern() -> str:
    """``Prefer`` (RFC 7240), exactly as ``Prefer.parse`` reads it: comma-separated preferences,
    case-insensitive; ``wait=`` takes a number of seconds (Python's float syntax: digits with
    optional ``_`` separators, a fraction, an exponent, ``inf`` or ``nan``), ``respond-async``
    takes nothing, and every other preference is ignored (RFC 7240 says a server MUST)."""
    ws = f"[{_ranges(_STRIPPED, escape=_STRIPPED)}]*"
    float_ws = f"[{_ranges(_FLOAT_STRIPPED, escape=_FLOAT_STRIPPED)}]*"
    first = f"[^{_ranges([*_STRIPPED, *b',Ww'], escape=_STRIPPED)}]"  # not blank, not "w"
    rest = "[^,]*"
    # A preference that does not start with "wait=" (after leading whitespace), letter by letter.
    not_wait = (
        f"(?:{first}{rest}|[wW](?:[^,aA]{rest}|[aA](?:[^,iI]{rest}|[iI]"
        f"(?:[^,tT]{rest}|[tT](?:[^,=]{rest})?)?)?)?)?"
    )
    digits = "[0-9](?:_?[0-9])*"
    number = (
        f"[+\\-]?(?:(?:{digits}(?:\\.(?:{digits})?)?|\\.{digits})(?:[eE][+\\-]?{digits})?"
        "|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
    )
    # Prefer.parse strips the preference (str.strip), then float() strips what follows "wait=".
    wait = f"[wW][aA][iI][tT]={float_ws}{number}{ws}"
    preference = f"{ws}(?:{wait}|{not_wait})"
    return f"^{preference}(?:,{preference})*$"


MAX_IDEMPOTENCY_KEY_CHARS = 255  # api/users.py MAX_IDEMPOTENCY_KEY
# Servers strip a header value's surrounding whitespace: a key is 1 to 255 characters without it.
IDEMPOTENCY_KEY_PATTERN = "^\\S(?:.*\\S)?$"
