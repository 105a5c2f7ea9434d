"""Batch AI in the gallery refresh: pre-generation on the batch lane within a share of the budget.

The "AI provider" is the real procedural renderer (``RecordingProvider``) under a vendor's name
behind the real provider router, so the app treats it as a configured AI vendor; the batch lane
is the embedded in-process queue, the store a real embedded Redis, the objects a local directory.
Nothing reaches the internet.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.domain.generation import Generation
from chalicelib.domain.periods import spend_keys
from chalicelib.domain.styles import STYLES, STYLES_BY_ID
from chalicelib.ports import ImageProvider, ProviderDown, ProviderRequest, ProviderResult
from chalicelib.services.gallery.ai import (
    LICENSE,
    SYSTEM_IDENTITY,
    BatchAISource,
    GalleryAIPolicy,
    gallery_spend_key,
    state_key,
)
from chalicelib.services.gallery.refresh import GalleryRefresh
from chalicelib.services.routing.router import ProviderRouter
from tests.conftest import FILES_BASE, make_settings
from tests.fakes import RecordingProvider
from tests.fakes import settle as lanes_idle

STYLE_IDS = [s.id for s in STYLES]
COST = 0.01  # USD per image


class FakeVendor(ImageProvider):
    """The procedural renderer under an AI vendor's name (so the router routes ``fast`` to it),
    optionally held at a gate (a busy GPU) or failing for some styles."""

    def __init__(
        self,
        name: str = "fal",
        *,
        gate: threading.Event | None = None,
        fail_styles: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.inner = RecordingProvider(cost_usd=COST)
        self.gate = gate
        self.fail_styles = fail_styles

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        if self.gate is not None:
            self.gate.wait(30)
        if request.style_id in self.fail_styles:
            raise ProviderDown("the GPU worker ran out of memory")
        result = self.inner.generate(request)
        return dataclasses.replace(result, provider=self.name, model="flux-schnell-test")


Build = Callable[..., Container]


@pytest.fixture
def build(tmp_path: Path, store: RedisStateStore, gallery_objects_dir: Path) -> Iterator[Build]:
    """A container over a private copy of the seeded gallery, with ``vendor`` as its AI provider."""
    objects = LocalObjectStore(tmp_path / "objects", FILES_BASE)
    shutil.copytree(gallery_objects_dir, tmp_path / "objects")
    built: list[Container] = []

    def make(vendor: Any, **overrides: Any) -> Container:
        settings = make_settings(tmp_path, **{"gallery_ai_per_run": 1, **overrides})
        provider = ProviderRouter([vendor], store.breakers) if isinstance(vendor, FakeVendor) else vendor
        container = build_container(settings, store=store, objects=objects, provider=provider)
        set_container(container)
        built.append(container)
        return container

    yield make
    for container in built:  # no worker thread may outlive its test half way through a job
        settle(container)
    set_container(None)


def refresh_job(container: Container) -> GalleryRefresh:
    job = container.gallery.refresh
    assert job.sources[0].name == "ai"
    return job


def gallery_jobs(container: Container) -> list[Generation]:
    found, _ = container.ports.store.generations.history(SYSTEM_IDENTITY.key, 1000, None)
    return found


def pending(container: Container) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for style in STYLE_IDS:
        raw = container.ports.store.kv.get(state_key(style))
        out[style] = json.loads(raw)["pending"] if raw else []
    return out


def settle(container: Container, timeout: float = 60.0) -> None:
    """Wait until the batch lane has ended every job it was given."""
    lanes_idle(container, timeout)
    assert not container.ports.store.generations.open_ids(), "the batch lane did not finish its jobs"


def ai_items(client: Any) -> list[dict[str, Any]]:
    page = client.http.get("/v1/gallery?tag=ai&limit=100")
    assert page.status_code == 200
    items: list[dict[str, Any]] = page.json_body["items"]
    return items


@pytest.fixture
def client(build: Build) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


# --------------------------------------------------------------------------------------------
# Submit now, publish on a later run
# --------------------------------------------------------------------------------------------


def test_jobs_submitted_on_the_batch_lane_are_published_as_ai_items_by_a_later_run(
    build: Build, client: Any
) -> None:
    vendor = FakeVendor()
    container = build(vendor)
    job = refresh_job(container)

    first = job.run()

    assert first.added == {}  # nothing finished yet: nothing is published
    submitted = gallery_jobs(container)
    assert sorted(r.style for r in submitted) == sorted(STYLE_IDS)  # one per style (per_run=1)
    for record in submitted:
        assert record.lane == "batch"
        assert record.gallery_candidate is True
        assert record.tier == "gallery"
        assert (record.prompt, record.variation, record.quality) == ("", 999, "fast")

    settle(container)
    assert vendor.inner.total_calls == len(STYLE_IDS)
    # Their cost went to the gallery's own counter (and the total), not to a client tier.
    spent, total, enterprise = container.ports.store.counters.values(
        [
            gallery_spend_key(time.time()),
            spend_keys(time.time())[0],
            f"{spend_keys(time.time())[0]}:tier:enterprise",
        ]
    )
    assert spent == pytest.approx(COST * len(STYLE_IDS))
    assert total == pytest.approx(spent) and enterprise == 0

    second = job.run()

    assert second.status == "published" and second.added == {"ai": len(STYLE_IDS)}
    items = ai_items(client)
    assert sorted(i["id"] for i in items) == sorted(f"ai-{s}-fast-v999" for s in STYLE_IDS)
    for item in items:
        assert item["source"] == "ai" and item["license"] == LICENSE and item["attribution"] is None
        assert item["tags"] == [STYLES_BY_ID[item["style"]].look.technique, "ai", "fast"]
        assert set(item["images"]) == {"128", "256", "512"}
        for size, url in item["images"].items():
            key = url.split("/v1/files/")[1]
            assert key.startswith("gallery/") and key.endswith(".webp")  # out of the img/ lifecycle
            data = container.ports.objects.get(key)
            assert data is not None
            assert Image.open(io.BytesIO(data)).size == (int(size), int(size))
    # Copied byte for byte from the generation's renditions.
    anime = next(r for r in submitted if r.style == "anime")
    made = container.ports.store.generations.get(anime.id)
    assert made is not None and made.images is not None
    generated = made.images
    listed = next(i for i in items if i["style"] == "anime")["images"]
    assert container.ports.objects.get(generated["512"]) == container.ports.objects.get(
        listed["512"].split("/v1/files/")[1]
    )

    # The second run also asked for the next variation of every style; the third publishes those
    # and forgets the published ones (nothing is submitted twice).
    settle(container)
    third = job.run()
    assert third.added == {"ai": len(STYLE_IDS)}
    variations = sorted(r.variation for r in gallery_jobs(container) if r.style == "anime")
    assert variations == [997, 998, 999]
    assert all(p["v"] <= 998 for jobs in pending(container).values() for p in jobs)
    assert len(ai_items(client)) == 2 * len(STYLE_IDS)


def test_the_refresh_never_waits_on_a_busy_gpu_and_keeps_at_most_per_run_open(build: Build) -> None:
    gate = threading.Event()
    container = build(FakeVendor(gate=gate))
    job = refresh_job(container)
    try:
        started = time.monotonic()
        first = job.run()
        second = job.run()  # the jobs are still at the "GPU": nothing to publish, nothing more asked
        assert time.monotonic() - started < 10
        assert first.added == {} and second.added == {}
        assert len(gallery_jobs(container)) == len(STYLE_IDS)
        statuses = container.ports.store.generations.statuses([r.id for r in gallery_jobs(container)])
        assert set(statuses) <= {"queued", "running"}
    finally:
        gate.set()
    settle(container)
    assert job.run().added == {"ai": len(STYLE_IDS)}


def test_an_item_offered_to_a_run_that_stopped_at_its_deadline_is_offered_again(build: Build) -> None:
    container = build(FakeVendor())
    job = refresh_job(container)
    job.run()
    settle(container)

    stopped = job.run(deadline_s=0.0)  # the time is up before the first item is taken

    assert stopped.partial and stopped.added == {}
    settle(container)
    assert job.run().added == {"ai": len(STYLE_IDS)}


# --------------------------------------------------------------------------------------------
# The budget share
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counter", "value", "submits"),
    [
        ("gallery", "2.5", False),  # 10 % of the 25 USD daily budget: the share is spent
        ("gallery", "2.49", True),
        ("total", "25.0", False),  # the whole budget is spent: the gallery is the first to pause
    ],
)
def test_the_budget_share_stops_submission(build: Build, counter: str, value: str, submits: bool) -> None:
    vendor = FakeVendor()
    container = build(vendor, daily_budget_usd=25.0, gallery_ai_budget_share=0.1)
    now = time.time()
    container.ports.store.kv.set(
        gallery_spend_key(now) if counter == "gallery" else spend_keys(now)[0], value
    )

    report = refresh_job(container).run()

    assert report.added == {}
    assert len(gallery_jobs(container)) == (len(STYLE_IDS) if submits else 0)
    if not submits:
        assert vendor.inner.total_calls == 0
        assert all(not jobs for jobs in pending(container).values())


def test_a_zero_share_submits_nothing(build: Build) -> None:
    vendor = FakeVendor()
    container = build(vendor, gallery_ai_budget_share=0.0)

    refresh_job(container).run()
    settle(container)  # had the run queued anything, the batch lane would have run it by now

    assert gallery_jobs(container) == []
    assert vendor.inner.total_calls == 0


# --------------------------------------------------------------------------------------------
# Failures, and when there is no AI provider at all
# --------------------------------------------------------------------------------------------


def test_failed_jobs_are_not_published(build: Build, client: Any) -> None:
    container = build(FakeVendor(fail_styles=frozenset({"oil"})))
    job = refresh_job(container)
    job.run()
    settle(container)
    oil = next(r for r in gallery_jobs(container) if r.style == "oil")
    failed = container.ports.store.generations.get(oil.id)
    assert failed is not None and failed.status == "failed"

    report = job.run()

    assert report.added == {"ai": len(STYLE_IDS) - 1}
    ids = {i["id"] for i in ai_items(client)}
    assert "ai-oil-fast-v999" not in ids and "ai-anime-fast-v999" in ids
    assert oil.id not in {p["id"] for p in pending(container)["oil"]}  # dropped, not retried


def test_jobs_made_by_the_procedural_fallback_are_not_published(build: Build, store: RedisStateStore) -> None:
    from chalicelib.adapters.providers.procedural import ProceduralProvider

    # A router whose only vendor always fails: the offline renderer, its last resort, makes them.
    router = ProviderRouter(
        [FakeVendor(fail_styles=frozenset(STYLE_IDS))], store.breakers, fallback=ProceduralProvider()
    )
    container = build(router)
    job = refresh_job(container)
    job.run()
    settle(container)
    assert {r.provider for r in gallery_jobs(container)} == {"procedural"}

    assert job.run().added == {}


def test_without_an_ai_provider_there_is_no_batch_ai_source(build: Build, store: RedisStateStore) -> None:
    assert not RecordingProvider().vendors
    assert not ProviderRouter([], store.breakers).vendors
    assert ProviderRouter([FakeVendor()], store.breakers).vendors
    procedural_only = build(RecordingProvider())
    assert [s.name for s in procedural_only.gallery.refresh.sources] == ["procedural"]
    turned_off = build(FakeVendor(), gallery_ai_per_run=0)
    assert "ai" not in [s.name for s in turned_off.gallery.refresh.sources]


def test_the_source_alone_yields_nothing_before_its_jobs_end(build: Build) -> None:
    gate = threading.Event()
    container = build(FakeVendor(gate=gate))
    source = BatchAISource(
        admission=container.generation.admission,
        finish=container.generation.steps.finish,
        generations=container.ports.store.generations,
        counters=container.ports.store.counters,
        kv=container.ports.store.kv,
        queue=container.ports.queue,
        clock=container.ports.clock,
        policy=GalleryAIPolicy(daily_budget_usd=25.0, per_run=2),
    )
    try:
        assert list(source.fetch("anime", 2)) == []
        assert [p["v"] for p in pending(container)["anime"]] == [999, 998]
        assert list(source.fetch("anime", 2)) == []  # two open already: none more
        assert len(gallery_jobs(container)) == 2
        assert list(source.fetch("no-such-style", 2)) == []
    finally:
        gate.set()
