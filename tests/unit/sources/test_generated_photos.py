"""GeneratedPhotosSource against /api/v1/faces (respx): urls by size, meta as tags, limits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from chalicelib.adapters.sources.generated_photos import GeneratedPhotosSource
from chalicelib.ports import SourceAuthError, SourceRateLimited
from tests.unit.sources.payloads import GENERATED_KEY, NOW, generated_face, generated_page

FACES = "https://api.generated.photos/api/v1/faces"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def faces() -> Iterator[GeneratedPhotosSource]:
    source = GeneratedPhotosSource(GENERATED_KEY, max_pages=2, clock=lambda: NOW)
    yield source
    source.close()


def test_request_and_items(router: respx.MockRouter, faces: GeneratedPhotosSource) -> None:
    route = router.get(FACES).mock(
        return_value=httpx.Response(
            200, json=generated_page([generated_face("5e68f1f3"), generated_face("5e6a")])
        )
    )
    items = list(faces.fetch("professional", 20))

    first_call, second_call = (c.request for c in route.calls)
    assert first_call.headers["Authorization"] == f"API-Key {GENERATED_KEY}"
    assert dict(first_call.url.params) == {"per_page": "20", "order_by": "random", "emotion": "joy"}
    assert second_call.url.params["emotion"] == "neutral"  # filters rotate for variety
    assert len(items) == 4
    item = items[0]
    assert item.source == "generated_photos" and item.source_id == "5e68f1f3"
    assert item.image_url == "https://images.generated.photos/5e68f1f3/rs:fit:512:512/Z3M6Ly9nZW5lcmF0.jpg"
    assert item.tags == (
        "photo",
        "ai-generated",
        "female",
        "young-adult",
        "joy",
        "brown",
        "medium",
    )
    assert "white" not in item.tags  # ethnicity is not a tag
    assert item.attribution_name == "Photo by Generated Photos"
    assert item.attribution_url == "https://generated.photos"
    assert item.cursor is None  # random order: nothing to resume
    assert faces.allowed_hosts == ("images.generated.photos",)


def test_per_page_is_capped_at_100(router: respx.MockRouter) -> None:
    route = router.get(FACES).mock(return_value=httpx.Response(200, json=generated_page([])))
    source = GeneratedPhotosSource(GENERATED_KEY, per_page=500)
    assert list(source.fetch("professional", 1000)) == []
    assert route.calls.last.request.url.params["per_page"] == "100"


def test_only_serves_its_styles(router: respx.MockRouter, faces: GeneratedPhotosSource) -> None:
    route = router.get(FACES).mock(return_value=httpx.Response(200, json=generated_page([])))
    assert list(faces.fetch("anime", 10)) == []
    assert not route.called


def test_malformed_items_are_skipped_with_a_log_line(
    router: respx.MockRouter, faces: GeneratedPhotosSource, source_logs: pytest.LogCaptureFixture
) -> None:
    tiny = generated_face("tiny", sizes=(32, 64, 128))
    no_urls = generated_face("nourls")
    no_urls["urls"] = "https://images.generated.photos/x.jpg"
    no_id = generated_face("x")
    del no_id["id"]
    odd_meta = generated_face("oddmeta")
    odd_meta["meta"] = {"gender": "male", "age": [None, 3]}
    body = generated_page([tiny, no_urls, no_id, 42, odd_meta, generated_face("ok")])
    router.get(FACES).mock(
        side_effect=[httpx.Response(200, json=body), httpx.Response(200, json=generated_page([]))]
    )

    items = list(faces.fetch("professional", 10))

    assert [i.source_id for i in items] == ["oddmeta", "ok"]
    assert items[0].tags == ("photo", "ai-generated", "male")
    skipped = [r.getMessage() for r in source_logs.records if "skipped a malformed item" in r.getMessage()]
    assert skipped == [
        "generated_photos: skipped a malformed item (no usable image URL)",
        "generated_photos: skipped a malformed item (no usable image URL)",
        "generated_photos: skipped a malformed item (no id)",
        "generated_photos: skipped a malformed item (not an object)",
    ]


def test_429_with_retry_after(router: respx.MockRouter, faces: GeneratedPhotosSource) -> None:
    router.get(FACES).mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}, json={}))
    with pytest.raises(SourceRateLimited) as caught:
        list(faces.fetch("professional", 10))
    assert caught.value.retry_at == NOW + 120


def test_429_with_rate_limit_headers(router: respx.MockRouter, faces: GeneratedPhotosSource) -> None:
    router.get(FACES).mock(
        return_value=httpx.Response(
            429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "90"}, json={"detail": "limit"}
        )
    )
    with pytest.raises(SourceRateLimited) as caught:
        list(faces.fetch("professional", 10))
    assert caught.value.retry_at == NOW + 90  # a small reset is a duration, not a date


def test_bad_key(router: respx.MockRouter, faces: GeneratedPhotosSource) -> None:
    router.get(FACES).mock(return_value=httpx.Response(401, json={"detail": "Invalid API key"}))
    with pytest.raises(SourceAuthError):
        list(faces.fetch("professional", 10))
