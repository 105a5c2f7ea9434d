"""The OpenAPI document's parameters and response headers, each declared once.

The bounds are the ones the routes apply (``int_param`` calls in ``api/public.py`` and
``api/users.py``, the ``size`` check of ``/v1/avatars``, the id checks of the services) and the
formats are ``api/formats.py``'s; ``tests/functional/test_openapi_sync.py`` probes the routes at
every bound so that the document and the code cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.api import formats
from chalicelib.schemas.models import STYLE_IDS
from chalicelib.services.generation.avatars import PUBLIC_SIZES
from chalicelib.services.generation.read import MAX_ID_CHARS
from chalicelib.services.generation.webhooks import WEBHOOK_PROVIDERS

Json = dict[str, Any]


@dataclass(frozen=True)
class IntRange:
    default: int
    low: int
    high: int

    def schema(self) -> Json:
        return {"type": "integer", "minimum": self.low, "maximum": self.high, "default": self.default}


GALLERY_LIMIT = IntRange(24, 1, 100)  # api/public.py gallery_list
HISTORY_LIMIT = IntRange(20, 1, 100)  # api/users.py list_generations
AUDIT_LIMIT = IntRange(50, 1, 200)  # api/admin.py admin_audit
AVATAR_SIZE_DEFAULT = "256"  # api/public.py public_avatar
MAX_USER_ID_CHARS = 256  # api/public.py public_avatar: longer is 404
MAX_SERVICE_ID_CHARS = (
    64  # batch and API key ids (services/generation/batches.py, services/access/api_keys.py)
)
EMPTY_IS_ABSENT = " An empty value is the same as none."


def _query(name: str, schema: Json, description: str) -> Json:
    # allowEmptyValue: the routes read "?limit=" (and every other empty query value) as no value.
    return {
        "name": name,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "schema": schema,
        "description": description,
    }


def _cursor(pattern: str, route: str) -> Json:
    return _query(
        "cursor",
        {"type": "string", "pattern": pattern},
        f"The next_cursor of the previous page of {route} (base64url, unpadded; opaque).{EMPTY_IS_ABSENT}",
    )


def parameters() -> dict[str, Json]:
    """``components/parameters``: every query and header parameter, by component name."""
    return {
        "GalleryStyle": _query(
            "style",
            {"type": "string", "enum": list(STYLE_IDS)},
            f"A style id from GET /v1/styles.{EMPTY_IS_ABSENT}",
        ),
        "GalleryTag": _query("tag", {"type": "string"}, f"Only items with this tag.{EMPTY_IS_ABSENT}"),
        "GalleryLimit": _query("limit", GALLERY_LIMIT.schema(), f"Items per page.{EMPTY_IS_ABSENT}"),
        "GalleryCursor": _cursor(formats.gallery_cursor_pattern(), "GET /v1/gallery"),
        "HistoryLimit": _query("limit", HISTORY_LIMIT.schema(), f"Generations per page.{EMPTY_IS_ABSENT}"),
        "HistoryCursor": _cursor(formats.generation_cursor_pattern(), "GET /v1/generations"),
        "AuditLimit": _query("limit", AUDIT_LIMIT.schema(), f"Events per page.{EMPTY_IS_ABSENT}"),
        "AuditCursor": _query(
            "cursor",
            {"type": "string", "pattern": r"^[0-9]{1,19}$"},
            f"The next_cursor of the previous page of GET /v1/admin/audit.{EMPTY_IS_ABSENT}",
        ),
        "AvatarSize": _query(
            "size",
            {
                "type": "integer",
                "enum": [int(size) for size in PUBLIC_SIZES],
                "default": int(AVATAR_SIZE_DEFAULT),
            },
            f"Edge in pixels of the image redirected to.{EMPTY_IS_ABSENT}",
        ),
        "UploadExpires": _query(
            "expires", {"type": "string"}, "When the presigned read ends (epoch seconds)."
        ),
        "UploadSignature": _query("signature", {"type": "string"}, "The presigned read's signature."),
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": formats.MAX_IDEMPOTENCY_KEY_CHARS,
                "pattern": formats.IDEMPOTENCY_KEY_PATTERN,
            },
            "description": "Same key and identity within 24 h returns the same generation, charged once.",
        },
        "Prefer": {
            "name": "Prefer",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": formats.prefer_pattern()},
            "description": (
                "RFC 7240 preferences, comma separated: respond-async (always 202) or wait=N (wait at most "
                "N seconds; default 8, capped at 20). Other preferences are ignored."
            ),
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The ETag of a copy held: 304 when it still matches.",
        },
    }


# Path parameters by name: what each route (or the service behind it) accepts; anything else is 404.
PATH_PARAMETERS: dict[str, Json] = {
    "item_id": {"type": "string", "minLength": 1, "maxLength": formats.GALLERY_CURSOR_MAX_ID_CHARS},
    "user_id": {"type": "string", "minLength": 1, "maxLength": MAX_USER_ID_CHARS},
    "generation_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
    "batch_id": {"type": "string", "minLength": 1, "maxLength": MAX_SERVICE_ID_CHARS},
    "key_id": {"type": "string", "minLength": 1, "maxLength": MAX_SERVICE_ID_CHARS},
    "provider": {"type": "string", "enum": list(WEBHOOK_PROVIDERS)},
    "folder": {"type": "string", "minLength": 1},
    "name": {"type": "string", "pattern": "\\.webp$"},
    "asset": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*\\.(js|css|svg|json)$"},
    "upload_id": {"type": "string", "pattern": "^upl_[A-Za-z0-9_-]{20}$"},
    "photo_name": {"type": "string", "minLength": 1, "maxLength": 128},
}


def path_parameter(name: str) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}


# --- response headers ---------------------------------------------------------------------------

_POSITIVE = {"type": "integer", "minimum": 1}
_COUNT = {"type": "integer", "minimum": 0}


def headers() -> dict[str, Json]:
    """``components/headers``: every response header the contract promises, by header name."""
    return {
        "Location": {
            "description": "Where the result is: the generation or batch to poll, or the avatar image.",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        },
        "Retry-After": {
            "description": "Seconds to wait before trying again (or polling the Location).",
            "required": True,
            "schema": _POSITIVE,
        },
        "X-RateLimit-Limit": {
            "description": "Requests allowed in the caller's tightest window.",
            "required": True,
            "schema": _COUNT,
        },
        "X-RateLimit-Remaining": {
            "description": "Requests left in that window.",
            "required": True,
            "schema": _COUNT,
        },
        "X-RateLimit-Reset": {
            "description": "When that window resets, in epoch seconds.",
            "required": True,
            "schema": _COUNT,
        },
        "ETag": {
            "description": "The entity tag of this immutable file (If-None-Match answers 304).",
            "required": True,
            "schema": {"type": "string", "pattern": '^(W/)?"[^"]*"$'},
        },
    }


RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def header_refs(names: tuple[str, ...], *, required: bool = True) -> Json:
    """Response ``headers`` naming components; ``required=False`` where the status may come before
    the header's value is known (a request refused before it reached the rate limiter)."""
    if required:
        return {name: {"$ref": f"#/components/headers/{name}"} for name in names}
    declared = headers()
    return {name: {**declared[name], "required": False} for name in names}
