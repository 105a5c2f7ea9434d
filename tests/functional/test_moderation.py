"""Prompt moderation through the API: 422 content_rejected with suggestions, nothing charged,
nothing sent to a provider, counted in the admin stats; a broken list stops the start-up.

The tables of issue 22 (tests/moderation_cases.py) and the refusal limit (10 refused prompts in an
hour: every generation request of that identity answers 429 until the hour ends) run on both store
adapters: the embedded Redis and the Upstash adapter through the local REST harness.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.domain.moderation import ModerationFileError
from chalicelib.ports import ProviderRequest, ProviderResult
from tests.conftest import auth, make_settings
from tests.fakes import FakeClock, RecordingProvider
from tests.moderation_cases import EVASIONS, HARMLESS, SPACED_PAIR
from tests.ops_support import ADMIN_TOKEN, admin_headers, operated_app
from tests.upstash_harness import running_harness

REFUSED_DETAILS = [{"field": "prompt", "message": "refused by the content policy"}]


class RenderOnceProvider(RecordingProvider):
    """Counts every call as :class:`RecordingProvider` does, but renders the first and serves its
    image to the others: the harmless table tests moderation, not the renderer (~0.5 s a render)."""

    def __init__(self) -> None:
        super().__init__()
        self._first: ProviderResult | None = None

    def generate(self, request: ProviderRequest, *, within_s: float | None = None) -> ProviderResult:
        if self._first is None:
            self._first = super().generate(request, within_s=within_s)
            return self._first
        with self._lock:
            self.calls[(request.style_id, request.user_prompt, request.variation)] += 1
        return self._first


@pytest.fixture
def app(tmp_path: Path, store: Any, objects: Any, provider: RecordingProvider) -> Iterator[Any]:
    with operated_app(tmp_path, store, objects, provider) as (client, _):
        yield client


@pytest.fixture(params=["embedded", "upstash"])
def adapter_store(request: pytest.FixtureRequest, redis_server: Any) -> Iterator[RedisStateStore]:
    """The state store on each adapter, under a key prefix of its own."""
    prefix = f"mod-{request.param}-{secrets.token_hex(4)}:"
    with ExitStack() as stack:
        if request.param == "embedded":
            yield RedisStateStore(RedisPyClient(redis_server), prefix)
            return
        harness = stack.enter_context(running_harness(redis_server.socket_file))
        upstash = UpstashClient(harness.url, harness.token)
        stack.callback(upstash.close)
        yield RedisStateStore(upstash, prefix)


@contextmanager
def api(
    tmp_path: Path, store: RedisStateStore, objects: Any, provider: Any, clock: FakeClock | None = None
) -> Iterator[tuple[Any, Container]]:
    from chalice.test import Client

    from app import app as chalice_app

    container = build_container(
        make_settings(tmp_path, admin_token=ADMIN_TOKEN),
        store=store,
        objects=objects,
        provider=provider,
        clock=clock,
    )
    set_container(container)
    try:
        with Client(chalice_app, stage_name="local") as client:
            yield client, container
    finally:
        set_container(None)


def post(client: Any, sub: str, prompt: str) -> Any:
    body = json.dumps({"style": "anime", "prompt": prompt})
    return client.http.post("/v1/generations", headers=auth(sub), body=body)


def quota_remaining(client: Any, sub: str) -> list[int]:
    limits = client.http.get("/v1/me/quota", headers=auth(sub)).json_body["limits"]
    return [w["remaining"] for w in limits]


def assert_refused(response: Any) -> None:
    assert response.status_code == 422, response.body
    body = response.json_body
    assert body["error"]["code"] == "content_rejected"
    assert body["error"]["message"]
    assert body["error"]["details"] == REFUSED_DETAILS
    assert 1 <= len(body["suggestions"]) <= 6


def assert_refusals_limited(response: Any, hour_end: int, now: float) -> None:
    """429 rate_limited in the contract's shape, until the hour's end, with suggestions."""
    assert response.status_code == 429, response.body
    body = response.json_body
    assert set(body) == {"error", "suggestions"}
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["message"]
    assert 1 <= len(body["suggestions"]) <= 6
    assert all(item["style"] for item in body["suggestions"])
    assert response.headers["Retry-After"] == str(max(hour_end - int(now), 1))
    assert response.headers["X-RateLimit-Limit"] == "10"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == str(hour_end)


def test_refused_prompts_are_never_charged_nor_sent(app: Any, provider: RecordingProvider) -> None:
    before = quota_remaining(app, "mod-user")
    for prompt in ("R a P e", "naked k1d", "n.u.d.e schoolgirl"):
        response = post(app, "mod-user", prompt)
        assert_refused(response)
        assert all(set(item["images"]) >= {"128", "256", "512"} for item in response.json_body["suggestions"])
    assert provider.total_calls == 0
    assert quota_remaining(app, "mod-user") == before

    harmless = post(app, "mod-user", "grape farmer, therapist vibe")
    assert harmless.status_code == 200, harmless.body
    assert provider.total_calls == 1

    stats = app.http.get("/v1/admin/stats", headers=admin_headers()).json_body
    assert stats["today"]["admissions"]["content_rejected"] == 3
    assert stats["month"]["admissions"]["content_rejected"] == 3


def test_letters_spaced_with_two_spaces_between_the_words_are_refused(
    tmp_path: Path, adapter_store: RedisStateStore, objects: Any, provider: RecordingProvider
) -> None:
    with api(tmp_path, adapter_store, objects, provider) as (client, _):
        before = quota_remaining(client, "spaced")
        assert_refused(post(client, "spaced", "n u d e  c h i l d"))
        assert quota_remaining(client, "spaced") == before
    assert SPACED_PAIR == "n u d e  c h i l d"
    assert provider.total_calls == 0


@pytest.mark.parametrize("word", ["grape", "therapist", "Scunthorpe"])
def test_the_classic_false_positives_are_generated(
    tmp_path: Path, store: Any, objects: Any, provider: RecordingProvider, word: str
) -> None:
    with api(tmp_path, store, objects, provider) as (client, _):
        response = post(client, "classic", f"a {word}")
        assert response.status_code == 200, response.body
        assert response.json_body["status"] == "succeeded"
    assert provider.total_calls == 1


def test_every_evasion_of_the_table_is_refused_uncharged_and_unsent(
    tmp_path: Path, adapter_store: RedisStateStore, objects: Any, provider: RecordingProvider
) -> None:
    with api(tmp_path, adapter_store, objects, provider) as (client, _):
        full = quota_remaining(client, "fresh")
        missed, charged = [], []
        for index, (prompt, trick) in enumerate(EVASIONS):
            sub = f"evader-{index}"  # one identity each: the refusal limit is tested on its own
            response = post(client, sub, prompt)
            if response.status_code != 422 or response.json_body["error"]["code"] != "content_rejected":
                missed.append((prompt, trick, response.status_code))
                continue
            assert_refused(response)
            if quota_remaining(client, sub) != full:
                charged.append(prompt)
        assert missed == []
        assert charged == []
        stats = client.http.get("/v1/admin/stats", headers=admin_headers()).json_body
        assert stats["today"]["admissions"]["content_rejected"] == len(EVASIONS)
    assert provider.total_calls == 0


def test_every_harmless_look_alike_of_the_table_is_generated(
    tmp_path: Path, adapter_store: RedisStateStore, objects: Any
) -> None:
    provider = RenderOnceProvider()
    with api(tmp_path, adapter_store, objects, provider) as (client, _):
        refused = []
        for index, (prompt, why) in enumerate(HARMLESS):
            response = post(client, f"harmless-{index}", prompt)
            if response.status_code != 200 or response.json_body["status"] != "succeeded":
                refused.append((prompt, why, response.status_code))
        assert refused == []
    assert provider.total_calls == len(HARMLESS)  # every prompt is its own request: no cache hit


def test_ten_refused_prompts_then_the_eleventh_request_even_a_harmless_one_answers_429(
    tmp_path: Path, adapter_store: RedisStateStore, objects: Any, provider: RecordingProvider
) -> None:
    clock = FakeClock()
    hour_end = (int(clock.time()) // 3600 + 1) * 3600
    with api(tmp_path, adapter_store, objects, provider, clock) as (client, _):
        before = quota_remaining(client, "prober")
        for attempt in range(10):
            assert_refused(post(client, "prober", f"nude child {attempt}"))

        eleventh = post(client, "prober", "a fox in a scarf")  # harmless
        assert_refusals_limited(eleventh, hour_end, clock.time())
        # A refused prompt now answers the same: no answer tells a prober what the list refuses.
        assert_refusals_limited(post(client, "prober", "n u d e  c h i l d"), hour_end, clock.time())
        assert quota_remaining(client, "prober") == before  # never charged
        assert provider.total_calls == 0  # never sent

        # Only that identity: another one generates.
        assert post(client, "bystander", "a fox in a scarf").status_code == 200
        assert provider.total_calls == 1


def test_the_refusal_limit_lasts_the_rest_of_the_hour_then_resets(
    tmp_path: Path, adapter_store: RedisStateStore, objects: Any, provider: RecordingProvider
) -> None:
    clock = FakeClock()
    hour_end = (int(clock.time()) // 3600 + 1) * 3600
    with api(tmp_path, adapter_store, objects, provider, clock) as (client, _):
        for attempt in range(10):
            assert_refused(post(client, "prober", f"naked kid {attempt}"))
        assert_refusals_limited(post(client, "prober", "a cat in a hat"), hour_end, clock.time())

        clock.advance(hour_end - clock.time() - 1)  # the hour's last second
        assert_refusals_limited(post(client, "prober", "a cat in a hat, again"), hour_end, clock.time())

        clock.advance(2)  # the next hour
        response = post(client, "prober", "a cat in a hat, once more")
        assert response.status_code in (200, 202), response.body
        assert response.json_body["status"] in ("succeeded", "queued", "running")
        # The new hour counts from zero: one refused prompt is a 422 again.
        assert_refused(post(client, "prober", "nude child"))


def test_past_the_refusal_limit_a_batch_is_refused_too(
    tmp_path: Path, adapter_store: RedisStateStore, objects: Any, provider: RecordingProvider
) -> None:
    from tests.ops_support import issue_key, key_headers

    clock = FakeClock()
    hour_end = (int(clock.time()) // 3600 + 1) * 3600
    with api(tmp_path, adapter_store, objects, provider, clock) as (client, _):
        headers = key_headers(issue_key(client)["key"])
        for attempt in range(10):
            body = json.dumps({"style": "anime", "prompt": f"nude\u200bchild {attempt}"})
            assert_refused(client.http.post("/v1/generations", headers=headers, body=body))
        items = [{"style": "anime", "prompt": "a fox"}, {"style": "pixel", "prompt": "a cat"}]
        response = client.http.post("/v1/batches", headers=headers, body=json.dumps({"items": items}))
        assert response.status_code == 429, response.body
        assert response.json_body["error"]["code"] == "rate_limited"
        assert response.headers["Retry-After"] == str(max(hour_end - int(clock.time()), 1))
    assert provider.total_calls == 0


def test_a_refused_item_refuses_the_whole_batch_before_anything_is_admitted(
    tmp_path: Path, store: Any, objects: Any, provider: RecordingProvider
) -> None:
    from tests.ops_support import issue_key, key_headers

    with operated_app(tmp_path, store, objects, provider) as (client, _):
        key = issue_key(client)["key"]
        items = [{"style": "anime", "prompt": "a fox"}, {"style": "anime", "prompt": "swastika"}]
        response = client.http.post(
            "/v1/batches", headers=key_headers(key), body=json.dumps({"items": items})
        )
        assert response.status_code == 422, response.body
        assert response.json_body["error"]["code"] == "content_rejected"
    assert provider.total_calls == 0


def test_a_moderation_file_that_does_not_parse_stops_the_start_up(
    tmp_path: Path, store: Any, objects: Any, provider: RecordingProvider
) -> None:
    broken = tmp_path / "refused.txt"
    broken.write_text("fine term\n# a comment\nre: [oops\n", encoding="utf-8")
    with pytest.raises(ModerationFileError, match=rf"^{broken}:3: not a valid regular expression"):
        build_container(
            make_settings(tmp_path, moderation_file=broken), store=store, objects=objects, provider=provider
        )
