"""The operations of the OpenAPI document: one row per route (method, path, the view's name,
request and response models, who may call it, parameters, headers). ``openapi.py`` renders them;
``tests/functional/test_openapi_sync.py`` checks that this table is exactly the app's routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from chalicelib.api import openapi_params as p
from chalicelib.api.webhooks import WEBHOOK_CONTENT_TYPES
from chalicelib.schemas import admin as a
from chalicelib.schemas import export as x
from chalicelib.schemas import funnel as f
from chalicelib.schemas import models as m
from chalicelib.schemas import uploads as u
from chalicelib.schemas.audit import AuditPage
from chalicelib.schemas.realtime import RealtimeInfo

ERROR = m.ErrorResponse
Auth = Literal["none", "user", "admin"]
Json = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    body: type[BaseModel] | None
    responses: Mapping[int, type[BaseModel] | None]
    auth: Auth = "user"
    parameters: tuple[str, ...] = ()  # components/parameters by name
    headers: Mapping[int, Json] = field(default_factory=dict)  # response headers by status
    content: Mapping[int, str] = field(default_factory=dict)  # a status's media type, if not JSON
    raw_body: tuple[str, ...] = ()  # an optional body of any of these media types, read as bytes


RETRY = p.header_refs(("Retry-After",))
RATE = p.header_refs(p.RATE_LIMIT_HEADERS)
RATE_IF_COUNTED = p.header_refs(p.RATE_LIMIT_HEADERS, required=False)
USER_ERRORS: dict[int, type[BaseModel] | None] = {400: ERROR, 401: ERROR}
ADMIN_ERRORS: dict[int, type[BaseModel] | None] = {401: ERROR, 403: ERROR}
# What asking for a generation (one or a batch) may answer besides its success.
REQUEST_ERRORS: dict[int, type[BaseModel] | None] = {
    **USER_ERRORS,
    **dict.fromkeys((403, 409, 413, 415, 422, 429, 503), ERROR),
}


def _page(
    path: str, operation_id: str, summary: str, media_type: str, *, may_be_missing: bool = True
) -> Operation:
    """A public page or page asset: a conditional GET (``If-None-Match``) of ``media_type``, and a
    404 when ``may_be_missing``."""
    responses: dict[int, type[BaseModel] | None] = {200: None, 304: None}
    if may_be_missing:
        responses[404] = ERROR
    return Operation(
        "get",
        path,
        operation_id,
        summary,
        None,
        responses,
        "none",
        ("IfNoneMatch",),
        content={200: media_type},
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/v1/health",
        "health",
        "Service health",
        None,
        {200: m.Health, 503: m.Health},
        "none",
        headers={503: RETRY},
    ),
    Operation("get", "/v1/styles", "styles", "Avatar styles", None, {200: m.StyleList}, "none"),
    Operation(
        "get",
        "/v1/gallery",
        "gallery_list",
        "List the gallery",
        None,
        {200: m.GalleryPage, 400: ERROR},
        "none",
        ("GalleryStyle", "GalleryTag", "GalleryLimit", "GalleryCursor"),
    ),
    Operation(
        "get",
        "/v1/gallery/{item_id}",
        "gallery_item",
        "One gallery item",
        None,
        {200: m.GalleryItem, 404: ERROR},
        "none",
    ),
    Operation(
        "get",
        "/v1/avatars/{user_id}",
        "public_avatar",
        "Redirect to a user's avatar",
        None,
        {302: None, 400: ERROR, 404: ERROR},
        "none",
        ("AvatarSize",),
        {302: p.header_refs(("Location",))},
    ),
    Operation(
        "get",
        "/v1/files/{folder}/{name}",
        "local_file",
        "An image of the local object store (the local stage only; production serves R2 behind the CDN); "
        "400 when an Accept header excludes image/webp",
        None,
        {200: None, 304: None, 400: ERROR, 404: ERROR},
        "none",
        ("IfNoneMatch",),
        {200: p.header_refs(("ETag",)), 304: p.header_refs(("ETag",))},
        {200: "image/webp"},
    ),
    Operation(
        "head",
        "/v1/files/{folder}/{name}",
        "local_file",
        "The headers of a local image (the local stage only): the GET's status and headers, no body",
        None,
        {200: None, 304: None, 400: None, 404: None},
        "none",
        ("IfNoneMatch",),
        {200: p.header_refs(("ETag",)), 304: p.header_refs(("ETag",))},
        # The media type each answer's GET would have; a HEAD answer never has a body.
        {200: "image/webp", 400: "application/json", 404: "application/json"},
    ),
    Operation(
        "post",
        "/v1/generations",
        "create_generation",
        "Request a custom avatar",
        m.GenerationRequest,
        {
            200: m.Generation,
            202: m.Generation,
            **REQUEST_ERRORS,
        },
        parameters=("IdempotencyKey", "Prefer"),
        headers={
            200: RATE,
            202: {**p.header_refs(("Location", "Retry-After")), **RATE},
            429: {**RETRY, **RATE_IF_COUNTED},
            503: {**RETRY, **RATE_IF_COUNTED},
            **dict.fromkeys((400, 401, 403, 409, 413, 415, 422), RATE_IF_COUNTED),
        },
    ),
    Operation(
        "get",
        "/v1/generations",
        "list_generations",
        "The caller's generations, newest first",
        None,
        {200: m.GenerationPage, **USER_ERRORS},
        parameters=("HistoryLimit", "HistoryCursor"),
    ),
    Operation(
        "get",
        "/v1/generations/{generation_id}",
        "get_generation",
        "One generation (the caller's own; anyone else's is 404)",
        None,
        {200: m.Generation, 401: ERROR, 404: ERROR},
    ),
    Operation("get", "/v1/me/quota", "my_quota", "The caller's quota", None, {200: m.Quota, 401: ERROR}),
    Operation(
        "post",
        "/v1/events",
        "record_events",
        "Report funnel steps (product analytics; anonymous allowed)",
        f.ProductEvents,
        {202: f.EventsAccepted, **USER_ERRORS, 413: ERROR, 415: ERROR, 429: ERROR},
        headers={429: RETRY},
    ),
    Operation(
        "put",
        "/v1/me/avatar",
        "choose_avatar",
        "Choose an avatar",
        m.AvatarChoice,
        {200: m.AvatarOut, **USER_ERRORS, 404: ERROR, 409: ERROR, 413: ERROR, 415: ERROR},
    ),
    Operation(
        "get",
        "/v1/me/avatar",
        "my_avatar",
        "The chosen avatar",
        None,
        {200: m.AvatarOut, 401: ERROR, 404: ERROR},
    ),
    Operation(
        "delete",
        "/v1/me",
        "erase_me",
        "Erase the caller's data: history, records, idempotency entries, chosen avatar, unshared images",
        None,
        {204: None, 401: ERROR, 503: ERROR},
        headers={503: RETRY},
    ),
    Operation(
        "get",
        "/v1/me/export",
        "export_me",
        "Everything held about the caller (one page of history per call; follow next_cursor)",
        None,
        {200: x.UserExport, **USER_ERRORS},
        parameters=("HistoryCursor",),
    ),
    Operation(
        "post",
        "/v1/uploads",
        "create_upload",
        "A presigned form upload of a photo (signed-in users and API keys; 20 an hour)",
        u.UploadRequest,
        {201: u.UploadTicket, **USER_ERRORS, 429: ERROR, 503: ERROR},
        headers={429: RETRY, 503: RETRY},
    ),
    Operation(
        "get",
        "/v1/uploads/{upload_id}",
        "get_upload",
        "An uploaded photo: pending, ready (with the face found) or rejected (with the reason)",
        None,
        {200: u.UploadOut, 401: ERROR, 404: ERROR},
    ),
    Operation(
        "post",
        "/v1/local-uploads",
        "local_upload",
        "The local stage's presigned form upload (production: the object store's own URL)",
        None,
        {204: None, 400: ERROR, 403: ERROR, 404: ERROR, 413: ERROR, 415: ERROR},
        "none",
        raw_body=("multipart/form-data",),
    ),
    Operation(
        "get",
        "/v1/local-uploads/{photo_name}",
        "local_upload_read",
        "The local stage's presigned read of a photo (what a provider fetches; production: R2/S3)",
        None,
        {200: None, 403: ERROR, 404: ERROR},
        "none",
        ("UploadExpires", "UploadSignature"),
        content={200: "image/jpeg"},
    ),
    Operation("get", "/v1/openapi.json", "openapi", "This document", None, {200: None}, "none"),
    Operation(
        "get",
        "/v1/admin/audit",
        "admin_audit",
        "The admin API's audit trail, newest first (the last 10,000 admin calls)",
        None,
        {200: AuditPage, 400: ERROR, **ADMIN_ERRORS},
        "admin",
        ("AuditLimit", "AuditCursor"),
    ),
    Operation(
        "post",
        "/v1/admin/gallery/refresh",
        "refresh_gallery",
        "Refresh the gallery from its sources (operators)",
        None,
        {202: m.GalleryRefreshAccepted, **ADMIN_ERRORS, 503: ERROR},
        "admin",
        headers={503: RETRY},
    ),
    Operation(
        "post",
        "/v1/batches",
        "create_batch",
        "Request a batch of custom avatars (enterprise API keys)",
        m.BatchRequest,
        {
            202: m.BatchAccepted,
            **REQUEST_ERRORS,
        },
        headers={202: p.header_refs(("Location",)), 429: RETRY, 503: RETRY},
    ),
    Operation(
        "get",
        "/v1/batches/{batch_id}",
        "get_batch",
        "A batch's progress",
        None,
        {200: m.BatchStatus, 401: ERROR, 404: ERROR},
    ),
    Operation(
        "get",
        "/v1/realtime",
        "realtime_info",
        "Where the real-time status WebSocket API is (watch generations; see docs/contract.md)",
        None,
        {200: RealtimeInfo, 404: ERROR},
        "none",
    ),
    Operation(
        "post",
        "/v1/dev/token",
        "dev_token",
        "A user token without an identity provider (the local stage only; 404 elsewhere)",
        a.DevTokenRequest,
        {200: a.DevToken, 400: ERROR, 404: ERROR, 413: ERROR, 415: ERROR},
        "none",
    ),
    _page(
        "/",
        "root",
        "The reference page: the avatar picker (where no page is deployed: where to start, as JSON)",
        "text/html",
        may_be_missing=False,
    ),
    _page("/admin", "admin_page", "The operators' dashboard (a page over the admin API)", "text/html"),
    _page(
        "/web/{asset}",
        "web_asset",
        "A script, style sheet or image of the pages (the embeddable avatar picker among them)",
        "text/javascript",
    ),
    Operation(
        "post",
        "/v1/webhooks/{provider}",
        "provider_webhook",
        "Completion callback of a generation provider (not for clients; signed)",
        None,
        {200: None, 400: ERROR, 401: ERROR, 404: ERROR, 413: ERROR, 503: ERROR},
        "none",
        headers={503: RETRY},
        raw_body=tuple(WEBHOOK_CONTENT_TYPES),
    ),
    Operation(
        "post",
        "/v1/admin/api-keys",
        "create_api_key",
        "Issue an enterprise API key (operators; the key is shown once)",
        a.ApiKeyCreate,
        {201: a.ApiKeyCreated, 400: ERROR, **ADMIN_ERRORS, 413: ERROR, 415: ERROR, 503: ERROR},
        "admin",
        headers={503: RETRY},
    ),
    Operation(
        "get",
        "/v1/admin/api-keys",
        "list_api_keys",
        "List the API keys (operators)",
        None,
        {200: a.ApiKeyList, **ADMIN_ERRORS},
        "admin",
    ),
    Operation(
        "delete",
        "/v1/admin/api-keys/{key_id}",
        "revoke_api_key",
        "Revoke an API key at once (operators)",
        None,
        {204: None, **ADMIN_ERRORS, 404: ERROR},
        "admin",
    ),
    Operation(
        "get",
        "/v1/admin/stats",
        "admin_stats",
        "Operational stats (operators)",
        None,
        {200: a.AdminStats, **ADMIN_ERRORS},
        "admin",
    ),
)
