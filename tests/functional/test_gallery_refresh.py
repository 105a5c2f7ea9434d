"""The gallery refresh: atomic for readers, resumable, deduplicating; its admin route, its
schedule, and Unsplash's download tracking when a user picks a hotlinked photo.

Every source is a respx route with the vendor's real answer shape; images are real pictures;
DNS is replaced by a resolver that answers a public address (no test reaches the internet).
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from PIL import Image

from chalicelib.adapters.imaging.pipeline import PillowPipeline
from chalicelib.adapters.outbound.images import HttpImageFetcher
from chalicelib.adapters.sources.pexels import PexelsSource
from chalicelib.adapters.sources.procedural import ProceduralSource
from chalicelib.adapters.sources.unsplash import UnsplashDownloadTracker, UnsplashSource
from chalicelib.adapters.storage.gallery_layout import INDEX_KEY
from chalicelib.adapters.storage.gallery_store import ObjectGalleryStore
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, SystemClock, build_container, set_container
from chalicelib.ports import GallerySource, SourceItem
from chalicelib.services.gallery.catalog import GalleryService
from chalicelib.services.gallery.refresh import CHECKPOINT_KEY, LOCK_KEY, GalleryRefresh
from tests.conftest import FILES_BASE, SEED_PER_STYLE, auth, make_settings
from tests.unit.providers.helpers import public_resolver
from tests.unit.sources.payloads import (
    PEXELS_KEY,
    UNSPLASH_KEY,
    image_bytes,
    pexels_page,
    pexels_photo,
    pexels_quota,
    unsplash_page,
    unsplash_photo,
)

SEARCH = "https://api.pexels.com/v1/search"
UNSPLASH_SEARCH = "https://api.unsplash.com/search/photos"
OPERATOR = "op-secret-token"
SHARD_OBJECTS = ("gallery/shard-", "gallery/locator-", "gallery/pictures-")
PER_PAGE = 4


# --------------------------------------------------------------------------------------------
# Fixtures: a private copy of the seeded gallery, a store of its own, Pexels behind respx
# --------------------------------------------------------------------------------------------


def copy_objects(gallery_objects_dir: Path, root: Path) -> LocalObjectStore:
    shutil.copytree(gallery_objects_dir, root)
    return LocalObjectStore(root, FILES_BASE)


def new_store(redis_server: Any) -> RedisStateStore:
    return RedisStateStore(RedisPyClient(redis_server), prefix=f"gr{uuid.uuid4().hex[:8]}:")


class PexelsWorld:
    """Pexels' search API and its image CDN: ``ids`` in pages of ``PER_PAGE``."""

    def __init__(self, router: respx.MockRouter, ids: list[int], images: dict[int, bytes] | None = None):
        self.ids = ids
        self.images = images or {pid: image_bytes(pid) for pid in ids}
        self.search = router.get(SEARCH).mock(side_effect=self._search)
        self.cdn = router.get(url__regex=r"^https://images\.pexels\.com/photos/(?P<pid>\d+)/").mock(
            side_effect=self._image
        )

    def _search(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        photos = [pexels_photo(pid) for pid in self.ids[(page - 1) * PER_PAGE : page * PER_PAGE]]
        more = page * PER_PAGE < len(self.ids)
        return httpx.Response(200, headers=pexels_quota(150), json=pexels_page(photos, page, PER_PAGE, more))

    def _image(self, request: httpx.Request, pid: str) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "image/png"}, content=self.images[int(pid)])


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def pexels(per_run: int = 10) -> PexelsSource:
    return PexelsSource(PEXELS_KEY, per_page=PER_PAGE, per_run=per_run)


def make_job(
    objects: Any, store: RedisStateStore, sources: list[GallerySource], **kwargs: Any
) -> tuple[GalleryService, GalleryRefresh]:
    gallery = GalleryService(ObjectGalleryStore(objects), kv=store.kv)
    return gallery, GalleryRefresh(
        gallery=gallery,
        objects=objects,
        kv=store.kv,
        sources=sources,
        fetcher=HttpImageFetcher(resolver=public_resolver),
        pipeline=PillowPipeline(),
        clock=SystemClock(),
        **kwargs,
    )


def published_ids(objects: LocalObjectStore) -> set[str]:
    """The ids of the gallery as published now (read by a fresh reader)."""
    assert objects.get(INDEX_KEY) is not None
    return {e.id for e in GalleryService(ObjectGalleryStore(objects)).entries()}


