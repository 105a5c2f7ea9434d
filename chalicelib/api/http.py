"""Small helpers every route uses: parse a body or query, find the caller, shape a response."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from chalice.app import Request, Response

from chalicelib.bootstrap import current_settings, get_container
from chalicelib.domain.errors import InvalidRequest, PayloadTooLarge
from chalicelib.domain.identity import Identity
from chalicelib.observability.logs import bind

if TYPE_CHECKING:
    # Not at run time: pydantic (~0.1 s) is loaded by the first request that validates or shapes
    # a body, not by `import app` (every Lambda function imports the app; see api/__init__.py).
    from pydantic import BaseModel

MAX_BODY_BYTES = 64 * 1024
Model = TypeVar("Model", bound="BaseModel")


def json_response(
    body: BaseModel | Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    text = json.dumps(body) if isinstance(body, Mapping) else body.model_dump_json()
    return Response(
        body=text, status_code=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


def parse_body(request: Request, model: type[Model], max_bytes: int = MAX_BODY_BYTES) -> Model:
    """Validate the JSON body against ``model``; every failure is a 4xx in the error shape."""
    from chalicelib.schemas.validation import validated  # pydantic: not on `import app`

    raw = request.raw_body or b""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
    if not raw.strip():
        raise InvalidRequest("A JSON body is required.")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, RecursionError, ValueError):
        # ValueError covers malformed JSON and numbers past Python's int digit limit (4,300).
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return validated(model, data, "The request body is not valid.")


def query(request: Request) -> dict[str, str]:
    params: Mapping[str, Any] = request.query_params or {}
    return {str(k): str(v) for k, v in params.items()}


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidRequest(
            f"{name} must be an integer from {low} to {high}.",
            details=[{"field": name, "message": f"must be an integer from {low} to {high}"}],
        )
    return value


def source_ip(request: Request) -> str:
    # API Gateway's view of the caller; X-Forwarded-For is written by the client and ignored.
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def caller(request: Request) -> Identity:
    """The authenticated caller, or an anonymous visitor by source IP; 401 for bad credentials.
    Its kind (never its key or token) joins the request's log context (reset by the middleware)."""
    identity = get_container().access.authenticator.authenticate(request.headers, source_ip(request))
    bind(identity_kind=identity.kind)
    return identity


def absolute_url(request: Request, path: str) -> str:
    """``path`` (an API path such as ``/v1/generations/<id>``) as an absolute URL a client can
    follow: under ``AVATARFLOW_PUBLIC_URL`` where set, else under the host and stage prefix this
    request came through (API Gateway puts the stage, or a custom domain's base path, before the
    route: ``/v1api/v1/...``)."""
    public = current_settings().public_url
    if public:
        return public.rstrip("/") + path
    context = request.context or {}
    full = str(context.get("path") or "")
    own = str(request.to_original_event().get("path") or "")
    prefix = full[: len(full) - len(own)] if own and full.endswith(own) else ""
    host = request.headers.get("host") or "localhost"
    scheme = request.headers.get("x-forwarded-proto") or ("https" if context.get("domainName") else "http")
    return f"{scheme}://{host}{prefix.rstrip('/')}{path}"


def etag(data: bytes) -> str:
    """A strong ETag of immutable content."""
    import hashlib

    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """``If-None-Match`` (a list of tags, weak or strong, or ``*``) names ``tag``: answer 304."""
    if not if_none_match:
        return False
    candidates = [c.strip() for c in if_none_match.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == tag for c in candidates)
