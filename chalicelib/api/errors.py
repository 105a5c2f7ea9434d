"""Domain errors as HTTP: the contract's status for each code, and the headers errors carry.

``Retry-After`` on every 429 and 503 (the error's own, else a default), ``X-RateLimit-*`` where
the request counted against a limit, and ``suggestions`` in the body of a refusal that offers
gallery items instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from chalice.app import Response

from chalicelib.domain.errors import DomainError, RateLimit

STATUS_BY_CODE: Mapping[str, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "content_rejected": 422,
    "quota_exceeded": 429,
    "rate_limited": 429,
    "budget_exhausted": 503,
    "provider_unavailable": 503,
    "store_unavailable": 503,
    "internal": 500,
}
DEFAULT_RETRY_AFTER = 5  # seconds, where a 429 or 503 does not say better


def rate_limit_headers(rate_limit: RateLimit | None) -> dict[str, str]:
    """``X-RateLimit-*`` of the caller's tightest window."""
    if rate_limit is None:
        return {}
    return {
        "X-RateLimit-Limit": str(rate_limit.limit),
        "X-RateLimit-Remaining": str(rate_limit.remaining),
        "X-RateLimit-Reset": str(rate_limit.reset_at),
    }


def status_of(error: DomainError) -> int:
    return STATUS_BY_CODE.get(error.code, 500)


def error_body(error: DomainError) -> dict[str, object]:
    """``{"error": {"code", "message", "details"?}, "suggestions"?}``."""
    inner: dict[str, object] = {"code": error.code, "message": error.message}
    if error.details:
        inner["details"] = error.details
    body: dict[str, object] = {"error": inner}
    if error.suggestions is not None:
        body["suggestions"] = error.suggestions
    return body


def error_response(error: DomainError) -> Response:
    status = status_of(error)
    headers: dict[str, str | list[str]] = {
        "Content-Type": "application/json",
        **rate_limit_headers(error.rate_limit),
    }
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(error.retry_after)))
    elif status in (429, 503):
        headers["Retry-After"] = str(DEFAULT_RETRY_AFTER)  # the contract: on every 429 and 503
    return Response(body=json.dumps(error_body(error)), status_code=status, headers=headers)