class CountingObjects:
    """An object store that counts puts (the gallery index's apart), can crash on the n-th image put,
    and can call ``after_put`` after each put (a test holds the writer there while others look)."""

    def __init__(
        self,
        inner: LocalObjectStore,
        *,
        crash_at: int | None = None,
        after_put: Callable[[], None] | None = None,
    ) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.after_put = after_put
        self.image_puts = 0
        self.manifest_puts = 0

    def put(self, key: str, data: bytes, content_type: str, cache_control: str = "x") -> None:
        if key == INDEX_KEY:
            self.manifest_puts += 1
        elif not key.startswith(SHARD_OBJECTS):
            self.image_puts += 1
            if self.crash_at is not None and self.image_puts == self.crash_at:
                raise RuntimeError("injected crash")
        self.inner.put(key, data, content_type, cache_control)
        if self.after_put is not None:
            self.after_put()

    def get(self, key: str) -> bytes | None:
        return self.inner.get(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def public_url(self, key: str) -> str:
        return self.inner.public_url(key)


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------


def test_refresh_rehosts_new_items_and_publishes_once(
    router: respx.MockRouter, tmp_path: Path, gallery_objects_dir: Path, redis_server: Any
) -> None:
    world = PexelsWorld(router, list(range(101, 113)))
    local = copy_objects(gallery_objects_dir, tmp_path / "objects")
    objects = CountingObjects(local)
    store = new_store(redis_server)
    seed = published_ids(local)
    gallery, job = make_job(objects, store, [pexels(per_run=6), ProceduralSource(SEED_PER_STYLE)])

    report = job.run()

    assert report.status == "published"
    assert report.added == {"pexels": 6}
    assert objects.manifest_puts == 1  # one put of the index: readers never see half a gallery
    assert published_ids(local) == seed | {f"pexels-{pid}" for pid in range(101, 107)}
    assert world.search.call_count == 2  # two pages of 4 gave the 6 items
    item = gallery.get("pexels-101")
    assert item.source == "pexels" and item.style == "professional"
    assert item.attribution is not None and item.attribution.name == "Photo by Joey Farina on Pexels"
    for size, url in item.images.items():
        key = url.split("/v1/files/")[1]
        assert key.startswith("gallery/") and key.endswith(".webp")
        data = local.get(key)
        assert data is not None
        assert Image.open(io.BytesIO(data)).size == (int(size), int(size))

    again = job.run()  # incremental: resumes at the saved page, everything known is skipped
    assert again.status == "published" and again.added == {"pexels": 6}
    assert world.search.calls.last.request.url.params["page"] == "3"
    third = job.run()
    assert third.status == "unchanged" and third.added == {}
    assert objects.manifest_puts == 2
    assert store.kv.get(LOCK_KEY) is None and store.kv.get(CHECKPOINT_KEY) is None


def test_same_image_bytes_under_two_ids_become_one_item(
    router: respx.MockRouter, tmp_path: Path, gallery_objects_dir: Path, redis_server: Any
) -> None:
    same = image_bytes(7)
    PexelsWorld(router, [201, 202, 203], images={201: same, 202: same, 203: image_bytes(8)})
    local = copy_objects(gallery_objects_dir, tmp_path / "objects")
    _, job = make_job(local, new_store(redis_server), [pexels()])

    report = job.run()

    assert report.added == {"pexels": 2} and report.duplicates == 1
    ids = published_ids(local)
    assert "pexels-201" in ids and "pexels-203" in ids and "pexels-202" not in ids


def test_a_crash_mid_refresh_then_a_second_run_equals_one_clean_run(
    router: respx.MockRouter, tmp_path: Path, gallery_objects_dir: Path, redis_server: Any
) -> None:
    PexelsWorld(router, list(range(301, 313)))

    clean_objects = copy_objects(gallery_objects_dir, tmp_path / "clean")
    _, clean_job = make_job(
        clean_objects, new_store(redis_server), [pexels(), ProceduralSource(SEED_PER_STYLE)]
    )
    assert clean_job.run().added == {"pexels": 10}
    clean_manifest = clean_objects.get(INDEX_KEY)

    crashed_objects = copy_objects(gallery_objects_dir, tmp_path / "crashed")
    before = crashed_objects.get(INDEX_KEY)
    store = new_store(redis_server)
    flaky = CountingObjects(crashed_objects, crash_at=3 * 7 + 2)  # in the 8th item's renditions
    _, job = make_job(flaky, store, [pexels(), ProceduralSource(SEED_PER_STYLE)], checkpoint_every=3)
    with pytest.raises(RuntimeError, match="injected crash"):
        job.run()
    assert crashed_objects.get(INDEX_KEY) == before  # nothing published by the crashed run
    assert store.kv.get(LOCK_KEY) is None  # the lock was released
    checkpoint = json.loads(store.kv.get(CHECKPOINT_KEY) or "{}")
    assert len(checkpoint["staged"]) == 6  # two checkpoints of three items each

    _, second = make_job(crashed_objects, store, [pexels(), ProceduralSource(SEED_PER_STYLE)])
    report = second.run()

    assert report.resumed and report.run_id == checkpoint["run_id"]
    assert report.added == {"pexels": 10}
    assert crashed_objects.get(INDEX_KEY) == clean_manifest
    assert store.kv.get(CHECKPOINT_KEY) is None


def test_listings_during_a_refresh_see_the_old_or_the_new_gallery(
    router: respx.MockRouter, tmp_path: Path, gallery_objects_dir: Path, redis_server: Any
) -> None:
    PexelsWorld(router, list(range(401, 409)))
    local = copy_objects(gallery_objects_dir, tmp_path / "objects")
    store = new_store(redis_server)
    # Other Lambdas: one revalidating through the store's version, one by reading the index.
    readers = [
        GalleryService(
            ObjectGalleryStore(LocalObjectStore(local._root, FILES_BASE)), kv=store.kv, revalidate_seconds=0
        ),
        GalleryService(ObjectGalleryStore(LocalObjectStore(local._root, FILES_BASE)), revalidate_seconds=0),
    ]
    old = frozenset(i.id for i in readers[0].page(None, None, 100, None).items)
    seen: list[frozenset[str]] = []
    stop = threading.Event()
    listed = threading.Condition()
    listings = [0, 0, 0, 0]  # per reader thread: listings finished

    def readers_list(times: int, *, every: bool) -> None:
        """Block until a reader (or each reader) has finished ``times`` more listings; with two,
        the last of them began after this call."""
        with listed:
            marks = list(listings)
            assert listed.wait_for(
                lambda: (all if every else any)(
                    n >= mark + times for n, mark in zip(listings, marks, strict=True)
                ),
                timeout=10,
            ), "the readers stopped listing"

    def list_continuously(n: int, reader: GalleryService) -> None:
        while not stop.is_set():
            snapshot = frozenset(i.id for i in reader.page(None, None, 100, None).items)
            with listed:
                seen.append(snapshot)
                listings[n] += 1
                listed.notify_all()

    # The writer waits after each put until a reader has listed again: the listings interleave
    # with the whole refresh, however the threads are scheduled.
    objects = CountingObjects(local, after_put=lambda: readers_list(1, every=False))
    _, job = make_job(objects, store, [pexels(per_run=8)])
    threads = [
        threading.Thread(target=list_continuously, args=(n, reader))
        for n, reader in enumerate(r for r in readers for _ in range(2))
    ]
    for thread in threads:
        thread.start()
    try:
        report = job.run()
        readers_list(2, every=True)  # a listing that began after the run ended, by every reader
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)

    new = frozenset(old | {f"pexels-{pid}" for pid in range(401, 409)})
    assert report.added == {"pexels": 8}
    assert len(seen) > 20
    assert set(seen) <= {old, new}, "a listing saw a half-written gallery"
    assert old in seen and new in seen


