"""Public routes: health, styles, gallery, files, avatars redirect, OpenAPI, CORS."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from chalicelib.domain.styles import STYLES
from tests.conftest import SEED_PER_STYLE


def test_health_reports_ok_and_adapters(client: Any) -> None:
    response = client.http.get("/v1/health")
    assert response.status_code == 200
    body = response.json_body
    assert body["status"] == "ok"
    assert body["checks"]["store"] == "ok"
    assert body["checks"]["provider"] == "procedural"


def test_health_is_503_when_the_store_is_down(client: Any, container: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(container.ports.store, "ping", lambda: False)
    response = client.http.get("/v1/health")
    assert response.status_code == 503
    assert response.json_body["status"] == "degraded"


def test_styles_lists_at_least_eight_with_previews(client: Any) -> None:
    response = client.http.get("/v1/styles")
    assert response.status_code == 200
    styles = response.json_body["styles"]
    assert len(styles) >= 8
    assert {s["id"] for s in styles} == {s.id for s in STYLES}
    for style in styles:
        assert set(style) == {"id", "name", "description", "qualities", "preview_url"}
        assert "fast" in style["qualities"]
        assert style["preview_url"].endswith(".webp")


def test_gallery_lists_filters_and_pages_with_stable_cursors(client: Any) -> None:
    everything: list[str] = []
    cursor = None
    while True:
        path = "/v1/gallery?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = client.http.get(path).json_body
        everything += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(everything) == len(set(everything)) == SEED_PER_STYLE * len(STYLES)
    assert everything == sorted(everything)

    anime = client.http.get("/v1/gallery?style=anime").json_body
    assert len(anime["items"]) == SEED_PER_STYLE
    assert {item["style"] for item in anime["items"]} == {"anime"}
    item = anime["items"][0]
    assert set(item["images"]) == {"128", "256", "512"}
    assert item["source"] == "procedural"
    assert item["license"]
    tagged = client.http.get("/v1/gallery?tag=pixel").json_body["items"]
    assert tagged and all("pixel" in i["tags"] for i in tagged)
    assert client.http.get("/v1/gallery?tag=no-such-tag").json_body == {"items": [], "next_cursor": None}
    default = client.http.get("/v1/gallery").json_body
    assert len(default["items"]) == 24


def test_gallery_item_and_its_image(client: Any) -> None:
    first = client.http.get("/v1/gallery?limit=1").json_body["items"][0]
    response = client.http.get(f"/v1/gallery/{first['id']}")
    assert response.status_code == 200
    assert response.json_body == first
    url = first["images"]["256"]
    image_response = client.http.get(url[len("http://testserver") :], headers={"Accept": "*/*"})
    assert image_response.status_code == 200
    image = Image.open(io.BytesIO(image_response.body))
    assert image.format == "WEBP" and image.size == (256, 256)


def test_files_route_refuses_traversal_and_unknown(client: Any) -> None:
    assert client.http.get("/v1/files/img/nothing.webp", headers={"Accept": "*/*"}).status_code == 404
    assert client.http.get("/v1/files/..%2F..%2Fetc/passwd", headers={"Accept": "*/*"}).status_code == 404
    assert client.http.get("/v1/files/gallery/manifest.json", headers={"Accept": "*/*"}).status_code == 404


def test_avatar_redirect_is_a_stable_default_for_unknown_users(client: Any) -> None:
    first = client.http.get("/v1/avatars/alice?size=128")
    again = client.http.get("/v1/avatars/alice?size=128")
    assert first.status_code == 302
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert first.headers["Location"] == again.headers["Location"]
    assert first.headers["Location"].endswith(".webp")
    spread = {client.http.get(f"/v1/avatars/user-{n}?size=128").headers["Location"] for n in range(12)}
    assert len(spread) > 3  # different users get different defaults
    assert client.http.get("/v1/avatars/alice").status_code == 302


def test_openapi_documents_every_route_from_the_models(client: Any) -> None:
    doc = client.http.get("/v1/openapi.json").json_body
    assert doc["openapi"].startswith("3.1")
    expected = {
        "/v1/health",
        "/v1/styles",
        "/v1/gallery",
        "/v1/gallery/{item_id}",
        "/v1/avatars/{user_id}",
        "/v1/generations",
        "/v1/generations/{generation_id}",
        "/v1/me/quota",
        "/v1/me/avatar",
        "/v1/openapi.json",
    }
    assert expected <= set(doc["paths"])
    assert set(doc["paths"]["/v1/generations"]) == {"get", "post"}
    schemas = doc["components"]["schemas"]
    request = schemas["GenerationRequest"]
    assert request["properties"]["variation"]["maximum"] == 999
    assert request["additionalProperties"] is False
    assert "GalleryItem" in schemas and "Generation" in schemas and "ErrorResponse" in schemas
    post = doc["paths"]["/v1/generations"]["post"]
    assert {"200", "202", "400", "429", "503"} <= set(post["responses"])


def test_cors_preflight_and_headers(client: Any) -> None:
    preflight = client.http.options(
        "/v1/generations", headers={"Origin": "https://site.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    response = client.http.get("/v1/styles", headers={"Origin": "https://site.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]


def test_cors_preflight_on_routes_with_path_parameters(client: Any) -> None:
    # The preflight view once took no arguments: Chalice passed {batch_id} etc. and it answered 500.
    headers = {"Origin": "https://site.example", "Access-Control-Request-Method": "GET"}
    for path in ("/v1/generations/gen_abc", "/v1/batches/bat_abc", "/v1/gallery/x", "/v1/avatars/u1"):
        preflight = client.http.options(path, headers=headers)
        assert preflight.status_code == 204, path
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def test_images_answer_head_carry_an_etag_and_a_matching_if_none_match_gets_304(client: Any) -> None:
    item = client.http.get("/v1/gallery?limit=1").json_body["items"][0]
    path = "/v1/files/" + item["images"]["128"].split("/v1/files/", 1)[1]
    accept = {"Accept": "*/*"}

    full = client.http.get(path, headers=accept)
    assert full.status_code == 200 and full.body[:4] == b"RIFF"
    tag = full.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 10

    head = client.http.request("HEAD", path, headers=accept)
    assert head.status_code == 200
    assert head.headers["ETag"] == tag and head.headers["Content-Type"] == "image/webp"
    assert head.body in (b"", "")

    for condition in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        cached = client.http.get(path, headers={**accept, "If-None-Match": condition})
        assert cached.status_code == 304, condition
        assert cached.headers["ETag"] == tag and cached.body in (b"", "")
    stale = client.http.get(path, headers={**accept, "If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.body == full.body
