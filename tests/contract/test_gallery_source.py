"""The gallery source contract: one suite, run on every GallerySource adapter.

- ``procedural``: the offline renderer's items (no network at all);
- ``pexels``, ``generated_photos``, ``unsplash``: the HTTP sources, driven through a respx router
  that refuses every URL it does not know, answering with the APIs' real shapes
  (``tests/unit/sources/payloads.py``) from a catalogue of numbered pages. Generated Photos draws
  at random (no pages): each of its calls is a fresh draw.

Cursors are per page (``SourceItem.cursor`` resumes "at this item's page"): resuming from an
item's cursor may offer that page again (the refresh dedups on ``source_id``), never the pages
before it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

from chalicelib.adapters.outbound.fetch import host_allowed
from chalicelib.adapters.sources.generated_photos import GeneratedPhotosSource
from chalicelib.adapters.sources.pexels import PexelsSource
from chalicelib.adapters.sources.procedural import ProceduralSource
from chalicelib.adapters.sources.unsplash import UnsplashSource
from chalicelib.ports import (
    GallerySource,
    SourceAuthError,
    SourceError,
    SourceItem,
    SourceRateLimited,
    SourceUnavailable,
)
from tests.unit.sources import payloads as p

PAGES = 6  # the catalogue's pages
PER_PAGE = 2
MAX_PAGES = 3  # pages per fetch call


@dataclass(frozen=True)
class Api:
    """An HTTP source's listing endpoint and the shapes of its answers."""

    key: str
    url: str
    item: Callable[[int, int], Any]  # the vendor's item n of page p
    page: Callable[[list[Any], int], Any]  # the answer holding those items, for page p
    malformed: Callable[[], Any]  # an item of the vendor's shape missing what makes it usable
    paged: bool


def _pexels_malformed() -> Any:
    photo = p.pexels_photo(999)
    del photo["src"]
    return photo


def _generated_malformed() -> Any:
    return p.generated_face("tiny", sizes=(32, 64, 128))  # nothing large enough to re-host


def _unsplash_malformed() -> Any:
    photo = p.unsplash_photo("elsewhere")
    photo["urls"]["raw"] = "https://evil.example/photo.jpg"
    return photo


APIS: dict[str, Api] = {
    "pexels": Api(
        p.PEXELS_KEY,
        "https://api.pexels.com/v1/search",
        lambda page, n: p.pexels_photo(page * 100 + n),
        lambda items, page: p.pexels_page(items, page, PER_PAGE, more=page < PAGES),
        _pexels_malformed,
        paged=True,
    ),
    "generated_photos": Api(
        p.GENERATED_KEY,
        "https://api.generated.photos/api/v1/faces",
        lambda page, n: p.generated_face(f"face{page:02d}x{n}"),
        lambda items, page: p.generated_page(items),
        _generated_malformed,
        paged=False,
    ),
    "unsplash": Api(
        p.UNSPLASH_KEY,
        "https://api.unsplash.com/search/photos",
        lambda page, n: p.unsplash_photo(f"photo{page:02d}x{n}"),
        lambda items, page: p.unsplash_page(items, total_pages=PAGES),
        _unsplash_malformed,
        paged=True,
    ),
}


def make_source(name: str) -> GallerySource:
    common: dict[str, Any] = {"clock": lambda: p.NOW, "max_pages": MAX_PAGES}
    if name == "pexels":
        return PexelsSource(p.PEXELS_KEY, per_page=PER_PAGE, **common)
    if name == "generated_photos":
        return GeneratedPhotosSource(p.GENERATED_KEY, per_page=PER_PAGE, **common)
    if name == "unsplash":
        return UnsplashSource(p.UNSPLASH_KEY, per_page=PER_PAGE, **common)
    return ProceduralSource(per_style=4)


