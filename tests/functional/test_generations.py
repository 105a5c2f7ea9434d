"""POST/GET /v1/generations through chalice.test.Client on the embedded store and the renderer."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image

from chalicelib.bootstrap import Container
from chalicelib.ports import ProviderDown
from tests.conftest import FILES_BASE, auth
from tests.fakes import RecordingProvider, open_after, path_of, settle, wait_ended

JSON = {"Content-Type": "application/json"}


def post(client: Any, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.http.post("/v1/generations", headers={**JSON, **(headers or {})}, body=json.dumps(body))


def fetch_image(client: Any, url: str) -> Image.Image:
    assert url.startswith(FILES_BASE + "/")
    response = client.http.get(url[len("http://testserver") :], headers={"Accept": "image/webp"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert "immutable" in response.headers["Cache-Control"]
    return Image.open(io.BytesIO(response.body))


def test_generation_succeeds_with_every_size_as_webp(client: Any) -> None:
    response = post(client, {"style": "anime", "prompt": "a cat astronaut", "variation": 2})
    assert response.status_code == 200, response.body
    body = response.json_body
    assert body["status"] == "succeeded"
    assert body["cached"] is False
    assert body["provider"] == "procedural"
    assert body["lane"] == "free"
    assert body["completed_at"] is not None
    assert set(body["images"]) == {"128", "256", "512"}
    for size, url in body["images"].items():
        image = fetch_image(client, url)
        assert image.format == "WEBP"
        assert image.size == (int(size), int(size))
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers
    assert response.headers["X-RateLimit-Remaining"] == "2"  # anonymous: 3 per hour, one used


def test_premium_gets_1024_and_free_is_forbidden(client: Any, container: Container) -> None:
    headers = auth("p1", "premium")
    accepted = post(client, {"style": "oil", "size": 1024, "quality": "standard"}, headers)
    # Only the fast quality is answered within the wait: standard is queued at once.
    assert accepted.status_code == 202, accepted.body
    settle(container)  # the premium lane has run it
    premium = client.http.get(path_of(accepted.headers["Location"]), headers=headers).json_body
    assert premium["status"] == "succeeded"
    assert set(premium["images"]) == {"128", "256", "512", "1024"}
    assert premium["lane"] == "premium"
    assert fetch_image(client, premium["images"]["1024"]).size == (1024, 1024)

    free = post(client, {"style": "oil", "size": 1024}, auth("f1", "free"))
    assert free.status_code == 403
    assert free.json_body["error"]["code"] == "forbidden"
    standard = post(client, {"style": "oil", "quality": "standard"}, auth("f1", "free"))
    assert standard.status_code == 403


def test_quota_is_exact_then_429_with_retry_after_and_suggestions(client: Any) -> None:
    headers = auth("quota-user", "free")
    for variation in range(5):
        ok = post(client, {"style": "pixel", "variation": variation}, headers)
        assert ok.status_code == 200, ok.body
        assert ok.headers["X-RateLimit-Remaining"] == str(4 - variation)
    refused = post(client, {"style": "pixel", "variation": 99}, headers)
    assert refused.status_code == 429
    assert refused.json_body["error"]["code"] == "quota_exceeded"
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    suggestions = refused.json_body["suggestions"]
    assert 0 < len(suggestions) <= 6
    assert suggestions[0]["style"] == "pixel"
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert quota["tier"] == "free"
    assert {w["window"]: w["remaining"] for w in quota["limits"]} == {"hour": 0, "day": 0}


def test_identical_request_is_a_cache_hit_that_costs_no_quota(
    client: Any, provider: RecordingProvider
) -> None:
    headers = auth("cache-user", "free")
    first = post(client, {"style": "flat", "prompt": "A  Robot", "variation": 1}, headers)
    assert first.status_code == 200
    second = post(client, {"style": "flat", "prompt": "  a robot ", "variation": 1}, headers)
    assert second.status_code == 200
    assert second.json_body["cached"] is True
    assert second.json_body["id"] != first.json_body["id"]
    assert second.json_body["images"] == first.json_body["images"]
    assert provider.total_calls == 1
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert all(w["remaining"] == 4 for w in quota["limits"])
    # another user asking the same thing is served from the same cache
    other = post(client, {"style": "flat", "prompt": "a robot", "variation": 1}, auth("someone-else"))
    assert other.json_body["cached"] is True
    assert provider.total_calls == 1


def test_same_idempotency_key_twice_is_one_generation_charged_once(
    client: Any, provider: RecordingProvider
) -> None:
    headers = {**auth("idem-user"), "Idempotency-Key": "order-42"}
    first = post(client, {"style": "sketch", "variation": 3}, headers)
    second = post(client, {"style": "sketch", "variation": 3}, headers)
    assert first.status_code == second.status_code == 200
    assert first.json_body["id"] == second.json_body["id"]
    assert provider.total_calls == 1
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert all(w["remaining"] == 4 for w in quota["limits"])
    conflict = post(client, {"style": "sketch", "variation": 4}, headers)
    assert conflict.status_code == 409
    assert conflict.json_body["error"]["code"] == "conflict"


def test_failed_generation_is_refunded(client: Any, provider: RecordingProvider) -> None:
    headers = auth("unlucky", "free")
    provider.error = ProviderDown("every provider is down")
    failed = post(client, {"style": "watercolor"}, headers)
    assert failed.status_code == 503
    assert failed.json_body["error"]["code"] == "provider_unavailable"
    assert failed.json_body["suggestions"]
    assert "Retry-After" in failed.headers
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert all(w["remaining"] == 5 for w in quota["limits"])
    history = client.http.get("/v1/generations", headers=headers).json_body["items"]
    assert history[0]["status"] == "failed"
    assert history[0]["error"]["code"] == "provider_unavailable"
    provider.error = None
    retry = post(client, {"style": "watercolor"}, headers)
    assert retry.status_code == 200
    assert retry.json_body["cached"] is False


def test_respond_async_answers_202_with_location_and_finishes(client: Any, container: Container) -> None:
    headers = {**auth("async-user"), "Prefer": "respond-async"}
    accepted = post(client, {"style": "cyberpunk", "variation": 7}, headers)
    assert accepted.status_code == 202
    assert accepted.json_body["status"] in ("queued", "running")
    assert accepted.json_body["eta_seconds"] > 0
    location = path_of(accepted.headers["Location"])
    assert accepted.headers["Location"] == f"http://localhost/v1/generations/{accepted.json_body['id']}"
    assert int(accepted.headers["Retry-After"]) >= 1
    settle(container)  # its lane has run it
    status = client.http.get(location, headers=headers).json_body
    assert status is not None and status["status"] == "succeeded"
    assert set(status["images"]) == {"128", "256", "512"}


def test_wait_shorter_than_the_job_answers_202_and_the_same_call_finishes(
    client: Any, container: Container, provider: RecordingProvider
) -> None:
    provider.gate = threading.Event()  # the job runs until the request has answered
    headers = {**auth("impatient"), "Prefer": "wait=0.2"}
    accepted = post(client, {"style": "popart"}, headers)
    assert accepted.status_code == 202
    assert accepted.json_body["status"] == "running"
    provider.gate.set()
    wait_ended(container, accepted.json_body["id"])  # the request's own call goes on and ends it
    body = client.http.get(path_of(accepted.headers["Location"]), headers=headers).json_body
    assert body["status"] == "succeeded"
    assert provider.total_calls == 1


def test_identical_requests_in_flight_start_one_provider_call(
    client: Any, container: Container, provider: RecordingProvider
) -> None:
    # The first request's provider call runs until all eight have been admitted: every other one
    # finds it in flight.
    provider.gate = threading.Event()
    open_after(container, 8, provider.gate)
    body = {"style": "cartoon3d", "prompt": "same thing", "variation": 5}

    def ask(n: int) -> Any:
        return post(client, body, auth(f"crowd-{n}"))

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(ask, range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert provider.total_calls == 1
    images = {json.dumps(r.json_body["images"], sort_keys=True) for r in responses}
    assert len(images) == 1
    assert sum(1 for r in responses if r.json_body["cached"] is False) == 1


def test_owner_only_reads_and_history_pages(client: Any) -> None:
    owner = auth("owner")
    ids = [post(client, {"style": "professional", "variation": v}, owner).json_body["id"] for v in range(3)]
    assert client.http.get(f"/v1/generations/{ids[0]}", headers=owner).status_code == 200
    stranger = client.http.get(f"/v1/generations/{ids[0]}", headers=auth("stranger"))
    assert stranger.status_code == 404
    assert stranger.json_body["error"]["code"] == "not_found"
    assert client.http.get("/v1/generations/gen_doesnotexist", headers=owner).status_code == 404

    first = client.http.get("/v1/generations?limit=2", headers=owner).json_body
    assert [g["id"] for g in first["items"]] == [ids[2], ids[1]]
    assert first["next_cursor"]
    second = client.http.get(
        f"/v1/generations?limit=2&cursor={first['next_cursor']}", headers=owner
    ).json_body
    assert [g["id"] for g in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None
    assert client.http.get("/v1/generations?cursor=%%%", headers=owner).status_code == 400
    assert client.http.get("/v1/generations", headers=auth("nobody")).json_body == {
        "items": [],
        "next_cursor": None,
    }


def test_anonymous_visitors_are_limited_by_source_ip_not_forwarded_for(client: Any) -> None:
    for n in range(3):
        response = post(client, {"style": "anime", "variation": 100 + n}, {"X-Forwarded-For": f"10.0.0.{n}"})
        assert response.status_code == 200
    refused = post(client, {"style": "anime", "variation": 200}, {"X-Forwarded-For": "10.9.9.9"})
    assert refused.status_code == 429
    quota = client.http.get("/v1/me/quota").json_body
    assert quota["tier"] == "anonymous"


@pytest.mark.parametrize("prompt", ["🎨 un chat 🐱", "صورة شخصية لقطة", "שלום עולם"])
def test_emoji_and_rtl_prompts_are_accepted(client: Any, prompt: str) -> None:
    response = post(client, {"style": "anime", "prompt": prompt}, auth(f"intl-{len(prompt)}"))
    assert response.status_code == 200
    assert response.json_body["prompt"] == prompt


def test_a_retry_after_a_lost_reply_runs_the_job_and_charges_once(client: Any, container: Any) -> None:
    from chalicelib.domain.identity import Identity
    from chalicelib.schemas.models import GenerationRequest

    # The store admitted the first attempt but its reply never reached us: nothing dispatched it.
    identity = Identity("user", "lost-reply", "free")
    request = GenerationRequest(style="anime", variation=321)
    admitted = container.generation.admission.admit(identity, request, idempotency_key="retry-me")
    assert admitted.outcome == "created"

    headers = {**auth("lost-reply"), "Idempotency-Key": "retry-me"}
    retried = post(client, {"style": "anime", "variation": 321}, headers)
    assert retried.status_code == 200, retried.body
    assert retried.json_body["id"] == admitted.generation.id
    assert retried.json_body["status"] == "succeeded"
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert all(w["remaining"] == 4 for w in quota["limits"])


def test_a_job_that_cannot_be_queued_is_still_a_202_and_left_to_the_dispatch_sweep(
    client: Any, container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Admitted and charged: the request is not told it was not done (the sweep queues it 30 s on).
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("queue unreachable")

    monkeypatch.setattr(container.ports.queue, "enqueue", broken)
    headers = {**auth("unqueued", "free"), "Prefer": "respond-async"}
    accepted = post(client, {"style": "anime", "variation": 3}, headers)
    assert accepted.status_code == 202, accepted.json_body
    assert accepted.json_body["status"] == "queued"
    assert accepted.headers["Location"].endswith(f"/v1/generations/{accepted.json_body['id']}")
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(accepted.headers)
    quota = client.http.get("/v1/me/quota", headers=auth("unqueued", "free")).json_body
    assert all(w["remaining"] == 4 for w in quota["limits"])
    assert accepted.json_body["id"] in container.ports.store.generations.open_ids()


def test_a_job_the_request_cannot_start_goes_to_its_lane(
    client: Any, container: Any, monkeypatch: Any
) -> None:
    # Claimed for the request by the admit script, but the request's thread pool refuses it
    # (shut down): the job is released and queued, never left charged until the reaper.
    run_in_request = container.generation.request._run_in_request

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot schedule new futures after shutdown")

    monkeypatch.setattr(run_in_request._executor, "submit", refused)
    headers = auth("refused-thread")
    accepted = post(client, {"style": "flat", "variation": 77}, headers)
    assert accepted.status_code == 202, accepted.body
    settle(container)  # its lane has run it
    body = client.http.get(path_of(accepted.headers["Location"]), headers=headers).json_body
    assert body["status"] == "succeeded"
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert all(w["remaining"] == 4 for w in quota["limits"])  # charged once


def test_a_retry_replays_its_generation_after_the_experiment_share_changed(container: Any) -> None:
    import dataclasses

    from chalicelib.domain.experiment import arm_for
    from chalicelib.domain.identity import Identity
    from chalicelib.schemas.models import GenerationRequest

    # A user the experiment puts in the dev arm once it is on; it is off at the first attempt.
    user = next(f"arm-{i}" for i in range(10_000) if arm_for(f"u:arm-{i}", 0.5) == "dev")
    identity = Identity("user", user, "free")
    request = GenerationRequest(style="watercolor", variation=654)
    first = container.generation.admission.admit(identity, request, idempotency_key="rollout-retry")
    assert first.outcome == "created" and first.generation.arm is None

    # The experiment is switched on before the client retries the very same request.
    admission = container.generation.admission
    admission._policy = dataclasses.replace(admission._policy, experiment_dev_share=0.5)
    retried = admission.admit(identity, request, idempotency_key="rollout-retry")
    assert retried.outcome == "replayed"
    assert retried.generation.id == first.generation.id
