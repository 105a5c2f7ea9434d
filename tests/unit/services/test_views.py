"""GenerationView: a generation as the API shows it (public image URLs, an ETA while it is open)."""

from __future__ import annotations

from chalicelib.domain.generation import Failure
from chalicelib.services.generation.latency import DEFAULT_SECONDS
from chalicelib.services.generation.views import STORING_SECONDS
from tests.conftest import FILES_BASE
from tests.unit.services.wiring import USER, UseCases


def test_a_succeeded_generation_shows_public_urls_and_no_eta(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER, style="flat", prompt="a robot", variation=3)
    use_cases.run_job.run(generation.id)
    stored = use_cases.record(generation.id)
    body = use_cases.view.render(stored)
    assert body.images == {size: f"{FILES_BASE}/{key}" for size, key in (stored.images or {}).items()}
    assert (body.id, body.status, body.style, body.prompt, body.variation) == (
        generation.id,
        "succeeded",
        "flat",
        "a robot",
        3,
    )
    assert (body.size, body.quality, body.lane, body.cached) == (512, "fast", "free", False)
    assert body.provider == "procedural"
    assert body.error is None
    assert body.eta_seconds is None
    assert body.created_at == stored.created_at
    assert body.completed_at == stored.completed_at


def test_an_open_generation_gets_an_eta_from_its_place_in_line(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    typical = DEFAULT_SECONDS[generation.quality]  # nothing measured yet
    assert use_cases.view.eta_seconds(generation) == typical + STORING_SECONDS
    use_cases.queue.messages += [("ahead-1", "free", "job"), ("ahead-2", "free", "job")]
    use_cases.queue.enqueue(generation.id, "free")
    body = use_cases.view.render(generation)
    assert body.eta_seconds == 3 * typical + STORING_SECONDS  # two jobs ahead of it, then its own
    assert body.progress is not None
    assert (body.progress.phase, body.progress.queue_position) == ("queued", 3)
    assert body.images is None and body.completed_at is None


def test_a_failed_generation_shows_its_error_and_no_images(use_cases: UseCases) -> None:
    generation = use_cases.claimed(USER)
    use_cases.finish.fail(generation, Failure("content_rejected", "flagged"))
    body = use_cases.view.render(use_cases.record(generation.id))
    assert body.status == "failed"
    assert body.error is not None
    assert (body.error.code, body.error.message) == ("content_rejected", "flagged")
    assert body.images is None
    assert body.eta_seconds is None