def test_a_rate_limited_source_is_skipped_until_its_reset(
    router: respx.MockRouter, tmp_path: Path, gallery_objects_dir: Path, redis_server: Any
) -> None:
    reset = int(time.time()) + 1800
    search = router.get(SEARCH).mock(
        return_value=httpx.Response(
            429, headers=pexels_quota(0, reset), json={"error": "Rate limit exceeded"}
        )
    )
    local = copy_objects(gallery_objects_dir, tmp_path / "objects")
    _, job = make_job(local, new_store(redis_server), [pexels(), ProceduralSource(SEED_PER_STYLE)])

    first = job.run()
    assert first.stopped == {"pexels": "rate limited"}
    assert first.status == "unchanged"
    second = job.run()
    assert search.call_count == 1  # not asked again before the reset
    assert second.stopped == {"pexels": f"rate limited until {reset}"}


def test_the_deadline_stops_a_run_and_the_next_one_goes_on(
    router: respx.MockRouter, tmp_path: Path, gallery_objects_dir: Path, redis_server: Any
) -> None:
    PexelsWorld(router, list(range(501, 505)))
    local = copy_objects(gallery_objects_dir, tmp_path / "objects")
    _, job = make_job(local, new_store(redis_server), [pexels()])
    stopped = job.run(deadline_s=0)
    assert stopped.partial and stopped.added == {}
    assert job.run().added == {"pexels": 4}


