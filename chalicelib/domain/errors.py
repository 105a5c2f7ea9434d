"""Errors the API speaks: each maps to one status and one snake_case code of the contract."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error that becomes ``{"error": {"code", "message", "details"}}`` with ``status``."""

    status: int = 500
    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error, **self.extra}


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class QuotaExceeded(ApiError):
    status, code = 429, "quota_exceeded"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class BudgetExhausted(ApiError):
    status, code = 503, "budget_exhausted"


class ProviderUnavailable(ApiError):
    status, code = 503, "provider_unavailable"


class StoreUnavailable(ApiError):
    status, code = 503, "store_unavailable"


class InternalError(ApiError):
    status, code = 500, "internal"
