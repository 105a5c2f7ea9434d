"""DeliverCallback: a signed POST of the final generation to the client's callback URL, retried with
backoff while it fails, given up when it cannot succeed; CallbackScheduler queues it when a job ends."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib.domain.events import GenerationFinished
from chalicelib.domain.generation import Generation, iso
from chalicelib.domain.webhook_signatures import verify_standard_webhook
from chalicelib.ports import ApiKeyRecord, DeliveryFailed, DeliveryRefused
from chalicelib.services.generation.callbacks import CallbackScheduler, backoff_s
from tests.unit.services.fakes import NOW, FakeQueue
from tests.unit.services.wiring import API_KEY, OTHER_USER, USER, Build, UseCases, request

SECRET = "whsec_" + base64.b64encode(b"client-callback-secret-012345678").decode()
HOOK = "https://client.example/avatarflow"


def with_key(use_cases: UseCases, secret: str = SECRET) -> None:
    use_cases.store.api_keys.put(
        ApiKeyRecord(
            id=API_KEY.subject,
            name="acme",
            tier="enterprise",
            limits={},
            created_at=iso(NOW),
            prefix="key_test",
            key_hash="ab" * 32,
            webhook_secret=secret,
        )
    )


def ended_with_callback(use_cases: UseCases, secret: str | None = SECRET) -> Generation:
    if secret is not None:
        with_key(use_cases, secret)
    generation = use_cases.admission.admit(API_KEY, request(callback_url=HOOK)).generation
    use_cases.run_job.run(generation.id)
    return use_cases.record(generation.id)


def state(use_cases: UseCases, generation_id: str) -> dict[str, object]:
    loaded = json.loads(use_cases.store.kv.get(f"callback:{generation_id}") or "{}")
    assert isinstance(loaded, dict)
    return loaded


def due(use_cases: UseCases, at_ms: int) -> list[str]:
    return use_cases.store.timers.due("callback", at_ms)


def test_a_delivery_is_signed_with_the_keys_secret_and_sent_once(use_cases: UseCases) -> None:
    generation = ended_with_callback(use_cases)
    assert due(use_cases, use_cases.now_ms) == [generation.id]  # scheduled when the job ended
    assert use_cases.callbacks.deliver(generation.id) == "delivered"

    ((url, body, headers),) = use_cases.sender.posts
    assert url == HOOK
    assert headers["webhook-id"] == f"msg_{generation.id}"
    assert headers["webhook-timestamp"] == str(int(use_cases.clock.time()))
    assert (
        verify_standard_webhook(SECRET, headers, body, now=use_cases.clock.time()) == f"msg_{generation.id}"
    )
    sent = json.loads(body)
    assert (sent["id"], sent["status"]) == (generation.id, "succeeded")
    assert set(sent["images"]) == {"128", "256", "512"}

    assert state(use_cases, generation.id) == {"status": "delivered", "attempts": 1}
    assert due(use_cases, 2**53) == []
    assert use_cases.callbacks.deliver(generation.id) == "skipped"
    assert len(use_cases.sender.posts) == 1


def test_a_failed_try_is_retried_with_a_growing_backoff(use_cases: UseCases) -> None:
    generation = ended_with_callback(use_cases)
    use_cases.sender.errors = [DeliveryFailed("503"), DeliveryFailed("timeout")]
    assert use_cases.callbacks.deliver(generation.id) == "retry"
    assert state(use_cases, generation.id) == {"status": "pending", "attempts": 1, "last": "503"}
    assert due(use_cases, use_cases.now_ms + 29_999) == []
    assert due(use_cases, use_cases.now_ms + 30_000) == [generation.id]

    use_cases.clock.advance(30)
    assert use_cases.callbacks.deliver(generation.id) == "retry"
    assert due(use_cases, use_cases.now_ms + 119_999) == []
    assert due(use_cases, use_cases.now_ms + 120_000) == [generation.id]

    use_cases.clock.advance(120)
    assert use_cases.callbacks.deliver(generation.id) == "delivered"
    assert state(use_cases, generation.id) == {"status": "delivered", "attempts": 3}
    assert {h["webhook-id"] for _, _, h in use_cases.sender.posts} == {f"msg_{generation.id}"}


def test_the_backoff_grows_four_times_up_to_six_hours() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [30, 120, 480, 1920]
    assert backoff_s(20) == 6 * 3600


def test_it_gives_up_after_the_last_attempt(build: Build) -> None:
    use_cases = build(callback_attempts=2)
    generation = ended_with_callback(use_cases)
    use_cases.sender.errors = [DeliveryFailed("503"), DeliveryFailed("503")]
    assert use_cases.callbacks.deliver(generation.id) == "retry"
    assert use_cases.callbacks.deliver(generation.id) == "gave_up"
    assert state(use_cases, generation.id)["status"] == "gave_up"
    assert state(use_cases, generation.id)["attempts"] == 2
    assert due(use_cases, 2**53) == []


def test_a_refused_url_is_given_up_at_once(use_cases: UseCases) -> None:
    generation = ended_with_callback(use_cases)
    use_cases.sender.errors = [DeliveryRefused("private_address")]
    assert use_cases.callbacks.deliver(generation.id) == "gave_up"
    assert state(use_cases, generation.id) == {
        "status": "gave_up",
        "attempts": 1,
        "last": "the URL is refused (private_address)",
    }
    assert due(use_cases, 2**53) == []
    assert use_cases.callbacks.deliver(generation.id) == "skipped"


@pytest.mark.parametrize("secret", [None, "whsec_!!not base64!!"])
def test_without_a_usable_secret_nothing_is_sent(use_cases: UseCases, secret: str | None) -> None:
    generation = ended_with_callback(use_cases, secret)
    assert use_cases.callbacks.deliver(generation.id) == "gave_up"
    assert use_cases.sender.posts == []
    assert state(use_cases, generation.id)["status"] == "gave_up"
    assert due(use_cases, 2**53) == []


def test_a_job_without_a_callback_url_is_skipped(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER)
    use_cases.run_job.run(generation.id)
    use_cases.store.timers.schedule("callback", generation.id, use_cases.now_ms)
    assert use_cases.callbacks.deliver(generation.id) == "skipped"
    assert use_cases.callbacks.deliver("gen_unknown") == "skipped"
    assert due(use_cases, 2**53) == []
    assert use_cases.sender.posts == []


def test_a_follower_not_ended_yet_is_looked_at_again_without_counting_a_try(use_cases: UseCases) -> None:
    with_key(use_cases)
    use_cases.admit(OTHER_USER, prompt="shared")
    follower = use_cases.admission.admit(API_KEY, request(prompt="shared", callback_url=HOOK)).generation
    assert use_cases.callbacks.deliver(follower.id) == "retry"
    assert state(use_cases, follower.id) == {}
    assert due(use_cases, use_cases.now_ms + 60_000) == [follower.id]
    assert use_cases.sender.posts == []


def test_a_delivery_in_progress_elsewhere_is_left_to_it(use_cases: UseCases) -> None:
    generation = ended_with_callback(use_cases)
    assert use_cases.store.kv.set_once(f"callback:lock:{generation.id}", "1", 20)
    assert use_cases.callbacks.deliver(generation.id) == "busy"
    assert use_cases.sender.posts == []
    use_cases.store.kv.delete(f"callback:lock:{generation.id}")
    assert use_cases.callbacks.deliver(generation.id) == "delivered"
    assert use_cases.store.kv.get(f"callback:lock:{generation.id}") is None  # released after


def test_the_scheduler_queues_a_callback_for_jobs_that_have_a_url(use_cases: UseCases) -> None:
    queue = FakeQueue()
    scheduler = CallbackScheduler(queue)
    with_url = ended_with_callback(use_cases)
    scheduler.on_finished(GenerationFinished(with_url))
    plain = use_cases.admit(USER, prompt="no callback")
    scheduler.on_finished(GenerationFinished(plain))
    assert queue.messages == [(with_url.id, "enterprise", "callback")]
    queue.fail = True
    scheduler.on_finished(GenerationFinished(with_url))  # the reaper delivers it: nothing raised
    assert len(queue.messages) == 1
