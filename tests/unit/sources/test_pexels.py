"""PexelsSource against Pexels' /v1/search shape (respx): paging, quota, 429, malformed items."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from chalicelib.adapters.sources.pexels import PexelsSource
from chalicelib.ports import SourceAuthError, SourceItem, SourceRateLimited, SourceUnavailable
from tests.unit.sources.payloads import NOW, PEXELS_KEY, pexels_page, pexels_photo, pexels_quota

SEARCH = "https://api.pexels.com/v1/search"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def pexels() -> Iterator[PexelsSource]:
    source = PexelsSource(PEXELS_KEY, per_page=2, clock=lambda: NOW)
    yield source
    source.close()


def test_search_request_and_items(router: respx.MockRouter, pexels: PexelsSource) -> None:
    route = router.get(SEARCH).mock(
        return_value=httpx.Response(
            200, json=pexels_page([pexels_photo(2014422), pexels_photo(1239291, "Daniel Xavier")], more=False)
        )
    )
    items = list(pexels.fetch("professional", 10))

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == PEXELS_KEY  # the key itself, no scheme
    assert dict(sent.url.params) == {
        "query": "professional headshot portrait",
        "orientation": "square",
        "per_page": "2",
        "page": "1",
    }
    assert [i.source_id for i in items] == ["2014422", "1239291"]
    first = items[0]
    assert first.source == "pexels" and first.style == "professional"
    assert first.image_url == (
        "https://images.pexels.com/photos/2014422/pexels-photo-2014422.jpeg"
        "?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940"
    )
    assert first.external_urls is None and first.render is None
    assert first.attribution_name == "Photo by Joey Farina on Pexels"
    assert first.attribution_url == "https://www.pexels.com/photo/smiling-woman-portrait-2014422/"
    assert first.license == "Pexels License"
    assert first.tags == ("photo", "professional", "headshot", "portrait")
    assert first.cursor == "1"
    assert pexels.allowed_hosts == ("images.pexels.com",)


def test_pages_follow_next_page_from_the_cursor(router: respx.MockRouter, pexels: PexelsSource) -> None:
    route = router.get(SEARCH).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=pexels_page(
                [pexels_photo(int(request.url.params["page"]) * 10)],
                page=int(request.url.params["page"]),
                more=request.url.params["page"] != "5",
            ),
        )
    )
    items = list(pexels.fetch("professional", 10, cursor="4"))
    # page 4, page 5 (the last), then back to the front (page 1): three pages, the cap
    assert [c.request.url.params["page"] for c in route.calls] == ["4", "5", "1"]
    assert [(i.source_id, i.cursor) for i in items] == [("40", "4"), ("50", "5"), ("10", "1")]


def test_unknown_style_or_no_budget_asks_nothing(router: respx.MockRouter, pexels: PexelsSource) -> None:
    route = router.get(SEARCH).mock(return_value=httpx.Response(200, json=pexels_page([])))
    assert list(pexels.fetch("anime", 10)) == []
    assert list(pexels.fetch("professional", 0)) == []
    assert not route.called


def test_malformed_items_are_skipped_with_a_log_line(
    router: respx.MockRouter, pexels: PexelsSource, source_logs: pytest.LogCaptureFixture
) -> None:
    no_src = pexels_photo(3)
    del no_src["src"]
    http_only = pexels_photo(4)
    http_only["src"] = {"original": "http://images.pexels.com/photos/4/x.jpeg"}
    no_id = pexels_photo(5)
    no_id["id"] = None
    no_name = pexels_photo(6)
    no_name["photographer"] = ""
    photos = [pexels_photo(1), "not a photo", no_src, http_only, no_id, no_name, pexels_photo(2)]
    router.get(SEARCH).mock(return_value=httpx.Response(200, json=pexels_page(photos, more=False)))

    items = list(pexels.fetch("professional", 10))

    assert [i.source_id for i in items] == ["1", "6", "2"]
    assert items[1].attribution_name == "Photo on Pexels"
    skipped = [r for r in source_logs.records if "skipped a malformed item" in r.getMessage()]
    assert len(skipped) == 4
    assert {"not an object", "no src", "no https image URL", "no id"} == {
        r.getMessage().split("(")[1].rstrip(")") for r in skipped
    }


def test_429_stops_with_the_reset_time(router: respx.MockRouter, pexels: PexelsSource) -> None:
    reset = int(NOW) + 2400
    router.get(SEARCH).mock(
        return_value=httpx.Response(
            429, headers=pexels_quota(0, reset), json={"error": "Rate limit exceeded"}
        )
    )
    with pytest.raises(SourceRateLimited) as caught:
        list(pexels.fetch("professional", 10))
    assert caught.value.retry_at == reset
    assert PEXELS_KEY not in str(caught.value)


def test_a_used_up_quota_stops_before_the_next_request(
    router: respx.MockRouter, pexels: PexelsSource
) -> None:
    reset = int(NOW) + 600
    route = router.get(SEARCH).mock(
        return_value=httpx.Response(200, headers=pexels_quota(0, reset), json=pexels_page([pexels_photo(7)]))
    )
    seen: list[SourceItem] = []
    with pytest.raises(SourceRateLimited) as caught:
        seen.extend(pexels.fetch("professional", 10))
    assert [i.source_id for i in seen] == ["7"]  # the page that was paid for is used
    assert route.call_count == 1
    assert caught.value.retry_at == reset


def test_a_quota_with_room_goes_on(router: respx.MockRouter, pexels: PexelsSource) -> None:
    route = router.get(SEARCH).mock(
        return_value=httpx.Response(200, headers=pexels_quota(150), json=pexels_page([pexels_photo(8)]))
    )
    assert len(list(pexels.fetch("professional", 10))) == 3
    assert route.call_count == 3  # max_pages


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(401, json={"error": "Unauthorized"}), SourceAuthError),
        (httpx.Response(403, json={"error": "Forbidden"}), SourceAuthError),
        (httpx.Response(502, text="Bad gateway"), SourceUnavailable),
        (httpx.Response(200, text="<html>maintenance</html>"), SourceUnavailable),
        (httpx.Response(200, json={"unexpected": True}), SourceUnavailable),
    ],
)
def test_typed_errors(
    router: respx.MockRouter, pexels: PexelsSource, response: httpx.Response, error: type
) -> None:
    router.get(SEARCH).mock(return_value=response)
    with pytest.raises(error):
        list(pexels.fetch("professional", 10))


def test_timeouts_are_typed(router: respx.MockRouter, pexels: PexelsSource) -> None:
    router.get(SEARCH).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(SourceUnavailable, match="timed out"):
        list(pexels.fetch("professional", 10))


def test_explicit_timeout_and_transport() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=pexels_page([pexels_photo(9)], more=False))

    source = PexelsSource(
        PEXELS_KEY,
        base_url="https://pexels.test",
        timeout=httpx.Timeout(2.0),
        transport=httpx.MockTransport(handler),
    )
    assert [i.source_id for i in source.fetch("professional", 1)] == ["9"]
    assert calls[0].url.host == "pexels.test"
    assert source.client.timeout == httpx.Timeout(2.0)
    assert PEXELS_KEY not in repr(source)
