"""A request waiting for its own job at a provider is woken by the job's end, on either store.

In webhook mode a synchronous ``POST /v1/generations`` submits its job to the provider's queue API
and waits. The provider's webhook usually ends the job, on another API process: the waiting request
must answer then, woken by ``finish.lua``'s wake-up list (a blocking ``BLPOP``, over the Upstash
REST API too), not keep polling the provider (whose reads find the webhook's completion claim
taken) until its wait runs out. Run on the embedded store and on the Upstash REST harness.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import respx

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.domain.errors import ProviderUnavailable
from chalicelib.services.generation.collect import CollectResult
from stack.upstash import running_harness
from tests.conftest import auth
from tests.functional.test_webhooks import (  # noqa: F401 - fixtures
    FAL,
    FAL_QUEUE,
    FAL_SUBMIT,
    FalSigner,
    Wire,
    client,
    fal_submission,
    fal_webhook,
    lanes,
    signer,
    vendors,
    wire,
)

_prefixes = iter(range(10**6))


@pytest.fixture(params=["embedded", "upstash"])
def store(request: pytest.FixtureRequest, redis_server: Any) -> Iterator[RedisStateStore]:
    """The state store on the embedded Redis, or through the Upstash REST harness in front of it."""
    prefix = f"wake{next(_prefixes)}:"
    if request.param == "embedded":
        yield RedisStateStore(RedisPyClient(redis_server), prefix=prefix)
        return
    with running_harness(redis_server.socket_file) as harness:
        upstash = UpstashClient(harness.url, harness.token)
        try:
            yield RedisStateStore(upstash, prefix=prefix)
        finally:
            upstash.close()


def test_a_waiting_request_answers_when_the_webhook_ends_its_job_without_polling_on(
    wire: Wire,  # noqa: F811 - the fixtures of test_webhooks
    client: Any,  # noqa: F811
    vendors: respx.MockRouter,  # noqa: F811
    *,
    signer: FalSigner,  # noqa: F811
    store: RedisStateStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found on `make stack`: the waiting request kept polling (every read "busy": the webhook held
    # the completion claim) until its wait ran out, ~5.5 s after the job had ended.
    import httpx

    vendors.route(host="127.0.0.1").pass_through()  # the Upstash REST harness
    container = wire(**FAL)
    submit = vendors.post(FAL_SUBMIT).mock(return_value=fal_submission())
    vendors.get(f"{FAL_QUEUE}/fal-ai/flux/requests/req-1/status").mock(
        return_value=httpx.Response(200, json={"status": "IN_PROGRESS"})
    )
    polls: list[float] = []
    real_poll = CollectResult.poll

    def counted_poll(self: CollectResult, *args: Any, **kwargs: Any) -> Any:
        polls.append(time.monotonic())
        return real_poll(self, *args, **kwargs)

    monkeypatch.setattr(CollectResult, "poll", counted_poll)
    delivered: dict[str, Any] = {}

    def provider_delivers_its_webhook() -> None:
        # As the provider does once the job is done: after the handle is on the job, from outside.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            open_jobs = store.generations.open_ids()
            job = store.generations.get(open_jobs[0]) if open_jobs else None
            if job is not None and job.provider_job is not None:
                body = fal_webhook()
                try:
                    delivered["outcome"] = container.generation.webhooks.receive(
                        "fal", signer.headers("req-1", body), {"job": job.id}, body
                    )
                except ProviderUnavailable:  # 503: the request was reading the job; fal retries
                    delivered.setdefault("refused", 0)
                    delivered["refused"] += 1
                    continue
                delivered["at"] = time.monotonic()
                return
            time.sleep(0.02)

    webhook = threading.Thread(target=provider_delivers_its_webhook)
    webhook.start()
    response = client.http.post(
        "/v1/generations",
        headers={**auth("woken-user", "free"), "Prefer": "wait=20"},
        body=json.dumps({"style": "anime", "variation": 11}),
    )
    webhook.join(20)

    assert delivered["outcome"] == "done"  # the webhook ended the job
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "succeeded" and response.json_body["provider"] == "fal"
    assert submit.call_count == 1
    # Woken by the end: not one more read of the provider once the webhook had ended the job, and
    # not at the end of the 20 s wait (which takes ~11 reads).
    assert [at for at in polls if at > delivered["at"]] == []
