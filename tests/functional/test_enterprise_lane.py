"""Enterprise's own lane, through the HTTP API on the in-process worker.

A premium spike fills every shared worker thread with jobs held at the provider; an enterprise job
admitted after it still runs and ends at once (its reserved thread), and without that thread it
still goes before every premium job that was waiting (its priority).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.adapters.providers.procedural import ProceduralProvider
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.ports import ImageProvider, ProviderRequest, ProviderResult
from tests.conftest import auth, make_settings
from tests.fakes import GATE_TIMEOUT_S, settle, wait_ended

SPIKE = 6  # premium jobs: more than the shared threads


class HeldPremium(ImageProvider):
    """The offline renderer; a premium job (its prompt says so) waits at ``gate``. Records the
    order in which jobs reach the provider, and signals each start."""

    name = "procedural"

    def __init__(self) -> None:
        self._inner = ProceduralProvider()
        self.gate = threading.Event()
        self.started: list[str] = []
        self.started_changed = threading.Condition()

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        with self.started_changed:
            self.started.append(request.user_prompt)
            self.started_changed.notify_all()
        if request.user_prompt.startswith("premium") and not self.gate.wait(GATE_TIMEOUT_S):
            raise AssertionError("the test never opened the gate")
        return dataclasses.replace(self._inner.generate(request), cost_usd=0.0)

    def wait_started(self, count: int) -> None:
        with self.started_changed:
            assert self.started_changed.wait_for(lambda: len(self.started) >= count, timeout=10)


@pytest.fixture
def provider() -> Iterator[HeldPremium]:
    held = HeldPremium()
    yield held
    held.gate.set()  # never leave a worker thread waiting


def wire(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore, provider: HeldPremium, reserved: int
) -> Container:
    settings = make_settings(tmp_path, worker_threads=2, enterprise_worker_threads=reserved)
    container = build_container(settings, store=store, objects=objects, provider=provider)
    set_container(container)
    return container


def post(client: Any, prompt: str, tier: str, user: str) -> dict[str, Any]:
    response = client.http.post(
        "/v1/generations",
        headers=auth(user, tier),
        body=json.dumps({"style": "oil", "quality": "standard", "size": 512, "prompt": prompt}),
    )
    assert response.status_code == 202, response.body  # standard is always queued
    body: dict[str, Any] = response.json_body
    return body


def status(client: Any, generation_id: str, user: str, tier: str) -> dict[str, Any]:
    body: dict[str, Any] = client.http.get(
        f"/v1/generations/{generation_id}", headers=auth(user, tier)
    ).json_body
    return body


def test_a_premium_spike_cannot_delay_an_enterprise_job(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore, provider: HeldPremium
) -> None:
    container = wire(tmp_path, store, objects, provider, reserved=1)
    try:
        with Client(app, stage_name="local") as client:
            premium = [post(client, f"premium job {n}", "premium", f"p{n}") for n in range(SPIKE)]
            assert {job["lane"] for job in premium} == {"premium"}
            provider.wait_started(2)  # both shared threads are held by the spike

            enterprise = post(client, "enterprise job", "enterprise", "e1")
            assert enterprise["lane"] == "enterprise"
            wait_ended(container, enterprise["id"], timeout=10)  # while the spike is still held

            done = status(client, enterprise["id"], "e1", "enterprise")
            assert done["status"] == "succeeded" and done["lane"] == "enterprise"
            # ... and every premium job is still running or waiting: nothing of the spike ended first.
            states = [
                status(client, job["id"], f"p{n}", "premium")["status"] for n, job in enumerate(premium)
            ]
            assert all(state in ("queued", "running") for state in states), states

            provider.gate.set()
            settle(container)
            ended = [status(client, job["id"], f"p{n}", "premium")["status"] for n, job in enumerate(premium)]
            assert ended == ["succeeded"] * SPIKE
    finally:
        set_container(None)


def test_without_a_reserved_thread_enterprise_still_goes_before_the_waiting_premium_jobs(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore, provider: HeldPremium
) -> None:
    container = wire(tmp_path, store, objects, provider, reserved=0)
    try:
        with Client(app, stage_name="local") as client:
            for n in range(SPIKE):
                post(client, f"premium job {n}", "premium", f"p{n}")
            provider.wait_started(2)
            enterprise = post(client, "enterprise job", "enterprise", "e1")
            provider.gate.set()
            settle(container)
            assert status(client, enterprise["id"], "e1", "enterprise")["status"] == "succeeded"
    finally:
        set_container(None)
    # The two jobs already running when it came, then enterprise, then the rest of the spike.
    assert provider.started.index("enterprise job") == 2, provider.started
    assert len(provider.started) == SPIKE + 1


def test_on_sqs_enterprise_work_goes_to_its_own_queue(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.lanes_harness import bodies, sqs_lanes

    with sqs_lanes(monkeypatch) as lanes:
        settings = make_settings(tmp_path, **lanes.settings())
        set_container(build_container(settings, store=store, objects=objects, provider=ProceduralProvider()))
        try:
            with Client(app, stage_name="local") as client:
                enterprise = post(client, "enterprise job", "enterprise", "e1")
                premium = post(client, "premium job", "premium", "p1")
                assert bodies(lanes.receive("enterprise")) == [
                    {"job": enterprise["id"], "lane": "enterprise"}
                ]
                assert bodies(lanes.receive("premium")) == [{"job": premium["id"], "lane": "premium"}]
        finally:
            set_container(None)


def test_sqs_lanes_without_the_enterprise_queue_fail_at_start_up_naming_the_setting(
    tmp_path: Path, store: RedisStateStore, objects: LocalObjectStore
) -> None:
    urls = {
        f"queue_url_{lane}": f"https://sqs.us-east-1.amazonaws.com/1/{lane}"
        for lane in ("premium", "free", "batch")
    }
    with pytest.raises(RuntimeError, match="AVATARFLOW_QUEUE_URL_ENTERPRISE"):
        build_container(make_settings(tmp_path, **urls), store=store, objects=objects)