def test_only_one_refresh_runs_at_a_time(
    tmp_path: Path, gallery_objects_dir: Path, redis_server: Any
) -> None:
    store = new_store(redis_server)
    _, job = make_job(copy_objects(gallery_objects_dir, tmp_path / "o"), store, [])
    store.kv.set_once(LOCK_KEY, "someone-else", 60)
    assert job.run().status == "busy"
    assert store.kv.get(LOCK_KEY) == "someone-else"


# --------------------------------------------------------------------------------------------
# The admin route and the schedule
# --------------------------------------------------------------------------------------------


@pytest.fixture
def private_container(
    tmp_path: Path, gallery_objects_dir: Path, store: RedisStateStore, provider: Any
) -> Iterator[Container]:
    objects = copy_objects(gallery_objects_dir, tmp_path / "objects")
    settings = make_settings(tmp_path, admin_token=OPERATOR, unsplash_access_key=UNSPLASH_KEY)
    built = build_container(settings, store=store, objects=objects, provider=provider, start_workers=False)
    set_container(built)
    yield built
    set_container(None)


@pytest.fixture
def app_client(private_container: Container) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


def use_sources(container: Container, sources: list[GallerySource]) -> GalleryRefresh:
    job = GalleryRefresh(
        gallery=container.gallery.catalog,
        objects=container.ports.objects,
        kv=container.ports.store.kv,
        sources=sources,
        fetcher=HttpImageFetcher(resolver=public_resolver),
        pipeline=container.ports.pipeline,
        clock=container.ports.clock,
    )
    container.gallery.refresh = job
    return job


def refresh(client: Any, headers: dict[str, str]) -> Any:
    return client.http.post("/v1/admin/gallery/refresh", headers=headers)


def test_admin_refresh_is_202_for_the_operator_only(
    router: respx.MockRouter, app_client: Any, private_container: Container
) -> None:
    PexelsWorld(router, list(range(601, 605)))
    use_sources(private_container, [pexels(per_run=3)])

    assert refresh(app_client, {}).status_code == 401
    assert refresh(app_client, auth("user-1")).status_code == 403
    assert refresh(app_client, {"Authorization": "Bearer not-the-token"}).status_code == 403
    assert refresh(app_client, {"X-API-Key": "afk_some_key"}).status_code == 403

    response = refresh(app_client, {"Authorization": f"Bearer {OPERATOR}"})
    assert response.status_code == 202
    body = response.json_body
    assert body["status"] == "published" and body["added"] == {"pexels": 3}
    assert body["total"] == SEED_PER_STYLE * 10 + 3
    listed = app_client.http.get("/v1/gallery?style=professional&tag=headshot").json_body["items"]
    assert [i["id"] for i in listed] == ["pexels-601", "pexels-602", "pexels-603"]
    paths = app_client.http.get("/v1/openapi.json").json_body["paths"]
    assert "202" in paths["/v1/admin/gallery/refresh"]["post"]["responses"]


class BlockingSource:
    """A source that waits for a signal before it offers anything (a slow refresh)."""

    name = "procedural"
    styles: tuple[str, ...] = ("anime",)
    per_run = 1
    allowed_hosts: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.go = threading.Event()
        self.finished = threading.Event()

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]:
        self.go.wait(10)
        yield SourceItem(
            source="procedural",
            source_id="anime-900",
            style="anime",
            tags=("procedural",),
            license="CC0-1.0",
            render=_solid_picture,
        )
        self.finished.set()


def _solid_picture() -> Any:
    return Image.new("RGB", (128, 128), (10, 120, 200))


