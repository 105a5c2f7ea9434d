"""BatchService: every item admitted like a single request (charged per item) on the batch lane,
all or nothing at admission; the batch's counts by status for its owner only."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.store.generations import RedisGenerations
from chalicelib.domain.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    QuotaExceeded,
    RateLimited,
    StoreUnavailable,
)
from chalicelib.domain.identity import Identity
from chalicelib.domain.tiers import Window, load_tiers
from chalicelib.ports import AdmitRequest, AdmitResult, StoreError
from chalicelib.schemas.models import BatchRequest, GenerationRequest
from chalicelib.services.generation.admission import Admission
from chalicelib.services.generation.batches import NOT_QUEUED, BatchService
from chalicelib.services.generation.refusals import Refusals
from tests.unit.services.wiring import API_KEY, USER, Build, UseCases, request

HOOK = "https://client.example/batch"
CAPPED = Identity("api_key", "key_capped", "enterprise", windows=(Window("day", 2),))


def batch(*items: GenerationRequest, callback_url: str | None = None) -> BatchRequest:
    return BatchRequest(items=list(items), callback_url=callback_url)


def test_every_item_is_admitted_on_the_batch_lane_and_the_new_ones_queued(use_cases: UseCases) -> None:
    own_hook = "https://client.example/own"
    accepted = use_cases.batches.create(
        API_KEY,
        batch(
            request(variation=1),
            request(variation=2, callback_url=own_hook),
            request(variation=1),
            callback_url=HOOK,
        ),
    )
    assert accepted.id.startswith("bat_")
    first, second, duplicate = (use_cases.record(i) for i in accepted.generation_ids)
    assert duplicate.leader == first.id  # an identical item joins, uncharged
    assert use_cases.queue.messages == [(first.id, "batch", "job"), (second.id, "batch", "job")]
    assert {(g.lane, g.batch) for g in (first, second, duplicate)} == {("batch", accepted.id)}
    assert (first.callback_url, second.callback_url) == (HOOK, own_hook)
    doc = json.loads(use_cases.store.kv.get(f"batch:{accepted.id}") or "{}")
    assert doc["owner"] == API_KEY.key
    assert doc["generation_ids"] == accepted.generation_ids
    assert doc["callback_url"] == HOOK


def test_the_status_counts_follow_the_items(use_cases: UseCases) -> None:
    accepted = use_cases.batches.create(API_KEY, batch(request(variation=1), request(variation=2)))
    status = use_cases.batches.get(API_KEY, accepted.id)
    assert status.counts == {"queued": 2, "running": 0, "succeeded": 0, "failed": 0}
    use_cases.run_job.run(accepted.generation_ids[0])
    use_cases.finish.fail_for(use_cases.record(accepted.generation_ids[1]), RuntimeError("x"))
    status = use_cases.batches.get(API_KEY, accepted.id)
    assert status.counts == {"queued": 0, "running": 0, "succeeded": 1, "failed": 1}
    assert status.generation_ids == accepted.generation_ids


@pytest.mark.parametrize("batch_id", ["other-owner", "bat_unknown", "not-a-batch-id"])
def test_a_batch_is_its_owners_only(use_cases: UseCases, batch_id: str) -> None:
    accepted = use_cases.batches.create(API_KEY, batch(request()))
    if batch_id == "other-owner":
        batch_id = accepted.id
    with pytest.raises(NotFound):
        use_cases.batches.get(Identity("api_key", "key_other", "enterprise"), batch_id)


def test_batches_are_for_api_keys_only(use_cases: UseCases) -> None:
    with pytest.raises(Forbidden):
        use_cases.batches.create(USER, batch(request()))
    assert use_cases.queue.messages == []


def test_an_item_the_key_is_not_entitled_to_refuses_the_batch_before_any_charge(use_cases: UseCases) -> None:
    with pytest.raises(InvalidRequest):
        use_cases.batches.create(API_KEY, batch(request(variation=1), request(style="no-such-style")))
    assert use_cases.store.generations.open_ids() == []


def test_a_batch_larger_than_the_quota_left_is_refused_whole(use_cases: UseCases) -> None:
    use_cases.admit(CAPPED, variation=50)
    with pytest.raises(QuotaExceeded) as refused:
        use_cases.batches.create(CAPPED, batch(request(variation=1), request(variation=2)))
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 86400
    assert use_cases.quota_used(CAPPED) == [1]
    assert len(use_cases.store.generations.open_ids()) == 1


def test_a_batch_counts_once_towards_the_request_rate(build: Build) -> None:
    use_cases = build(rate_per_minute=1)
    accepted = use_cases.batches.create(API_KEY, batch(*(request(variation=v) for v in range(4))))
    assert len(use_cases.queue.jobs()) == 4
    assert len(accepted.generation_ids) == 4
    with pytest.raises(RateLimited):  # the batch used this minute's one request
        use_cases.admission.admit(API_KEY, request(variation=9))


class RefusesSecondAdmit(RedisGenerations):
    admits = 0

    def admit(self, request: AdmitRequest) -> AdmitResult:
        self.admits += 1
        if self.admits == 2:
            raise StoreError("connection reset")
        return super().admit(request)


def test_an_item_refused_midway_undoes_the_items_admitted_before_it(use_cases: UseCases) -> None:
    flaky = RefusesSecondAdmit(use_cases.store.keyspace)
    admission = Admission(
        generations=flaky,
        tiers=load_tiers(None),
        gallery=use_cases.gallery,
        policy=use_cases.policy,
        bus=use_cases.bus,
        clock=use_cases.clock,
        refusals=Refusals(use_cases.store.counters, use_cases.clock, 10),
    )
    service = BatchService(
        generations=use_cases.store.generations,
        kv=use_cases.store.kv,
        queue=use_cases.queue,
        admission=admission,
        finish=use_cases.finish,
        reads=use_cases.reads,
        clock=use_cases.clock,
        bus=use_cases.bus,
    )
    with pytest.raises(StoreUnavailable):
        service.create(CAPPED, batch(request(variation=1), request(variation=2)))
    (undone,) = use_cases.reads.history(CAPPED, 10, None).items
    assert undone.status == "failed"
    assert undone.error is not None and undone.error.code == "store_unavailable"
    assert use_cases.store.generations.open_ids() == []
    assert use_cases.quota_used(CAPPED) == [0]  # the first item was refunded
    assert use_cases.queue.messages == []


def test_an_item_that_cannot_be_queued_is_failed_and_refunded(use_cases: UseCases) -> None:
    use_cases.queue.fail = True
    accepted = use_cases.batches.create(CAPPED, batch(request(variation=1)))
    (item,) = (use_cases.record(i) for i in accepted.generation_ids)
    assert item.status == "failed"
    assert item.error == NOT_QUEUED
    assert use_cases.quota_used(CAPPED) == [0]
    assert use_cases.batches.get(CAPPED, accepted.id).counts["failed"] == 1
