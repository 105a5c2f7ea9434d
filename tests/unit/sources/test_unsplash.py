"""UnsplashSource (hotlinked, never re-hosted) and its download tracking (respx)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from chalicelib.adapters.sources.unsplash import UnsplashDownloadTracker, UnsplashSource, hotlink_urls
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.ports import SourceItem, SourceRateLimited
from tests.unit.sources.payloads import NOW, UNSPLASH_KEY, unsplash_page, unsplash_photo

SEARCH = "https://api.unsplash.com/search/photos"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def unsplash() -> Iterator[UnsplashSource]:
    source = UnsplashSource(UNSPLASH_KEY, per_page=2, clock=lambda: NOW)
    yield source
    source.close()


def test_request_and_hotlinked_items(router: respx.MockRouter, unsplash: UnsplashSource) -> None:
    route = router.get(SEARCH).mock(
        return_value=httpx.Response(
            200, json=unsplash_page([unsplash_photo("1494790108377-be9c29b29330")], 1)
        )
    )
    items = list(unsplash.fetch("professional", 10))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Client-ID {UNSPLASH_KEY}"
    assert sent.headers["Accept-Version"] == "v1"
    assert dict(sent.url.params) == {
        "query": "portrait headshot",
        "orientation": "squarish",
        "per_page": "2",
        "page": "1",
    }
    (item,) = items
    raw = unsplash_photo("1494790108377-be9c29b29330")["urls"]["raw"]
    assert item.image_url is None  # never downloaded
    assert item.external_urls == {
        "128": f"{raw}&w=128&h=128&fit=crop&crop=faces",
        "256": f"{raw}&w=256&h=256&fit=crop&crop=faces",
        "512": f"{raw}&w=512&h=512&fit=crop&crop=faces",
    }
    assert item.attribution_name == "Photo by Christina Wocintechchat on Unsplash"
    assert (
        item.attribution_url
        == "https://unsplash.com/@wocintechchat?utm_source=avatarflow&utm_medium=referral"
    )
    assert item.license == "Unsplash License"
    assert item.download_location == (
        "https://api.unsplash.com/photos/1494790108377-be9c29b29330/download?ixid=M3w1NjU0fDB8MXxzZWFyY2g"
    )
    assert item.tags == ("photo", "portrait", "headshot", "woman", "business")
    assert unsplash.allowed_hosts == ()


def test_hotlink_urls_without_a_query() -> None:
    assert hotlink_urls("https://images.unsplash.com/photo-1", (64,)) == {
        "64": "https://images.unsplash.com/photo-1?w=64&h=64&fit=crop&crop=faces"
    }


def test_malformed_items_are_skipped_with_a_log_line(
    router: respx.MockRouter, unsplash: UnsplashSource, source_logs: pytest.LogCaptureFixture
) -> None:
    elsewhere = unsplash_photo("b")
    elsewhere["urls"]["raw"] = "https://evil.example/photo.jpg"
    no_download = unsplash_photo("c")
    del no_download["links"]["download_location"]
    no_user = unsplash_photo("d")
    no_user["user"] = None
    no_profile = unsplash_photo("e")
    del no_profile["user"]["links"]
    body = unsplash_page([unsplash_photo("a"), elsewhere, no_download, no_user, [], no_profile], 1)
    router.get(SEARCH).mock(return_value=httpx.Response(200, json=body))

    items = list(unsplash.fetch("professional", 10))

    assert [i.source_id for i in items] == ["a", "e"]
    assert str(items[1].attribution_url).startswith("https://unsplash.com/@wocintechchat?utm_source=")
    skipped = [r.getMessage() for r in source_logs.records if "skipped a malformed item" in r.getMessage()]
    assert len(skipped) == 4


def test_hourly_quota_without_reset_header(router: respx.MockRouter, unsplash: UnsplashSource) -> None:
    route = router.get(SEARCH).mock(
        return_value=httpx.Response(
            200,
            headers={"X-Ratelimit-Limit": "50", "X-Ratelimit-Remaining": "0"},
            json=unsplash_page([unsplash_photo("a")]),
        )
    )
    seen: list[SourceItem] = []
    with pytest.raises(SourceRateLimited) as caught:
        seen.extend(unsplash.fetch("professional", 10))
    assert len(seen) == 1 and route.call_count == 1
    assert caught.value.retry_at == NOW + 3600


def test_429(router: respx.MockRouter, unsplash: UnsplashSource) -> None:
    router.get(SEARCH).mock(
        return_value=httpx.Response(429, headers={"X-Ratelimit-Remaining": "0"}, text="Rate Limit Exceeded")
    )
    with pytest.raises(SourceRateLimited):
        list(unsplash.fetch("professional", 10))


def entry(download: str | None) -> GalleryEntry:
    return GalleryEntry(
        id="unsplash-a",
        style="professional",
        tags=("photo",),
        source="unsplash",
        image_keys={},
        external_urls=hotlink_urls("https://images.unsplash.com/photo-a"),
        download_location=download,
    )


def test_tracker_calls_download_location(router: respx.MockRouter) -> None:
    route = router.get("https://api.unsplash.com/photos/a/download").mock(
        return_value=httpx.Response(200, json={"url": "https://images.unsplash.com/photo-a?ixid=x"})
    )
    tracker = UnsplashDownloadTracker(UNSPLASH_KEY)
    tracker(entry("https://api.unsplash.com/photos/a/download?ixid=abc"))
    tracker.wait()
    assert route.call_count == 1
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Client-ID {UNSPLASH_KEY}"
    assert sent.url.params["ixid"] == "abc"


def test_tracker_never_sends_the_key_elsewhere_nor_fails(router: respx.MockRouter) -> None:
    failing = router.get("https://api.unsplash.com/photos/a/download").mock(
        side_effect=httpx.ConnectTimeout("down")
    )
    tracker = UnsplashDownloadTracker(UNSPLASH_KEY, background=False)
    tracker(entry("https://evil.example/photos/a/download"))  # not called: another origin
    tracker(entry(None))
    tracker(entry("https://api.unsplash.com/photos/a/download"))  # fails quietly
    assert failing.call_count == 1
