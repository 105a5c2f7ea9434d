"""Public routes: health, styles, gallery, public avatars, local files and the OpenAPI document."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.http import etag, etag_matches, int_param, json_response, query
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.styles import STYLES
from chalicelib.ports.objects import IMMUTABLE_CACHE_CONTROL

public = ApiBlueprint(__name__)


@public.route("/v1/health", methods=["GET"])
def health() -> Response:
    from chalicelib.schemas.models import Health

    container = get_container()
    store_ok = container.ports.store.ping()
    checks = {"store": "ok" if store_ok else "unavailable", **container.describe()}
    body = Health(status="ok" if store_ok else "degraded", checks=checks)
    return json_response(body, 200) if store_ok else json_response(body, 503, {"Retry-After": "5"})


@public.route("/v1/styles", methods=["GET"])
def styles() -> Response:
    from chalicelib.schemas.models import StyleList, StyleOut

    gallery = get_container().gallery.catalog
    body = StyleList(
        styles=[
            StyleOut(
                id=s.id,
                name=s.name,
                description=s.description,
                qualities=list(s.qualities),
                preview_url=gallery.preview_url(s.id),
            )
            for s in STYLES
        ]
    )
    return json_response(body, headers={"Cache-Control": "public, max-age=300"})


@public.route("/v1/gallery", methods=["GET"])
def gallery_list() -> Response:
    params = query(public.current_request)
    limit = int_param(params, "limit", 24, 1, 100)
    page = get_container().gallery.catalog.page(
        params.get("style") or None, params.get("tag") or None, limit, params.get("cursor") or None
    )
    return json_response(page, headers={"Cache-Control": "public, max-age=60"})


@public.route("/v1/gallery/{item_id}", methods=["GET"])
def gallery_item(item_id: str) -> Response:
    return json_response(
        get_container().gallery.catalog.get(item_id), headers={"Cache-Control": "public, max-age=300"}
    )


@public.route("/v1/avatars/{user_id}", methods=["GET"])
def public_avatar(user_id: str) -> Response:
    size = query(public.current_request).get("size") or "256"
    if size not in ("128", "256", "512"):
        raise InvalidRequest(
            "size must be 128, 256 or 512.", details=[{"field": "size", "message": "invalid"}]
        )
    if not 0 < len(user_id) <= 256:
        raise NotFound("No such user.")
    url = get_container().generation.avatars.public_url(user_id, size)
    return Response(
        body="", status_code=302, headers={"Location": url, "Cache-Control": "public, max-age=300"}
    )


@public.route("/v1/files/{folder}/{name}", methods=["GET", "HEAD"])
def local_file(folder: str, name: str) -> Response:
    """Serves the local object store (the local stage only; production serves R2 behind the CDN,
    which answers HEAD, ETag and If-None-Match itself)."""
    from chalicelib.ports.objects import is_valid_key

    request = public.current_request
    container = get_container()
    key = f"{folder}/{name}"
    if container.settings.uses_r2 or not is_valid_key(key) or not name.endswith(".webp"):
        raise NotFound("No such file.")
    data = container.ports.objects.get(key)
    if data is None:
        raise NotFound("No such file.")
    tag = etag(data)
    headers: dict[str, str | list[str]] = {
        "Content-Type": "image/webp",
        "Cache-Control": IMMUTABLE_CACHE_CONTROL,
        "ETag": tag,
    }
    if etag_matches(request.headers.get("if-none-match"), tag):
        return Response(body=b"", status_code=304, headers=headers)
    if request.method == "HEAD":
        # No body, but the length its GET's body has (the local server sends no body for a HEAD).
        return Response(body=b"", status_code=200, headers={**headers, "Content-Length": str(len(data))})
    return Response(body=data, status_code=200, headers=headers)


@public.route("/v1/openapi.json", methods=["GET"])
def openapi() -> Response:
    from chalicelib.api.openapi import openapi_document

    return json_response(openapi_document(), headers={"Cache-Control": "public, max-age=300"})
