"""Errors the use cases raise: each carries one snake_case code of the contract, never an HTTP status.

``api/errors.py`` maps each code to its status and turns ``retry_after``, ``rate_limit`` and
``suggestions`` into the response's ``Retry-After``, ``X-RateLimit-*`` headers and body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class RateLimit:
    """The tightest window of the caller's limits, as of this request."""

    limit: int
    remaining: int
    reset_at: int  # epoch seconds


class DomainError(Exception):
    """A refusal or failure the client is told about: ``{"error": {"code", "message", "details"}}``.

    ``retry_after`` (seconds) says when trying again makes sense; ``suggestions`` are gallery items
    offered instead; ``rate_limit`` is the caller's tightest window, where the request counted.
    """

    code: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        *,
        details: Sequence[dict[str, Any]] | None = None,
        retry_after: int | None = None,
        suggestions: Sequence[dict[str, Any]] | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details) if details else None
        self.retry_after = retry_after
        self.suggestions = list(suggestions) if suggestions is not None else None
        self.rate_limit = rate_limit


class InvalidRequest(DomainError):
    code = "invalid_request"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class ContentRejected(DomainError):
    code = "content_rejected"


class QuotaExceeded(DomainError):
    code = "quota_exceeded"


class RateLimited(DomainError):
    code = "rate_limited"


class BudgetExhausted(DomainError):
    code = "budget_exhausted"


class ProviderUnavailable(DomainError):
    code = "provider_unavailable"


class StoreUnavailable(DomainError):
    code = "store_unavailable"


class InternalError(DomainError):
    code = "internal"
