"""The admin audit trail: every admin call is an event (who by token fingerprint, what, when,
request id, outcome), never with a secret; GET /v1/admin/audit pages through them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.domain.audit import fingerprint
from tests.conftest import auth
from tests.fakes import RecordingProvider
from tests.ops_support import ADMIN_TOKEN, admin_headers, issue_key, operated_app, raw_store_text


@pytest.fixture
def operated(tmp_path: Path, redis_server: Any, objects: Any, provider: RecordingProvider) -> Iterator[Any]:
    prefix = f"audit-{tmp_path.name}:"
    store = RedisStateStore(RedisPyClient(redis_server), prefix=prefix)
    with operated_app(tmp_path, store, objects, provider) as (client, _):
        yield client, prefix


def audit(client: Any, query: str = "") -> Any:
    return client.http.get(f"/v1/admin/audit{query}", headers=admin_headers())


def test_every_admin_call_is_audited_without_secrets(
    operated: Any, redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, prefix = operated
    caplog.set_level(logging.INFO, logger="avatarflow.audit")
    issued = issue_key(client, "acme")
    listed = client.http.get("/v1/admin/api-keys", headers=admin_headers())
    revoked = client.http.delete(f"/v1/admin/api-keys/{issued['id']}", headers=admin_headers())
    assert revoked.status_code == 204
    stats = client.http.get("/v1/admin/stats", headers=admin_headers())
    as_user = client.http.get("/v1/admin/stats", headers=auth("not-an-operator"))
    assert as_user.status_code == 403
    anonymous = client.http.get("/v1/admin/stats")
    assert anonymous.status_code == 401
    client.http.get("/v1/me/quota", headers=auth("someone"))  # not an admin call: not audited

    page = audit(client)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    events = page.json_body["items"]
    assert [(e["action"], e["status"], e["outcome"]) for e in events] == [
        ("stats.read", 401, "refused"),
        ("stats.read", 403, "refused"),
        ("stats.read", 200, "succeeded"),
        ("api_key.revoke", 204, "succeeded"),
        ("api_key.list", 200, "succeeded"),
        ("api_key.issue", 201, "succeeded"),
    ]
    assert [e["seq"] for e in events] == [6, 5, 4, 3, 2, 1]
    operator = fingerprint(ADMIN_TOKEN)
    assert [e["actor"] for e in events] == ["none", events[1]["actor"], *[operator] * 4]
    assert [e["credential"] for e in events] == ["none", "bearer", *["admin_token"] * 4]
    assert events[1]["actor"].startswith("sha256:") and events[1]["actor"] != operator
    assert events[3]["target"] == events[5]["target"] == issued["id"]
    assert events[2]["request_id"] == stats.headers["X-Request-Id"]
    assert events[4]["request_id"] == listed.headers["X-Request-Id"]
    assert all(e["at"].endswith("Z") for e in events)

    # Reading the trail is an admin call too.
    assert audit(client, "?limit=1").json_body["items"][0]["action"] == "audit.read"

    # No secret anywhere: not in the trail, not in its store keys, not in the logs.
    secrets_seen = [ADMIN_TOKEN, issued["key"], issued["webhook_secret"]]
    stored = raw_store_text(redis_server, prefix + "audit:")
    assert "api_key.issue" in stored
    for secret in secrets_seen:
        assert secret not in json.dumps(page.json_body)
        assert secret not in stored
        assert secret not in caplog.text
    logged = [r for r in caplog.records if r.getMessage() == "admin audit"]
    assert len(logged) == 8
    assert logged[0].audit["action"] == "api_key.issue"  # type: ignore[attr-defined]


def test_the_trail_pages_newest_first(operated: Any) -> None:
    client, _ = operated
    for _ in range(4):
        client.http.get("/v1/admin/stats", headers=admin_headers())
    first = audit(client, "?limit=3").json_body  # a read is recorded once answered: not in itself
    assert [e["seq"] for e in first["items"]] == [4, 3, 2]
    last = audit(client, f"?limit=3&cursor={first['next_cursor']}").json_body
    assert [e["seq"] for e in last["items"]] == [1]
    assert last["next_cursor"] is None
    newest = audit(client, "?limit=2").json_body["items"]
    assert [(e["seq"], e["action"]) for e in newest] == [(6, "audit.read"), (5, "audit.read")]


@pytest.mark.parametrize("query", ["?limit=0", "?limit=201", "?limit=ten", "?cursor=abc", "?cursor=-1"])
def test_bad_paging_is_400(operated: Any, query: str) -> None:
    client, _ = operated
    response = audit(client, query)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "invalid_request"


def test_the_trail_is_for_operators_only(operated: Any) -> None:
    client, _ = operated
    assert client.http.get("/v1/admin/audit", headers=auth("curious")).status_code == 403
    response = client.http.get("/v1/admin/audit?limit=200&cursor=", headers=admin_headers())
    assert response.status_code == 200
    assert json.loads(response.body)["items"][0]["action"] == "audit.read"
