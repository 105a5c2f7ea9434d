"""Prompt moderation through the API: 422 content_rejected with suggestions, nothing charged,
nothing sent to a provider, counted in the admin stats; a broken list stops the start-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.bootstrap import build_container
from chalicelib.domain.moderation import ModerationFileError
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider
from tests.ops_support import admin_headers, operated_app


@pytest.fixture
def app(tmp_path: Path, store: Any, objects: Any, provider: RecordingProvider) -> Iterator[Any]:
    with operated_app(tmp_path, store, objects, provider) as (client, _):
        yield client


def post(client: Any, sub: str, prompt: str) -> Any:
    body = json.dumps({"style": "anime", "prompt": prompt})
    return client.http.post("/v1/generations", headers=auth(sub), body=body)


def quota_remaining(client: Any, sub: str) -> list[int]:
    limits = client.http.get("/v1/me/quota", headers=auth(sub)).json_body["limits"]
    return [w["remaining"] for w in limits]


def test_refused_prompts_are_never_charged_nor_sent(app: Any, provider: RecordingProvider) -> None:
    before = quota_remaining(app, "mod-user")
    for prompt in ("R a P e", "naked k1d", "n.u.d.e schoolgirl"):
        response = post(app, "mod-user", prompt)
        assert response.status_code == 422, response.body
        body = response.json_body
        assert body["error"]["code"] == "content_rejected"
        assert body["error"]["details"] == [{"field": "prompt", "message": "refused by the content policy"}]
        assert 1 <= len(body["suggestions"]) <= 6
        assert all(set(item["images"]) >= {"128", "256", "512"} for item in body["suggestions"])
    assert provider.total_calls == 0
    assert quota_remaining(app, "mod-user") == before

    harmless = post(app, "mod-user", "grape farmer, therapist vibe")
    assert harmless.status_code == 200, harmless.body
    assert provider.total_calls == 1

    stats = app.http.get("/v1/admin/stats", headers=admin_headers()).json_body
    assert stats["today"]["admissions"]["content_rejected"] == 3
    assert stats["month"]["admissions"]["content_rejected"] == 3


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
