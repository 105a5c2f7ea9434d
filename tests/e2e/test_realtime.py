"""Real-time status over a real WebSocket: the local server as `make run` starts it, a slow stand-in
provider (the procedural renderer, delayed), and a watched generation pushed through every phase."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chalicelib.schemas.models import Generation
from tests.local_server import LocalServer, running_local_server

pytestmark = pytest.mark.e2e

DELAY_S = 1.5  # the stand-in provider's time per image: long enough to be watched while queued


def _listening(server: LocalServer) -> bool:
    """The WebSocket server first: make run starts it without waiting for a request."""
    try:
        with connect(f"ws://127.0.0.1:{server.ws_port}/", open_timeout=2):
            pass
    except InvalidStatus:
        return False  # up, but not answering its handshake yet
    return httpx.get(f"{server.base}/v1/health", timeout=2).status_code == 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    env = {
        "AVATARFLOW_WORKER_THREADS": "1",  # one lane worker: a second job waits in line
        "AVATARFLOW_PROCEDURAL_DELAY_SECONDS": str(DELAY_S),
        "AVATARFLOW_WARM_START": "1",  # as `make run`: the WebSocket server listens before any request
    }
    data_dir = tmp_path_factory.mktemp("e2e-realtime")
    with running_local_server(data_dir, seed_per_style=1, env=env, ready=_listening) as running:
        yield running


def dev_token(server: LocalServer, sub: str) -> str:
    response = httpx.post(f"{server.base}/v1/dev/token", json={"sub": sub, "tier": "premium"}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def realtime_url(server: LocalServer) -> str:
    info = httpx.get(f"{server.base}/v1/realtime", timeout=10).json()
    assert info["protocol"] == "avatarflow.events.v1"
    assert info["url"].startswith("ws://") and info["url"].endswith(f":{server.ws_port}")
    return str(info["url"])


def submit(server: LocalServer, token: str, variation: int) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base}/v1/generations",
        json={"style": "watercolor", "prompt": "a heron at dawn", "variation": variation},
        headers={"Authorization": f"Bearer {token}", "Prefer": "respond-async"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def receive(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(ws.recv(timeout=30))
    assert isinstance(message, dict)
    return message


def phase_of(generation: dict[str, Any]) -> str:
    if generation["status"] in ("succeeded", "failed"):
        assert generation["progress"] is None
        return str(generation["status"])
    return str(generation["progress"]["phase"])


def test_a_watched_generation_is_pushed_through_every_phase_in_order(server: LocalServer) -> None:
    token = dev_token(server, "watcher")
    url = realtime_url(server)
    submit(server, token, 1)  # takes the only lane worker for DELAY_S
    target = submit(server, token, 2)  # waits in line behind it
    assert target["progress"]["phase"] == "queued" and target["progress"]["queue_position"] == 1

    seen: list[dict[str, Any]] = []
    with connect(f"{url}/?token={token}") as ws:
        ws.send(json.dumps({"action": "watch", "generation_id": target["id"]}))
        while not seen or seen[-1]["status"] not in ("succeeded", "failed"):
            message = receive(ws)
            assert message["type"] == "generation"
            assert message["generation"]["id"] == target["id"]
            seen.append(message["generation"])

    phases = [phase_of(g) for g in seen]
    distinct = [p for i, p in enumerate(phases) if i == 0 or p != phases[i - 1]]
    assert distinct == ["queued", "starting", "generating", "storing", "succeeded"], phases
    for generation in seen:  # each one the body the HTTP API renders
        assert Generation.model_validate(generation).id == target["id"]
        assert set(generation) == set(target)
        if generation["progress"] is not None:
            assert generation["progress"]["message"]
            assert generation["eta_seconds"] > 0
    final = httpx.get(
        f"{server.base}/v1/generations/{target['id']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert seen[-1] == final


def test_bad_input_gets_error_messages_and_the_connection_stays_up(server: LocalServer) -> None:
    token = dev_token(server, "clumsy")
    other = dev_token(server, "someone-else")
    theirs = submit(server, other, 3)
    url = realtime_url(server)
    with connect(f"{url}/?token={token}") as ws:
        for frame, code in [
            ("{not json", "invalid_request"),
            (json.dumps({"action": "dance"}), "invalid_request"),
            (json.dumps({"action": "watch"}), "invalid_request"),
            (json.dumps({"action": "watch", "generation_id": theirs["id"]}), "not_found"),
            (json.dumps({"action": "watch", "generation_id": "x" * 9000}), "payload_too_large"),
        ]:
            ws.send(frame)
            message = receive(ws)
            assert message == {"type": "error", "error": message["error"]}
            assert message["error"]["code"] == code
            assert theirs["prompt"] not in json.dumps(message)
        mine = submit(server, token, 4)
        ws.send(json.dumps({"action": "watch", "generation_id": mine["id"]}))
        assert receive(ws)["generation"]["id"] == mine["id"]


def test_bad_credentials_are_refused_at_the_handshake(server: LocalServer) -> None:
    url = realtime_url(server)
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{url}/?token=not-a-jwt")
    assert refused.value.response.status_code == 401
    with connect(f"{url}/") as anonymous:  # no credentials: an anonymous visitor, by source IP
        anonymous.send(json.dumps({"action": "watch", "generation_id": "gen_nothing"}))
        assert receive(anonymous)["error"]["code"] == "not_found"
