"""Reuse of similar requests through the HTTP API, with fal stood in (respx, fal's response shape)."""

from __future__ import annotations

import itertools
from typing import Any

import respx

from tests.conftest import auth
from tests.functional import test_failover as failover
from tests.functional.test_failover import FAL_SCHNELL, Wire, fal_ok, post
from tests.unit.providers.helpers import png_bytes

# The stand-in vendors and the app wired to them (fal first for `fast`).
vendors = failover.vendors
wire = failover.wire
client = failover.client

JSON = {"Content-Type": "application/json"}


def ask(client: Any, user: str, **body: Any) -> Any:
    return post(client, {"style": "anime", **body}, {**JSON, **auth(user, "free")})


def test_similar_results_are_offered_and_accepted_uncharged(
    client: Any, wire: Wire, vendors: respx.MockRouter
) -> None:
    wire()
    shades = itertools.count(40, 40)  # a picture of its own per call (images are content-addressed)
    fal = vendors.post(FAL_SCHNELL).mock(
        side_effect=lambda request: fal_ok(png_bytes(96, (next(shades), 90, 90)))
    )

    first = ask(client, "u1", prompt="A red fox with glasses")
    assert first.status_code == 200, first.body
    assert first.json_body["similar"] == []  # nothing similar cached yet
    fox_images = first.json_body["images"]

    # A close prompt still generates what was asked, and is offered the cached fox at once.
    second = ask(client, "u2", prompt="red fox, glasses and a hat")
    assert second.status_code == 200, second.body
    body = second.json_body
    assert body["cached"] is False and body["images"] != fox_images
    # Another user's result: its images and score, never their words (issue 22).
    assert [(s["images"], s["score"]) for s in body["similar"]] == [(fox_images, 0.75)]
    assert "prompt" not in body["similar"][0]
    assert body["similar"][0]["id"].startswith("sim_")
    assert fal.call_count == 2

    # Read back later, a generation offers nothing (the offer belongs to the request's answer).
    later = client.http.get(f"/v1/generations/{body['id']}", headers=auth("u2", "free")).json_body
    assert later["similar"] == [] and later["images"] == body["images"]

    # With accept_similar, a close enough match is the answer: a cache hit, not charged.
    served = ask(client, "u3", prompt="red fox wearing glasses", accept_similar=True)
    assert served.status_code == 200, served.body
    assert served.json_body["cached"] is True
    assert served.json_body["images"] == fox_images
    assert served.json_body["prompt"] == "red fox wearing glasses"
    assert fal.call_count == 2  # no provider call
    quota = client.http.get("/v1/me/quota", headers=auth("u3", "free")).json_body
    assert {w["window"]: w["remaining"] for w in quota["limits"]} == {"hour": 5, "day": 5}

    # Too far to serve: generated (and charged) as asked.
    owl = ask(client, "u3", prompt="an owl in the snow", accept_similar=True)
    assert owl.status_code == 200 and owl.json_body["cached"] is False and owl.json_body["similar"] == []
    assert fal.call_count == 3


def test_accept_similar_must_be_a_boolean(client: Any, wire: Wire) -> None:
    wire()
    refused = ask(client, "u1", prompt="a fox", accept_similar="yes")
    assert refused.status_code == 400
    assert refused.json_body["error"]["code"] == "invalid_request"
    assert refused.json_body["error"]["details"][0]["field"] == "accept_similar"
