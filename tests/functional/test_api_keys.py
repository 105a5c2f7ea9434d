"""Enterprise API keys: issued by the admin API, stored as a keyed hash, revoked at once."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.services.access.api_keys import ApiKeyService, hash_key
from tests.conftest import auth
from tests.fakes import CountingRedis
from tests.ops_support import JSON, admin_headers, issue_key, key_headers, operated_app, raw_store_text


@pytest.fixture
def app_client(tmp_path: Path, store: Any, objects: Any, provider: Any) -> Iterator[tuple[Any, Any]]:
    with operated_app(tmp_path, store, objects, provider) as wired:
        yield wired


def generate(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.http.post("/v1/generations", headers=headers, body=json.dumps({"style": "anime", **body}))


def test_issue_shows_the_key_and_webhook_secret_once(app_client: tuple[Any, Any]) -> None:
    client, _ = app_client
    response = client.http.post(
        "/v1/admin/api-keys", headers=admin_headers(), body=json.dumps({"name": "Acme"})
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json_body
    assert set(body) == {"id", "key", "webhook_secret"}
    assert body["key"].startswith("afk_live_") and len(body["key"]) == len("afk_live_") + 32
    assert body["webhook_secret"].startswith("whsec_")
    assert len(base64.b64decode(body["webhook_secret"][len("whsec_") :])) == 32
    listed = client.http.get("/v1/admin/api-keys", headers=admin_headers())
    assert listed.status_code == 200
    (item,) = listed.json_body["items"]
    assert item == {
        "id": body["id"],
        "name": "Acme",
        "tier": "enterprise",
        "limits": {},
        "created_at": item["created_at"],
        "revoked": False,
        "prefix": body["key"][: len("afk_live_") + 4],
    }
    assert body["key"] not in listed.body.decode() and body["webhook_secret"] not in listed.body.decode()


def test_a_key_authenticates_as_its_own_enterprise_identity(app_client: tuple[Any, Any]) -> None:
    client, container = app_client
    issued = issue_key(client)
    made = generate(client, key_headers(issued["key"]), quality="pro", size=1024)
    assert made.status_code in (200, 202), made.body  # pro may go to the lanes
    assert made.json_body["lane"] == "enterprise"
    own = client.http.get(f"/v1/generations/{made.json_body['id']}", headers=key_headers(issued["key"]))
    assert own.status_code == 200
    record = container.ports.store.generations.get(made.json_body["id"])
    assert record is not None and record.owner == f"k:{issued['id']}"
    # enterprise has no windows by default: the quota lists none
    quota = client.http.get("/v1/me/quota", headers=key_headers(issued["key"])).json_body
    assert quota == {
        "tier": "enterprise",
        "limits": [],
        "qualities": ["fast", "standard", "pro"],
        "sizes": [512, 1024],
    }
    # the webhook secret is there to sign callbacks, by key id
    assert container.access.api_keys.webhook_secret(issued["id"]) == issued["webhook_secret"]


def test_keys_are_stored_only_as_a_keyed_hash(
    app_client: tuple[Any, Any], redis_server: Any, store: Any
) -> None:
    client, container = app_client
    issued = issue_key(client, limits={"day": 10})
    assert generate(client, key_headers(issued["key"])).status_code == 200
    client.http.get("/v1/admin/api-keys", headers=admin_headers())
    dump = raw_store_text(redis_server, store.keyspace.prefix)
    assert issued["key"] not in dump
    assert issued["key"][len("afk_live_") :] not in dump  # not even the random part
    digest = hash_key(container.settings.api_key_pepper_bytes, issued["key"])
    assert f"{store.keyspace.prefix}apikey:{digest}" in dump  # looked up by HMAC(pepper, key)
    # a plain (unkeyed) SHA-256 of the key would let a copy of the store confirm a guess: not used
    import hashlib

    assert hashlib.sha256(issued["key"].encode()).hexdigest() not in dump


def test_lookup_is_one_get_and_garbage_costs_no_store_call(store: Any, redis_server: Any) -> None:
    from chalicelib.adapters.store.client import RedisPyClient
    from chalicelib.adapters.store.redis_store import RedisStateStore

    counting = CountingRedis(RedisPyClient(redis_server))
    service = ApiKeyService(
        RedisStateStore(counting, prefix=store.keyspace.prefix).api_keys, b"pepper-for-this-test"
    )
    issued = service.issue("one", "enterprise", {"hour": 3})
    counting.calls.clear()
    identity = service.lookup(issued.key)
    assert identity is not None and identity.kind == "api_key" and identity.subject == issued.id
    assert identity.windows is not None and [(w.name, w.limit) for w in identity.windows] == [("hour", 3)]
    assert counting.calls == ["command:GET"]
    counting.calls.clear()
    assert service.lookup("not-a-key") is None
    assert service.lookup("afk_" + "x" * 500) is None
    assert counting.calls == []
    assert service.lookup(issued.key + "x") is None  # one GET, no match
    assert repr(issued) == f"IssuedKey(id={issued.id!r})"  # never the key in a repr


def test_revocation_is_effective_at_once(app_client: tuple[Any, Any]) -> None:
    client, _ = app_client
    issued = issue_key(client)
    headers = key_headers(issued["key"])
    assert generate(client, headers, variation=1).status_code == 200
    revoked = client.http.delete(f"/v1/admin/api-keys/{issued['id']}", headers=admin_headers())
    assert revoked.status_code == 204
    assert revoked.body in (b"", None, "")
    refused = generate(client, headers, variation=2)
    assert refused.status_code == 401
    assert refused.json_body["error"]["code"] == "unauthorized"
    assert client.http.get("/v1/me/quota", headers=headers).status_code == 401
    (item,) = client.http.get("/v1/admin/api-keys", headers=admin_headers()).json_body["items"]
    assert item["revoked"] is True
    assert (
        client.http.delete(f"/v1/admin/api-keys/{issued['id']}", headers=admin_headers()).status_code == 204
    )
    missing = client.http.delete("/v1/admin/api-keys/key_nope", headers=admin_headers())
    assert missing.status_code == 404
    assert missing.json_body["error"]["code"] == "not_found"


def test_unknown_keys_are_refused(app_client: tuple[Any, Any]) -> None:
    client, _ = app_client
    for key in ("afk_live_" + "A" * 32, "nonsense", "afk_" + "x" * 300):
        response = generate(client, key_headers(key))
        assert response.status_code == 401
        assert response.json_body["error"]["code"] == "unauthorized"


def test_per_key_limits_are_enforced(app_client: tuple[Any, Any]) -> None:
    client, _ = app_client
    capped = issue_key(client, "capped", limits={"hour": 2, "month": 1000})
    headers = key_headers(capped["key"])
    assert generate(client, headers, variation=10).status_code == 200
    second = generate(client, headers, variation=11)
    assert second.status_code == 200
    assert second.headers["X-RateLimit-Remaining"] == "0"
    third = generate(client, headers, variation=12)
    assert third.status_code == 429
    assert third.json_body["error"]["code"] == "quota_exceeded"
    assert int(third.headers["Retry-After"]) >= 1
    quota = client.http.get("/v1/me/quota", headers=headers).json_body
    assert {w["window"]: (w["limit"], w["remaining"]) for w in quota["limits"]} == {
        "hour": (2, 0),
        "month": (1000, 998),
    }
    # another key is not affected, and a cached result still costs no quota
    other = issue_key(client, "uncapped")
    assert generate(client, key_headers(other["key"]), variation=12).status_code == 200
    assert generate(client, headers, variation=12).json_body["cached"] is True


ADMIN_ROUTES = [
    ("post", "/v1/admin/api-keys", json.dumps({"name": "x"})),
    ("get", "/v1/admin/api-keys", None),
    ("delete", "/v1/admin/api-keys/key_x", None),
    ("get", "/v1/admin/stats", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_everyone_but_the_operator(
    app_client: tuple[Any, Any], method: str, path: str, body: str | None
) -> None:
    client, _ = app_client
    issued = issue_key(client, "caller")
    callers = [
        (auth("user-1", "enterprise"), 403),
        (key_headers(issued["key"]), 403),
        ({**JSON, "Authorization": "Bearer wrong-token"}, 403),
        (JSON, 401),
    ]
    for headers, status in callers:
        response = getattr(client.http, method)(path, headers=headers, body=body)
        assert response.status_code == status, (headers, response.body)
        assert response.json_body["error"]["code"] == ("forbidden" if status == 403 else "unauthorized")
    assert len(client.http.get("/v1/admin/api-keys", headers=admin_headers()).json_body["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x", "tier": "premium"},
        {"name": "x", "limits": {"hour": 0}},
        {"name": "x", "limits": {"hour": "5"}},
        {"name": "x", "limits": {"week": 5}},
        {"name": "x", "extra": True},
        {"name": "bell\u0007"},
        {"name": 7},
    ],
)
def test_bad_issue_requests_are_400(app_client: tuple[Any, Any], body: dict[str, Any]) -> None:
    client, _ = app_client
    response = client.http.post("/v1/admin/api-keys", headers=admin_headers(), body=json.dumps(body))
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "invalid_request"
    assert client.http.get("/v1/admin/api-keys", headers=admin_headers()).json_body["items"] == []


def test_without_a_pepper_outside_local_stages_keys_are_disabled(
    tmp_path: Path, store: Any, objects: Any, provider: Any
) -> None:
    with operated_app(tmp_path, store, objects, provider, stage="prod") as (client, container):
        assert container.settings.api_key_pepper_bytes is None
        response = client.http.post(
            "/v1/admin/api-keys", headers=admin_headers(), body=json.dumps({"name": "x"})
        )
        assert response.status_code == 403
        assert "AVATARFLOW_API_KEY_PEPPER" in response.json_body["error"]["message"]
        assert generate(client, key_headers("afk_live_" + "A" * 32)).status_code == 401
    with operated_app(tmp_path, store, objects, provider, stage="prod", api_key_pepper="p" * 32) as (
        client,
        _,
    ):
        issued = issue_key(client)
        assert generate(client, key_headers(issued["key"])).status_code == 200


def test_openapi_documents_the_admin_routes(app_client: tuple[Any, Any]) -> None:
    client, _ = app_client
    doc = client.http.get("/v1/openapi.json").json_body
    paths = doc["paths"]
    assert set(paths["/v1/admin/api-keys"]) == {"get", "post"}
    assert set(paths["/v1/admin/api-keys/{key_id}"]) == {"delete"}
    assert "204" in paths["/v1/admin/api-keys/{key_id}"]["delete"]["responses"]
    create = paths["/v1/admin/api-keys"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert "201" in create["responses"]
    assert paths["/v1/admin/stats"]["get"]["security"] == [{"bearer": []}]
    schemas = doc["components"]["schemas"]
    assert schemas["ApiKeyCreate"]["additionalProperties"] is False
    assert "key" not in schemas["ApiKeyOut"]["properties"]
    assert {"today", "month", "budget"} <= set(schemas["AdminStats"]["properties"])
