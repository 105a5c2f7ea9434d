"""Field types and schema rules the API's models share (``schemas/models.py``).

Each states in the JSON schema exactly what it validates, so that the OpenAPI document generated
from the models never calls valid a value the handlers refuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, JsonValue

from chalicelib.domain.text import printable_pattern

JsonDict = dict[str, JsonValue]

HTTPS_URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]://"  # https://, in any case


def integral(value: Any) -> Any:
    """JSON Schema's ``integer`` is any number without a fraction, so 398.0 is 398 (not 398.5)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An int field as JSON Schema reads ``integer``. Bounds of an optional one go in its Annotated,
# before the validator (``Annotated[int, Field(ge=1), BeforeValidator(integral)] | None``): given
# on the outer Field, pydantic cannot state them in the schema (it writes "ge" for "minimum").
JsonInt = Annotated[int, BeforeValidator(integral)]


def printable(allowed: str = "", *, nonblank: bool = False) -> Callable[[JsonDict], None]:
    """The schema's pattern of ``text.is_forbidden``'s rule, built when a schema is generated."""

    def extra(schema: JsonDict) -> None:
        schema["pattern"] = printable_pattern(allowed, nonblank=nonblank)

    return extra


def https_url(value: str | None) -> str | None:
    if value is not None and not re.match(HTTPS_URL_PATTERN, value):
        raise ValueError("callback_url must be an https URL")
    return value


def exactly_one(*fields: str) -> JsonDict:
    """``oneOf``: exactly one of these optional fields is given a (non-null) string."""
    return {"oneOf": [{"required": [f], "properties": {f: {"type": "string"}}} for f in fields]}
