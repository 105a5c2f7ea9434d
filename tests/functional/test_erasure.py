"""DELETE /v1/me and GET /v1/me/export through the HTTP API, on the embedded store and on the
Upstash adapter (through the local REST harness in front of the same Redis).

The scenario of issue 18: a user with generations (one shared through the cache with a second
user), a chosen avatar and a job in flight erases their data. Afterwards their history and
export are empty, their avatar URL gives the default, their unshared images are gone (404), the
second user's shared image still loads, and their quota is not reset.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.replies import hash_reply
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import Container, build_container, set_container
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider, settle
from tests.upstash_harness import running_harness


@pytest.fixture(params=["embedded", "upstash"])
def app(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: Any,
    objects: Any,
    provider: RecordingProvider,
) -> Iterator[tuple[Any, Container]]:
    from chalice.test import Client

    from app import app as chalice_app

    prefix = f"erase-{request.param}-{secrets.token_hex(4)}:"
    with ExitStack() as stack:
        if request.param == "embedded":
            store = RedisStateStore(RedisPyClient(redis_server), prefix)
        else:
            harness = stack.enter_context(running_harness(redis_server.socket_file))
            upstash = UpstashClient(harness.url, harness.token)
            stack.callback(upstash.close)
            store = RedisStateStore(upstash, prefix)
        container = build_container(make_settings(tmp_path), store=store, objects=objects, provider=provider)
        set_container(container)
        stack.callback(set_container, None)
        yield stack.enter_context(Client(chalice_app, stage_name="local")), container


def generate(client: Any, sub: str, prompt: str, accept_similar: bool = False, **headers: str) -> Any:
    body = json.dumps({"style": "watercolor", "prompt": prompt, "accept_similar": accept_similar})
    return client.http.post("/v1/generations", headers={**auth(sub), **headers}, body=body)


def load(client: Any, url: str) -> int:
    """The status of GET on an image URL of the local object store."""
    path = "/v1/files/" + url.split("/v1/files/", 1)[1]
    return int(client.http.get(path, headers={"Accept": "image/webp"}).status_code)


def remaining(client: Any, sub: str) -> list[int]:
    return [w["remaining"] for w in client.http.get("/v1/me/quota", headers=auth(sub)).json_body["limits"]]


def test_erasure_of_a_user_with_shared_images_an_avatar_and_a_job_in_flight(
    app: tuple[Any, Container], provider: RecordingProvider, gallery_objects_dir: Path
) -> None:
    client, container = app
    alice, bob = f"alice-{secrets.token_hex(3)}", f"bob-{secrets.token_hex(3)}"
    # Unique prompts: images are content-addressed, and other tests share the object store.
    shared_prompt, own_prompt = f"lighthouse {secrets.token_hex(4)}", f"fox {secrets.token_hex(4)}"

    shared = generate(client, alice, shared_prompt).json_body
    assert shared["status"] == "succeeded"
    bobs = generate(client, bob, shared_prompt).json_body
    assert bobs["cached"] is True and bobs["images"] == shared["images"]
    own = generate(client, alice, own_prompt).json_body
    assert own["status"] == "succeeded"
    chosen = client.http.put(
        "/v1/me/avatar", headers=auth(alice), body=json.dumps({"generation_id": own["id"]})
    ).json_body["avatar"]
    assert client.http.get(f"/v1/avatars/{alice}?size=256").headers["Location"] == chosen["images"]["256"]

    # A job in flight: the provider holds it until the erasure is done.
    provider.gate = threading.Event()
    queued = generate(client, alice, f"owl {secrets.token_hex(4)}", Prefer="respond-async")
    assert queued.status_code == 202
    in_flight = queued.json_body["id"]
    quota_before = remaining(client, alice)  # three generations charged
    export = client.http.get("/v1/me/export", headers=auth(alice)).json_body
    assert {g["id"] for g in export["generations"]} == {shared["id"], own["id"], in_flight}
    assert {g["prompt"] for g in export["generations"]} >= {shared_prompt, own_prompt}
    assert export["avatar"] == chosen
    assert export["subject"] == {"kind": "user", "id": alice, "tier": "free"}
    assert [w["remaining"] for w in export["quota"]["limits"]] == quota_before

    erased = client.http.delete("/v1/me", headers=auth(alice))
    assert erased.status_code == 204
    images_before = set((gallery_objects_dir / "img").iterdir())
    provider.gate.set()
    settle(container)
    assert provider.calls[("watercolor", queued.json_body["prompt"], 0)] == 1  # it did run...
    assert set((gallery_objects_dir / "img").iterdir()) == images_before  # ...into nothing

    # Nothing of alice's is left to read.
    assert client.http.get("/v1/generations", headers=auth(alice)).json_body == {
        "items": [],
        "next_cursor": None,
    }
    for generation_id in (shared["id"], own["id"], in_flight):
        assert client.http.get(f"/v1/generations/{generation_id}", headers=auth(alice)).status_code == 404
    after = client.http.get("/v1/me/export", headers=auth(alice)).json_body
    assert after["generations"] == [] and after["avatar"] is None
    assert client.http.get("/v1/me/avatar", headers=auth(alice)).status_code == 404
    default = client.http.get(f"/v1/avatars/{alice}?size=256").headers["Location"]
    assert default != chosen["images"]["256"] and "/pinned/" not in default
    # Her unshared images and their pinned copies are gone; bob's shared image still loads.
    for url in [*own["images"].values(), *chosen["images"].values()]:
        assert load(client, url) == 404, url
    for url in shared["images"].values():
        assert load(client, url) == 200, url
    bob_now = client.http.get(f"/v1/generations/{bobs['id']}", headers=auth(bob)).json_body
    assert bob_now["images"] == shared["images"]
    # The cache entry keyed by her prompt went with her: the same request is made afresh.
    again = generate(client, bob, shared_prompt).json_body
    assert again["cached"] is False
    # Quota is not reset: only the job that finished into nothing was refunded.
    assert remaining(client, alice) == [n + 1 for n in quota_before]
    assert provider.calls[("watercolor", shared_prompt, 0)] == 2

    # Erasing twice is erasing once.
    assert client.http.delete("/v1/me", headers=auth(alice)).status_code == 204


def test_an_erased_prompt_is_no_longer_offered_as_similar(app: tuple[Any, Container]) -> None:
    client, container = app
    assert isinstance(container.ports.store, RedisStateStore)
    keys = container.ports.store.keyspace
    alice, bob, carol = (f"{name}-{secrets.token_hex(3)}" for name in ("alice", "bob", "carol"))
    tag = secrets.token_hex(4)  # a word of its own: the index is shared with other tests' prompts
    alices_prompt = f"a red fox with glasses {tag}"

    alices = generate(client, alice, alices_prompt).json_body
    assert alices["status"] == "succeeded"
    offered = generate(client, carol, f"red fox, glasses and a hat {tag}").json_body
    assert [s["images"] for s in offered["similar"]] == [alices["images"]]
    assert "prompt" not in offered["similar"][0]  # alice's words are never shown to carol
    # Bob takes alice's result as a close enough match: his record now serves her images too.
    bobs = generate(client, bob, f"red fox wearing glasses {tag}", accept_similar=True).json_body
    assert bobs["cached"] is True and bobs["images"] == alices["images"]

    words_before = hash_reply(keys.client.command("HGETALL", keys.similar_index("watercolor", "fast")[1]))
    assert any(tag in words and "red" in words and "hat" not in words for words in words_before.values())

    assert client.http.delete("/v1/me", headers=auth(alice)).status_code == 204

    # Her prompt's words left the index with her records (not only when a lookup meets them).
    words_after = hash_reply(keys.client.command("HGETALL", keys.similar_index("watercolor", "fast")[1]))
    assert len(words_after) == len(words_before) - 1
    assert not any(tag in words and "hat" not in words for words in words_after.values())
    # Her prompt (and her result through it) is offered to no one any more...
    after = generate(client, carol, f"red fox with glasses and a scarf {tag}").json_body
    assert after["status"] == "succeeded"
    assert alices_prompt not in [s.get("prompt") for s in after["similar"]]
    assert alices["images"] not in [s["images"] for s in after["similar"]]
    served = generate(client, bob, f"the red fox wearing glasses {tag}", accept_similar=True).json_body
    assert served["images"] != alices["images"]
    # ...and bob's answer, which holds her images, still loads.
    for url in bobs["images"].values():
        assert load(client, url) == 200, url


def test_anonymous_callers_can_neither_erase_nor_export(app: tuple[Any, Container]) -> None:
    client, _ = app
    assert client.http.delete("/v1/me").status_code == 401
    response = client.http.get("/v1/me/export")
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "unauthorized"


def test_export_pages_and_rejects_a_bad_cursor(app: tuple[Any, Container]) -> None:
    client, _ = app
    assert client.http.get("/v1/me/export?cursor=%00%ff", headers=auth("exporter")).status_code == 400
    empty = client.http.get("/v1/me/export", headers=auth("exporter"))
    assert empty.status_code == 200
    assert empty.headers["Cache-Control"] == "no-store"
    assert empty.json_body["generations"] == [] and empty.json_body["next_cursor"] is None


def test_a_replaced_avatar_lets_go_of_its_pinned_copy_unless_another_user_chose_it(
    app: tuple[Any, Container],
) -> None:
    client, _ = app
    carol, dave = f"carol-{secrets.token_hex(3)}", f"dave-{secrets.token_hex(3)}"
    prompt = f"heron {secrets.token_hex(4)}"
    carols = generate(client, carol, prompt).json_body
    daves = generate(client, dave, prompt).json_body  # the same images, from the cache

    def choose(sub: str, body: dict[str, str]) -> dict[str, Any]:
        response = client.http.put("/v1/me/avatar", headers=auth(sub), body=json.dumps(body))
        assert response.status_code == 200, response.body
        avatar: dict[str, Any] = response.json_body["avatar"]
        return avatar

    pinned = choose(carol, {"generation_id": carols["id"]})["images"]
    assert choose(dave, {"generation_id": daves["id"]})["images"] == pinned  # one shared copy
    item = client.http.get("/v1/gallery?limit=1").json_body["items"][0]
    choose(carol, {"gallery_id": item["id"]})
    assert all(load(client, url) == 200 for url in pinned.values())  # dave's avatar still
    choose(dave, {"gallery_id": item["id"]})
    assert all(load(client, url) == 404 for url in pinned.values())  # nobody's any more


def test_a_job_erased_in_flight_still_serves_the_request_that_joined_it(
    app: tuple[Any, Container], provider: RecordingProvider
) -> None:
    client, container = app
    alice, bob = f"alice-{secrets.token_hex(3)}", f"bob-{secrets.token_hex(3)}"
    prompt = f"heron {secrets.token_hex(4)}"
    provider.gate = threading.Event()
    quota_before = remaining(client, alice)
    own = generate(client, alice, prompt, Prefer="respond-async")
    assert own.status_code == 202
    joined = generate(client, bob, prompt, Prefer="respond-async")
    assert joined.status_code == 202 and joined.json_body["cached"] is True
    bob_quota = remaining(client, bob)

    assert client.http.delete("/v1/me", headers=auth(alice)).status_code == 204
    provider.gate.set()
    settle(container)

    # Bob still gets the result (its images load); one provider call made it.
    bobs = client.http.get(f"/v1/generations/{joined.json_body['id']}", headers=auth(bob)).json_body
    assert bobs["status"] == "succeeded"
    for url in bobs["images"].values():
        assert load(client, url) == 200, url
    assert provider.calls[("watercolor", own.json_body["prompt"], 0)] == 1
    # Alice's charge was refunded exactly once; bob (who joined) was never charged.
    assert remaining(client, alice) == quota_before
    assert remaining(client, bob) == bob_quota
    # Nothing of alice's is left, and the result was not cached under her prompt.
    assert client.http.get(f"/v1/generations/{own.json_body['id']}", headers=auth(alice)).status_code == 404
    assert generate(client, bob, prompt).json_body["cached"] is False