@dataclass
class Subject:
    name: str
    source: GallerySource
    api: Api | None  # None: the offline source
    router: respx.MockRouter

    @property
    def style(self) -> str:
        return self.source.styles[0]

    def serve(self, *, page_items: Callable[[int], list[Any]] | None = None) -> None:
        """Answer from the catalogue, by page number (Generated Photos: by draw, 1, 2, ...)."""
        api = self.api
        if api is None:
            return
        draws = itertools.count(1)

        def answer(request: httpx.Request) -> httpx.Response:
            page = int(request.url.params.get("page", 0)) if api.paged else next(draws)
            items = page_items(page) if page_items else [api.item(page, n) for n in range(PER_PAGE)]
            return httpx.Response(200, json=api.page(items, page))

        self.router.get(api.url).mock(side_effect=answer)

    def requests(self) -> int:
        return len(self.router.calls)

    def fetch(self, budget: int = 10, cursor: str | None = None) -> list[SourceItem]:
        return list(self.source.fetch(self.style, budget, cursor))


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def _subject(name: str, router: respx.MockRouter) -> Iterator[Subject]:
    source = make_source(name)
    yield Subject(name, source, APIS.get(name), router)
    close = getattr(source, "close", None)
    if close is not None:
        close()


@pytest.fixture(params=["procedural", *APIS])
def subject(request: pytest.FixtureRequest, router: respx.MockRouter) -> Iterator[Subject]:
    yield from _subject(request.param, router)


@pytest.fixture(params=list(APIS))
def http(request: pytest.FixtureRequest, router: respx.MockRouter) -> Iterator[Subject]:
    yield from _subject(request.param, router)


@pytest.fixture(params=[name for name, api in APIS.items() if api.paged])
def paged(request: pytest.FixtureRequest, router: respx.MockRouter) -> Iterator[Subject]:
    yield from _subject(request.param, router)


def source_error(subject: Subject) -> SourceError:
    with pytest.raises(SourceError) as caught:
        subject.fetch()
    assert subject.api is not None and subject.api.key not in str(caught.value)
    return caught.value


# --------------------------------------------------------------------------------------------
# The contract, for every adapter
# --------------------------------------------------------------------------------------------


def test_items_are_well_formed(subject: Subject) -> None:
    subject.serve()
    source = subject.source
    assert subject.style in source.styles and source.per_run > 0
    items = subject.fetch(budget=4)
    assert items
    assert len({item.source_id for item in items}) == len(items)  # no item twice in one fetch
    for item in items:
        assert (item.source, item.style) == (source.name, subject.style)
        assert isinstance(item.source_id, str) and item.source_id.strip()
        assert isinstance(item.license, str) and item.license.strip()
        assert all(isinstance(tag, str) and tag for tag in item.tags)
        locators = [item.image_url, item.external_urls, item.render, item.stored_keys]
        assert sum(locator is not None for locator in locators) == 1, item
        if item.image_url is not None:
            url = httpx.URL(item.image_url)
            assert url.scheme == "https" and host_allowed(url.host, source.allowed_hosts), item.image_url
        if item.external_urls is not None:
            assert item.external_urls and all(u.startswith("https://") for u in item.external_urls.values())
        assert item.cursor is None or isinstance(item.cursor, str)
    render = items[0].render
    if render is not None:
        assert render().size[0] > 0  # the picture is made when asked, and only then
    if subject.api is None:
        assert subject.requests() == 0  # the offline source never touches the network


def test_source_ids_are_stable(subject: Subject) -> None:
    """The same answers give the same ids: the refresh recognises what it has already."""
    subject.serve()
    first = [item.source_id for item in subject.fetch()]
    subject.router.reset()
    subject.serve()
    assert [item.source_id for item in subject.fetch()] == first


def test_no_budget_yields_nothing_and_asks_nothing(subject: Subject) -> None:
    subject.serve()
    assert subject.fetch(budget=0) == []
    assert subject.requests() == 0


def test_a_caller_that_stops_at_the_budget_pays_only_for_the_pages_it_read(subject: Subject) -> None:
    subject.serve()
    budget = PER_PAGE + 1
    fetching = subject.source.fetch(subject.style, budget)
    taken = list(itertools.islice(fetching, budget))
    assert len(taken) == budget
    if isinstance(fetching, Generator):  # as the refresh does: stop the paging at once
        fetching.close()
    assert subject.requests() == (0 if subject.api is None else 2)  # two pages, never the third


