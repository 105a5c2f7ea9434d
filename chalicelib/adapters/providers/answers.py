"""Reading vendors' answers: error markers, Retry-After, typed field access, NSFW flags."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from chalicelib.ports import ProviderDown

__all__ = [
    "BILLING_MARKERS",
    "CONTENT_POLICY_MARKERS",
    "as_dict",
    "as_str",
    "error_message",
    "first_item",
    "nsfw_flagged",
    "parse_retry_after",
    "safe_id",
    "same_origin",
]

# Markers of a refusal on content grounds, in lower case. Deliberately specific: a validation
# error that merely names the ``enable_safety_checker`` field must stay a bad request.
CONTENT_POLICY_MARKERS: tuple[str, ...] = (
    "content_policy_violation",  # OpenAI, fal 422 detail type
    "moderation_blocked",  # OpenAI (gpt-image-1)
    "safety system",  # OpenAI: "rejected as a result of our safety system"
    "nsfw",  # Replicate cog models: "NSFW content detected", Together, workers
    "flagged by a content checker",  # fal
    "content policy",
    "safety_violations",
)
# Markers of an account that cannot pay: not a throttle, and not worth retrying elsewhere later.
BILLING_MARKERS: tuple[str, ...] = (
    "insufficient_quota",  # OpenAI 429
    "billing_hard_limit",  # OpenAI 400
    "insufficient credit",
    "insufficient balance",
    "insufficient funds",
    "exhausted balance",  # fal 403 "User is locked. Reason: Exhausted balance"
    "payment required",
    "spend limit",  # Replicate "You've hit your monthly spend limit"
    "credit limit",
    "out of credit",
    "top up your balance",
)

_RETRY_IN_BODY = re.compile(
    r"(?:available|resets?|retry|try again)\s+(?:in|after)\s+~?\s*(\d+(?:\.\d+)?)"
    r"\s*(?:s\b|secs?\b|seconds?\b)",
    re.IGNORECASE,
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def parse_retry_after(headers: Mapping[str, str], body_text: str = "") -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date) or a throttling message body."""
    raw = (headers.get("retry-after") or "").strip()
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    match = _RETRY_IN_BODY.search(body_text)
    return float(match.group(1)) if match else None


def error_message(payload: Any, text: str) -> str:
    """The vendor's own short error message, from the usual JSON error shapes."""
    candidates: list[Any] = []
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            candidates += [error.get("message"), error.get("code")]
        candidates += [error, payload.get("detail"), payload.get("message"), payload.get("title")]
    elif isinstance(payload, list):
        candidates.append(payload)
    for candidate in candidates:
        value = candidate
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = value[0].get("msg") or value[0].get("message")  # fal/pydantic 422 detail list
        if isinstance(value, str) and value.strip():
            return value
    return text


def nsfw_flagged(payload: Any) -> bool:
    """True if a result carries a safety-checker flag (``has_nsfw_concepts: [true]`` and kin)."""
    if not isinstance(payload, dict):
        return False
    for key in ("has_nsfw_concepts", "nsfw_content_detected", "nsfw"):
        flag = payload.get(key)
        if flag is True or (isinstance(flag, list) and any(item is True for item in flag)):
            return True
    return False


def as_dict(value: Any, provider: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProviderDown(f"{provider}: unexpected response shape ({what} is not an object)")
    return value


def first_item(value: Any, provider: str, what: str) -> Any:
    if not isinstance(value, list) or not value:
        raise ProviderDown(f"{provider}: unexpected response shape (no {what})")
    return value[0]


def as_str(value: Any, provider: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProviderDown(f"{provider}: unexpected response shape ({what} is missing)")
    return value


def safe_id(value: Any, provider: str, what: str) -> str:
    """A vendor id that is safe to put in a URL path."""
    text = as_str(value, provider, what)
    if not _SAFE_ID.match(text):
        raise ProviderDown(f"{provider}: unexpected {what} format")
    return text


def same_origin(url: str, base_url: str) -> bool:
    """True if ``url`` is on the same scheme, host and port as ``base_url``."""
    try:
        a, b = httpx.URL(url), httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)