def test_admin_refresh_in_the_local_stage_answers_at_once(
    app_client: Any, private_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        private_container, "settings", private_container.settings.model_copy(update={"stage": "local"})
    )
    source = BlockingSource()
    job = use_sources(private_container, [source])
    ran = threading.Event()
    real_run = job.run

    def run(*, deadline_s: float | None = None) -> Any:
        try:
            return real_run(deadline_s=deadline_s)
        finally:
            ran.set()

    job.run = run  # type: ignore[method-assign]

    response = refresh(app_client, {"Authorization": f"Bearer {OPERATOR}"})

    assert response.status_code == 202 and response.json_body["status"] == "started"
    assert not source.finished.is_set()  # the run is still waiting in the background
    source.go.set()
    assert ran.wait(10), "the background run did not end"
    assert private_container.gallery.catalog.entry("proc-anime-900") is not None
    assert private_container.ports.store.kv.get(LOCK_KEY) is None


def test_the_schedule_runs_the_same_job(app_client: Any, private_container: Container) -> None:
    job = use_sources(private_container, [ProceduralSource(SEED_PER_STYLE)])
    calls: list[float | None] = []
    real_run = job.run

    def run(*, deadline_s: float | None = None) -> Any:
        calls.append(deadline_s)
        return real_run(deadline_s=deadline_s)

    job.run = run  # type: ignore[method-assign]
    result = app_client.lambda_.invoke(
        "gallery_refresh",
        app_client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        ),
    )
    assert result.payload["status"] == "unchanged"  # the seeded procedural items are all there
    assert len(calls) == 1 and calls[0] is not None and 0 < calls[0] < 3


class TrackedDownloads:
    """Counts the ends of Unsplash's download tracking calls, which run on background threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._ended = threading.Semaphore(0)
        real_track = UnsplashDownloadTracker._track

        def track(tracker: UnsplashDownloadTracker, url: str) -> None:
            try:
                real_track(tracker, url)
            finally:
                self._ended.release()

        monkeypatch.setattr(UnsplashDownloadTracker, "_track", track)

    def wait_one(self, timeout: float = 10.0) -> None:
        assert self._ended.acquire(timeout=timeout), "the download tracking call did not end"


# --------------------------------------------------------------------------------------------
# Unsplash: hotlinked, and picking one calls its download_location
# --------------------------------------------------------------------------------------------


def test_choosing_an_unsplash_photo_calls_its_download_location(
    router: respx.MockRouter, app_client: Any, private_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads = TrackedDownloads(monkeypatch)
    router.get(UNSPLASH_SEARCH).mock(
        return_value=httpx.Response(
            200, json=unsplash_page([unsplash_photo("abc"), unsplash_photo("def")], 1)
        )
    )
    tracked = router.get("https://api.unsplash.com/photos/abc/download").mock(
        return_value=httpx.Response(200, json={"url": "https://images.unsplash.com/photo-abc"})
    )
    failing = router.get("https://api.unsplash.com/photos/def/download").mock(
        return_value=httpx.Response(500, text="oops")
    )
    job = use_sources(private_container, [UnsplashSource(UNSPLASH_KEY, per_run=5)])
    assert job.run().added == {"unsplash": 2}

    item = app_client.http.get("/v1/gallery/unsplash-abc").json_body
    assert item["images"]["512"].startswith("https://images.unsplash.com/photo-abc?")  # hotlinked
    assert item["attribution"]["url"].endswith("?utm_source=avatarflow&utm_medium=referral")
    headers = auth("picker")
    response = app_client.http.put(
        "/v1/me/avatar", headers=headers, body=json.dumps({"gallery_id": "unsplash-abc"})
    )
    assert response.status_code == 200
    assert response.json_body["avatar"]["images"] == item["images"]
    downloads.wait_one()
    assert tracked.call_count == 1
    assert tracked.calls.last.request.headers["Authorization"] == f"Client-ID {UNSPLASH_KEY}"

    # Unsplash failing never fails the choice.
    other = app_client.http.put(
        "/v1/me/avatar", headers=headers, body=json.dumps({"gallery_id": "unsplash-def"})
    )
    assert other.status_code == 200
    downloads.wait_one()
    assert failing.call_count == 1
    # A procedural item calls nothing.
    first = app_client.http.get("/v1/gallery?style=anime&limit=1").json_body["items"][0]
    assert (
        app_client.http.put(
            "/v1/me/avatar", headers=headers, body=json.dumps({"gallery_id": first["id"]})
        ).status_code
        == 200
    )
    assert tracked.call_count == 1 and failing.call_count == 1
