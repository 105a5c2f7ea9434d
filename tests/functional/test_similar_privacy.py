"""`similar` never shows another user's words (issue 22): an item carries `id`, `images` and
`score`, and `prompt` only when it was made for the caller's own request. Two users, through the
HTTP API, on the embedded store and on the Upstash adapter."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.bootstrap import Container
from chalicelib.domain.generation import request_hash
from chalicelib.domain.similarity import prompt_tokens, similarity
from tests.conftest import auth
from tests.fakes import RecordingProvider
from tests.functional.store_adapters import ADAPTERS, wired_app


@pytest.fixture(params=ADAPTERS)
def app(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: Any,
    objects: Any,
    provider: RecordingProvider,
) -> Iterator[tuple[Any, Container]]:
    with wired_app(request.param, tmp_path, redis_server, objects, provider) as wired:
        yield wired


def generate(client: Any, sub: str, prompt: str) -> Any:
    body = json.dumps({"style": "anime", "prompt": prompt})
    response = client.http.post("/v1/generations", headers=auth(sub), body=body)
    assert response.status_code == 200, response.body
    return response


def sim_id(prompt: str) -> str:
    return "sim_" + request_hash("anime", prompt, 0, 512, "fast")


def score(a: str, b: str) -> float:
    return round(similarity(prompt_tokens(a), prompt_tokens(b)), 4)


def test_a_similar_result_carries_its_prompt_for_its_maker_only(app: tuple[Any, Container]) -> None:
    client, _ = app
    alice, bob = f"alice-{secrets.token_hex(3)}", f"bob-{secrets.token_hex(3)}"
    fox = f"fox{secrets.token_hex(3)}"  # unique words: other tests share the store's index
    # A prompt can hold a name and an address.
    alices = f"{fox} with glasses, Alice Smith of 12 Elm Street"
    bobs = f"{fox} with glasses, Alice Smith of 12 Elm Avenue"
    made = generate(client, alice, alices).json_body
    assert made["similar"] == []

    # Bob is offered alice's result: its id, images and score, never her words.
    answer = generate(client, bob, bobs)
    offered = answer.json_body["similar"]
    assert offered == [{"id": sim_id(alices), "images": made["images"], "score": score(alices, bobs)}]
    assert "prompt" not in offered[0]
    assert "street" not in answer.body.decode().lower()  # her words are nowhere in his answer

    # Alice is offered both cached results: her own with its prompt, bob's without his.
    again = f"{fox} with glasses, Alice Smith of 12 Elm Road"
    mine = generate(client, alice, again).json_body["similar"]
    by_id = {item["id"]: item for item in mine}
    assert set(by_id) == {sim_id(alices), sim_id(bobs)}
    assert by_id[sim_id(alices)] == {
        "id": sim_id(alices),
        "images": made["images"],
        "score": score(alices, again),
        "prompt": alices,
    }
    assert "prompt" not in by_id[sim_id(bobs)]
    assert by_id[sim_id(bobs)]["score"] == score(bobs, again)
