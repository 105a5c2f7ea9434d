"""Cross-cutting HTTP concerns: request ids and logs, CORS, Chalice's own error bodies, and HEAD
answers without a body."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

from chalice.app import Request, Response

from chalicelib.bootstrap import current_settings
from chalicelib.observability.logs import log_context

log = logging.getLogger("avatarflow.http")

# Chalice answers some requests itself (415, 405, a binary type nobody accepts); those get the
# contract's error shape too.
_CHALICE_CODES = {
    "UnsupportedMediaType": ("unsupported_media_type", "The body must be application/json."),
    "MethodNotAllowedError": ("invalid_request", "This method is not allowed on this route."),
    "BadRequestError": ("invalid_request", "The request is not valid."),
    "BadRequest": ("invalid_request", "Send an Accept header that allows this file's type."),
    "NotFoundError": ("not_found", "Not found."),
    "InternalServerError": ("internal", "Something went wrong on our side."),
}
_STATUS_CODES = {405: "invalid_request", 415: "unsupported_media_type"}

ALLOWED_HEADERS = "Authorization,Content-Type,Idempotency-Key,Prefer,X-API-Key"
EXPOSED_HEADERS = (
    "Location,Retry-After,X-RateLimit-Limit,X-RateLimit-Remaining,X-RateLimit-Reset,X-Request-Id"
)


def _normalize_chalice_error(response: Response) -> Response:
    body = response.body
    if not (isinstance(body, dict) and "Code" in body and "error" not in body):
        return response
    code, message = _CHALICE_CODES.get(str(body["Code"]), ("internal", "Something went wrong on our side."))
    if response.status_code in _STATUS_CODES:
        code = _STATUS_CODES[response.status_code]
    response.body = json.dumps({"error": {"code": code, "message": message}})
    response.headers["Content-Type"] = "application/json"
    return response


def _cors(request: Request, response: Response) -> None:
    # The settings, not the container: an error response (the container could not be built) gets
    # its CORS headers too, so that a page can read it.
    origins = current_settings().cors_origin_list
    origin = request.headers.get("origin")
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    else:
        return
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    response.headers["Access-Control-Allow-Methods"] = "GET,POST,PUT,DELETE,OPTIONS"
    response.headers["Access-Control-Max-Age"] = "600"


def http_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every HTTP request: a request id, one access log line, CORS, and uniform errors."""
    started = time.perf_counter()
    request_id = str(((event.context or {}).get("requestId")) or uuid.uuid4().hex)
    # Every line logged for this request carries its id (and, once authenticated, the caller's kind).
    with log_context(request_id=request_id):
        response = _normalize_chalice_error(get_response(event))
        if event.method == "HEAD":
            # A HEAD answer is the GET's status and headers, never a body (an error's JSON
            # included): a body would be read as the start of the next answer on the connection.
            response.body = b"" if isinstance(response.body, bytes) else ""
        _cors(event, response)
        response.headers["X-Request-Id"] = request_id
        log.info(
            "request",
            extra={
                "method": event.method,
                "path": (event.context or {}).get("resourcePath"),
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
    return response
