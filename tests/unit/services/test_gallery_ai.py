"""BatchAISource: the gallery's own AI avatars, admitted like any generation on the batch lane within
a share of the budget, and offered to the gallery refresh once made."""

from __future__ import annotations

import json
from collections.abc import Callable

from chalicelib.domain.budget import Budget
from chalicelib.services.gallery.ai import (
    GALLERY_TIER,
    LICENSE,
    SYSTEM_IDENTITY,
    BatchAISource,
    GalleryAIPolicy,
    gallery_spend_key,
    state_key,
)
from tests.unit.services.fakes import QuickProvider
from tests.unit.services.wiring import Build, UseCases


def source(use_cases: UseCases, *, is_published: Callable[[str], bool] | None = None) -> BatchAISource:
    return BatchAISource(
        admission=use_cases.admission,
        finish=use_cases.finish,
        generations=use_cases.store.generations,
        counters=use_cases.store.counters,
        kv=use_cases.store.kv,
        queue=use_cases.queue,
        clock=use_cases.clock,
        policy=GalleryAIPolicy(daily_budget_usd=10.0, budget_share=0.1, per_run=2),
        is_published=is_published,
    )


def ai_use_cases(build: Build, provider: str = "together") -> UseCases:
    return build(provider=QuickProvider(name=provider, cost_usd=0.003), budget=Budget(10.0, 300.0))


def test_a_run_submits_jobs_and_a_later_run_offers_what_they_made(build: Build) -> None:
    use_cases = ai_use_cases(build)
    ai = source(use_cases)
    assert ai.budget_usd == 1.0
    assert list(ai.fetch("anime", budget=10)) == []  # nothing made yet: the jobs were submitted

    submitted = use_cases.queue.jobs()
    assert len(submitted) == 2
    records = [use_cases.record(gid) for gid in submitted]
    assert [g.variation for g in records] == [999, 998]
    for generation in records:
        assert (generation.lane, generation.tier, generation.gallery_candidate) == (
            "batch",
            GALLERY_TIER,
            True,
        )
        assert generation.owner == SYSTEM_IDENTITY.key
        assert (generation.prompt, generation.size, generation.quality) == ("", 512, "fast")
    state = json.loads(use_cases.store.kv.get(state_key("anime")) or "{}")
    assert state == {"next": 997, "pending": [{"id": submitted[0], "v": 999}, {"id": submitted[1], "v": 998}]}

    for gid in submitted:
        use_cases.run_job.run(gid)
    assert use_cases.store.counters.values([gallery_spend_key(use_cases.clock.time())]) == [0.006]

    items = list(ai.fetch("anime", budget=10))
    assert [i.source_id for i in items] == ["anime-fast-v999", "anime-fast-v998"]
    first = items[0]
    assert (first.source, first.style, first.license) == ("ai", "anime", LICENSE)
    assert "ai" in first.tags
    assert first.stored_keys == dict(use_cases.record(submitted[0]).images or {})
    assert all(use_cases.images.exists(key) for key in (first.stored_keys or {}).values())
    # ... and the next variations were submitted in the same run
    assert len(use_cases.queue.jobs()) == 4
    state = json.loads(use_cases.store.kv.get(state_key("anime")) or "{}")
    assert [p["v"] for p in state["pending"]] == [997, 996]


def test_no_submission_once_the_gallerys_share_is_spent(build: Build) -> None:
    use_cases = ai_use_cases(build)
    use_cases.store.kv.set(gallery_spend_key(use_cases.clock.time()), "1.0")
    assert list(source(use_cases).fetch("pixel", budget=10)) == []
    assert use_cases.queue.messages == []


def test_pictures_made_by_the_procedural_fallback_are_not_offered(build: Build) -> None:
    use_cases = ai_use_cases(build, provider="procedural")
    ai = source(use_cases)
    list(ai.fetch("oil", budget=10))
    for gid in use_cases.queue.jobs():
        use_cases.run_job.run(gid)
    assert list(ai.fetch("oil", budget=10)) == []


def test_an_offered_item_stays_pending_until_the_gallery_lists_it(build: Build) -> None:
    use_cases = ai_use_cases(build)
    published: set[str] = set()
    ai = source(use_cases, is_published=published.__contains__)
    list(ai.fetch("flat", budget=10))
    for gid in use_cases.queue.jobs():
        use_cases.run_job.run(gid)
    assert len(list(ai.fetch("flat", budget=10))) == 2
    offered_again = list(ai.fetch("flat", budget=10))  # the refresh stopped before listing them
    assert [i.source_id for i in offered_again] == ["flat-fast-v999", "flat-fast-v998"]
    published.add("flat-fast-v999")
    assert [i.source_id for i in ai.fetch("flat", budget=10)] == ["flat-fast-v998"]


def test_a_style_without_the_quality_is_not_served(build: Build) -> None:
    use_cases = ai_use_cases(build)
    assert list(source(use_cases).fetch("no-such-style", budget=10)) == []
    assert use_cases.queue.messages == []
