"""The Generation entity: its states, the legal and illegal moves, the refund on failure, and the
flat hash it is stored as (``to_fields`` / ``from_fields``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib.domain.generation import (
    Failure,
    Generation,
    IllegalTransition,
    Success,
    epoch,
    iso,
    request_hash,
    sizes_for,
)
from chalicelib.domain.provider_job import ProviderJob

CREATED = "2033-05-18T03:33:20.000Z"
ENDED = "2033-05-18T03:33:25.000Z"
NOW_MS = 2_000_000_000_000


def queued(**changes: Any) -> Generation:
    base = Generation(
        id="gen_abc",
        owner="u:user-1",
        style="anime",
        prompt="a cat",
        variation=3,
        size=512,
        quality="fast",
        lane="free",
        tier="free",
        created_at=CREATED,
        request_hash=request_hash("anime", "a cat", 3, 512, "fast"),
        charged=("af:q:u:user-1:h1", "af:q:u:user-1:d1"),
    )
    return dataclasses.replace(base, **changes)


SUCCESS = Success(
    images={"128": "img/a.webp", "512": "img/c.webp"},
    provider="fal",
    model="flux",
    latency_ms=812.5,
    cost_usd=0.003,
)
FAILURE = Failure("provider_unavailable", "No provider could serve it.")


def test_a_new_generation_is_queued_open_and_never_started() -> None:
    generation = queued()
    assert generation.status == "queued"
    assert generation.is_open and not generation.is_terminal
    assert generation.never_started
    assert generation.created_epoch == pytest.approx(epoch(CREATED))
    assert generation.seed == int(generation.request_hash[:8], 16)
    assert generation.sizes == (128, 256, 512)
    assert sizes_for(1024) == (128, 256, 512, 1024)
    assert not queued(leader="gen_leader").never_started
    assert not queued(attempts=1).never_started


def test_claim_moves_queued_to_running_under_a_lease() -> None:
    running = queued().claimed(NOW_MS, 60_000)
    assert running.status == "running"
    assert running.attempts == 1
    assert running.lease_until_ms == NOW_MS + 60_000
    assert running.is_open and not running.never_started


def test_a_held_lease_cannot_be_claimed_but_an_expired_one_is_taken_over() -> None:
    running = queued().claimed(NOW_MS, 60_000)
    with pytest.raises(IllegalTransition, match="held by another worker"):
        running.claimed(NOW_MS + 59_999, 60_000)
    taken = running.claimed(NOW_MS + 60_000, 60_000)
    assert taken.attempts == 2
    assert taken.lease_until_ms == NOW_MS + 120_000


def test_release_puts_a_running_job_back_keeping_its_charge() -> None:
    job = ProviderJob("replicate", "p1")
    running = dataclasses.replace(queued().claimed(NOW_MS, 60_000), provider_job=job)
    released = running.released()
    assert released.status == "queued"
    assert released.lease_until_ms == 0
    assert released.provider_job is None
    assert released.charged == running.charged
    assert released.attempts == 1
    with pytest.raises(IllegalTransition, match="not running"):
        released.released()


def test_success_ends_with_the_result_and_keeps_the_charge() -> None:
    done = queued().claimed(NOW_MS, 60_000).ended(SUCCESS, ENDED)
    assert done.status == "succeeded"
    assert done.is_terminal and not done.is_open
    assert done.images == {"128": "img/a.webp", "512": "img/c.webp"}
    assert (done.provider, done.model, done.provider_latency_ms, done.cost_usd) == (
        "fal",
        "flux",
        812.5,
        0.003,
    )
    assert done.completed_at == ENDED
    assert done.error is None
    assert done.lease_until_ms == 0
    assert done.charged == queued().charged
    assert not done.refunded


def test_failure_refunds_what_was_charged() -> None:
    failed = queued().claimed(NOW_MS, 60_000).ended(FAILURE, ENDED)
    assert failed.status == "failed"
    assert failed.error == FAILURE
    assert failed.images is None
    assert failed.charged == ()
    assert failed.refunded
    assert failed.completed_at == ENDED


def test_a_failure_of_an_uncharged_job_refunds_nothing() -> None:
    follower = queued(charged=(), leader="gen_leader")
    assert not follower.ended(FAILURE, ENDED).refunded


def test_a_queued_job_may_end_without_running() -> None:
    assert queued().ended(FAILURE, ENDED).status == "failed"
    assert queued().ended(SUCCESS, ENDED).status == "succeeded"


@pytest.mark.parametrize("outcome", [SUCCESS, FAILURE])
def test_an_ended_generation_cannot_move_again(outcome: Success | Failure) -> None:
    ended = queued().ended(outcome, ENDED)
    with pytest.raises(IllegalTransition, match="already ended"):
        ended.ended(SUCCESS, ENDED)
    with pytest.raises(IllegalTransition, match="has ended"):
        ended.claimed(NOW_MS, 60_000)
    with pytest.raises(IllegalTransition, match="not running"):
        ended.released()


def test_moves_return_new_generations_and_leave_the_original_alone() -> None:
    original = queued()
    original.claimed(NOW_MS, 60_000).ended(FAILURE, ENDED)
    assert original.status == "queued"
    assert original.charged


def test_identical_requests_share_a_hash_after_normalisation() -> None:
    assert request_hash("anime", "A  Cat ", 3, 512, "fast") == request_hash("anime", "a cat", 3, 512, "fast")
    assert request_hash("anime", "a cat", 4, 512, "fast") != request_hash("anime", "a cat", 3, 512, "fast")
    assert iso(epoch(CREATED)) == CREATED


# -- the store's hash --------------------------------------------------------------------------


def full() -> Generation:
    return dataclasses.replace(
        queued().claimed(NOW_MS, 60_000),
        callback_url="https://client.example/hook",
        batch="bat_1",
        gallery_candidate=True,
        provider_job=ProviderJob("runpod", "rp-1", submitted_ms=NOW_MS, secret_hash="ab" * 32),
        unknown={"push_channel": "ws-7"},
    )


@pytest.mark.parametrize(
    "generation",
    [
        queued(),
        full(),
        full().ended(SUCCESS, ENDED),
        full().ended(FAILURE, ENDED),
        queued(cached=True, leader="gen_leader", charged=()),
    ],
    ids=["queued", "running", "succeeded", "failed", "follower"],
)
def test_the_hash_round_trips(generation: Generation) -> None:
    fields = generation.to_fields()
    assert all(isinstance(v, str) and v != "" for v in fields.values())
    assert Generation.from_fields(fields) == generation


def test_the_hash_is_flat_strings_with_empty_values_left_out() -> None:
    fields = full().ended(FAILURE, ENDED).to_fields()
    assert fields["status"] == "failed"
    assert fields["error_code"] == "provider_unavailable"
    assert fields["refunded"] == "1"
    assert fields["attempts"] == "1"
    assert fields["push_channel"] == "ws-7"
    assert "charged" not in fields and "images" not in fields and "lease_until" not in fields
    succeeded = full().ended(SUCCESS, ENDED).to_fields()
    assert succeeded["cost_usd"] == "0.003000"
    assert succeeded["provider_latency_ms"] == "812.5"
    assert succeeded["images"] == '{"128":"img/a.webp","512":"img/c.webp"}'


def test_unknown_fields_of_a_newer_writer_are_kept() -> None:
    fields = {**queued().to_fields(), "priority": "high", "region": "eu"}
    read = Generation.from_fields(fields)
    assert read.unknown == {"priority": "high", "region": "eu"}
    assert read.to_fields()["priority"] == "high"
    assert Generation.from_fields(read.to_fields()) == read


def test_an_older_writers_sparse_hash_gets_defaults() -> None:
    read = Generation.from_fields({"id": "gen_old"})
    assert (read.status, read.size, read.quality, read.lane, read.tier) == (
        "queued",
        512,
        "fast",
        "free",
        "unknown",
    )
    assert (read.variation, read.attempts, read.charged, read.images) == (0, 0, (), None)


def test_malformed_values_are_tolerated() -> None:
    fields = {
        **queued().to_fields(),
        "variation": "three",
        "size": "big",
        "attempts": "1.5",
        "lease_until": "soon",
        "images": "{not json",
        "provider_job": '{"id": "no provider"}',
        "cost_usd": "free",
        "provider_latency_ms": "slow",
        "status": "exploded",
    }
    read = Generation.from_fields(fields)
    assert read.variation == 0
    assert read.size == 512
    assert read.attempts == 0
    assert read.lease_until_ms == 0
    assert read.images is None
    assert read.provider_job is None
    assert read.cost_usd is None
    assert read.provider_latency_ms is None
    assert read.status == "queued"
    assert read.unknown == {}
    for images in ('["img/a.webp"]', "{}", "null"):
        assert Generation.from_fields({**fields, "images": images}).images is None


def test_a_failed_record_without_its_error_fields_still_has_an_error() -> None:
    read = Generation.from_fields({"id": "gen_f", "status": "failed"})
    assert read.error == Failure("internal", "The generation failed.")
    assert Generation.from_fields({"id": "gen_s", "status": "succeeded", "error_code": "x"}).error is None