def test_an_unknown_style_yields_nothing_and_asks_nothing(subject: Subject) -> None:
    subject.serve()
    assert list(subject.source.fetch("no-such-style", 10)) == []
    assert subject.requests() == 0


# --------------------------------------------------------------------------------------------
# Resuming at a cursor (the paged sources; the others offer none)
# --------------------------------------------------------------------------------------------


def test_cursors_name_pages_or_nothing(subject: Subject) -> None:
    subject.serve()
    cursors = {item.cursor for item in subject.fetch()}
    if subject.api is not None and subject.api.paged:
        assert None not in cursors and len(cursors) == MAX_PAGES
    else:
        assert cursors == {None}


def test_resuming_at_a_cursor_never_repeats_the_pages_before_it(paged: Subject) -> None:
    paged.serve()
    fetching = paged.source.fetch(paged.style, 10)
    taken = list(itertools.islice(fetching, PER_PAGE + 1))  # stopped inside page 2
    cursor = taken[-1].cursor
    assert cursor is not None

    resumed = paged.fetch(cursor=cursor)

    again = {item.source_id for item in resumed} & {item.source_id for item in taken}
    assert again <= {item.source_id for item in taken if item.cursor == cursor}, again
    assert len(resumed) > len(again)  # and it goes on past what was taken
    pages = [int(call.request.url.params["page"]) for call in paged.router.calls]
    assert pages[-MAX_PAGES:] == [2, 3, 4]


# --------------------------------------------------------------------------------------------
# The HTTP sources: errors, and the items they skip
# --------------------------------------------------------------------------------------------


def test_429_is_rate_limited_until_retry_at(http: Subject) -> None:
    assert http.api is not None
    http.router.get(http.api.url).mock(
        return_value=httpx.Response(
            429, headers={"Retry-After": "120"}, json={"error": "Rate limit exceeded"}
        )
    )
    error = source_error(http)
    assert isinstance(error, SourceRateLimited)
    assert error.retry_at == p.NOW + 120


def test_401_is_an_auth_error(http: Subject) -> None:
    assert http.api is not None
    http.router.get(http.api.url).mock(
        return_value=httpx.Response(401, json={"errors": [f"OAuth error: {http.api.key} is invalid"]})
    )
    assert isinstance(source_error(http), SourceAuthError)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"error": "Internal Server Error"}),
        httpx.Response(502, headers={"Content-Type": "text/html"}, text="<html>Bad gateway</html>"),
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(200, headers={"Content-Type": "text/html"}, text="<html>maintenance</html>"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
    ],
    ids=["500", "502", "503", "not-json", "read-timeout", "connect-timeout"],
)
def test_an_unavailable_api_is_source_unavailable(http: Subject, answer: httpx.Response | Exception) -> None:
    assert http.api is not None
    route = http.router.get(http.api.url)
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    assert isinstance(source_error(http), SourceUnavailable)


def test_a_failure_on_a_later_page_comes_after_the_items_already_fetched(http: Subject) -> None:
    assert http.api is not None
    api = http.api
    calls = itertools.count(1)

    def answer(request: httpx.Request) -> httpx.Response:
        n = next(calls)
        if n > 1:
            return httpx.Response(503, text="Service Unavailable")
        return httpx.Response(200, json=api.page([api.item(1, i) for i in range(PER_PAGE)], 1))

    http.router.get(api.url).mock(side_effect=answer)
    seen: list[SourceItem] = []
    with pytest.raises(SourceUnavailable):
        seen.extend(http.source.fetch(http.style, 10))
    assert len(seen) == PER_PAGE


def test_a_malformed_item_is_skipped_not_raised(http: Subject) -> None:
    assert http.api is not None
    api = http.api
    http.serve(
        page_items=lambda page: [api.item(page, 0), api.malformed(), "not an item", None, api.item(page, 1)]
    )
    items = http.fetch()
    assert len(items) == MAX_PAGES * 2  # the two good items of each page
    assert str(api.malformed()["id"]) not in {item.source_id for item in items}
