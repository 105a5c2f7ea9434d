"""The WebSocket API as API Gateway drives it: Chalice's websocket handlers invoked with API
Gateway's event shapes ($connect, $default, $disconnect), pushing through the production adapter
(``ApiGatewayPush``) to a management API stubbed with botocore's Stubber, 410 included."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from chalice.test import Client

from app import app
from chalicelib.adapters.push.apigateway import ApiGatewayPush
from chalicelib.adapters.storage.local import LocalObjectStore
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.bootstrap import Container, build_container, set_container
from chalicelib.schemas.models import Generation
from tests.conftest import auth, make_settings, token
from tests.fakes import RecordingProvider

API_ID = "abc123"
ENDPOINT = f"https://{API_ID}.execute-api.us-east-1.amazonaws.com/v1api"
SOURCE_IP = "203.0.113.9"


def connect_event(connection_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """API Gateway's $connect event (as the WebSocket API reference shows it)."""
    return {
        "headers": {"Host": f"{API_ID}.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "requestContext": _context(connection_id, "$connect", "CONNECT"),
        "isBase64Encoded": False,
    }


def message_event(connection_id: str, body: str) -> dict[str, Any]:
    context = _context(connection_id, "$default", "MESSAGE")
    context["messageId"] = uuid.uuid4().hex[:16]
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(connection_id: str) -> dict[str, Any]:
    context = _context(connection_id, "$disconnect", "DISCONNECT")
    context.update(disconnectStatusCode=1001, disconnectReason="Going away")
    return {"headers": {}, "multiValueHeaders": {}, "requestContext": context, "isBase64Encoded": False}


def _context(connection_id: str, route: str, kind: str) -> dict[str, Any]:
    return {
        "routeKey": route,
        "eventType": kind,
        "extendedRequestId": uuid.uuid4().hex[:16],
        "requestTime": "29/Nov/2030:12:00:00 +0000",
        "messageDirection": "IN",
        "stage": "v1api",
        "connectedAt": 1_900_000_000_000,
        "requestTimeEpoch": 1_900_000_000_000,
        "identity": {"sourceIp": SOURCE_IP, "userAgent": "test"},
        "requestId": uuid.uuid4().hex[:16],
        "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "connectionId": connection_id,
        "apiId": API_ID,
    }


@dataclass
class WsApp:
    client: Any
    container: Container
    stubber: Stubber
    sent: list[tuple[str, dict[str, Any]]]

    def invoke(self, handler: str, event: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = self.client.lambda_.invoke(handler, event).payload
        return payload

    def expect_posts(self, connection_id: str, count: int = 1) -> None:
        for _ in range(count):
            self.stubber.add_response("post_to_connection", {}, {"ConnectionId": connection_id, "Data": ANY})

    def expect_gone(self, connection_id: str) -> None:
        self.stubber.add_client_error(
            "post_to_connection",
            service_error_code="GoneException",
            service_message="",
            http_status_code=410,
            expected_params={"ConnectionId": connection_id, "Data": ANY},
        )

    def connect(self, connection_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
        return self.invoke("ws_connect", connect_event(connection_id, query))

    def say(
        self, connection_id: str, message: dict[str, Any] | str, replies: int = 1
    ) -> list[dict[str, Any]]:
        before = len(self.sent)
        self.expect_posts(connection_id, replies)
        body = message if isinstance(message, str) else json.dumps(message)
        assert self.invoke("ws_message", message_event(connection_id, body))["statusCode"] == 200
        return [doc for _, doc in self.sent[before:]]

    def post_async(self, sub: str, tier: str = "premium", **body: Any) -> dict[str, Any]:
        headers = {**auth(sub, tier), "Prefer": "respond-async"}
        response = self.client.http.post("/v1/generations", headers=headers, body=json.dumps(body))
        assert response.status_code == 202, response.json_body
        return dict(response.json_body)


@pytest.fixture
def ws(
    tmp_path: Path,
    store: RedisStateStore,
    objects: LocalObjectStore,
    provider: RecordingProvider,
) -> Iterator[WsApp]:
    # Chalice's websocket handler configures its own management endpoint from the event and the
    # region (AWS_REGION, always set in Lambda); configured once, it is left as it is.
    app.websocket_api.configure(f"{API_ID}.execute-api.us-east-1.amazonaws.com", "v1api")
    management = botocore.session.get_session().create_client(
        "apigatewaymanagementapi",
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sent: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append((params["ConnectionId"], json.loads(params["Data"])))

    management.meta.events.register("provide-client-params.apigatewaymanagementapi.PostToConnection", record)
    container = build_container(
        make_settings(tmp_path),
        store=store,
        objects=objects,
        provider=provider,
        push=ApiGatewayPush(ENDPOINT, client=management),
        start_workers=False,  # each job runs when the test says so
    )
    set_container(container)
    with Stubber(management) as stubber, Client(app, stage_name="local") as client:
        yield WsApp(client, container, stubber, sent)
        stubber.assert_no_pending_responses()
    set_container(None)


def phase_of(generation: dict[str, Any]) -> str:
    return str(generation["progress"]["phase"]) if generation["progress"] else str(generation["status"])


def test_connect_checks_credentials_from_the_query_string(ws: WsApp) -> None:
    assert ws.connect("user==", {"token": token("alice", "premium")})["statusCode"] == 200
    connection = ws.container.ports.store.watches.connection("user==")
    assert connection is not None and connection.identity.key == "u:alice"
    assert ws.connect("anon==")["statusCode"] == 200
    anonymous = ws.container.ports.store.watches.connection("anon==")
    assert anonymous is not None and anonymous.identity.key == f"ip:{SOURCE_IP}"

    for query in ({"token": "not-a-jwt"}, {"token": token("alice", expires_in=-10)}, {"api_key": "afk_nope"}):
        refused = ws.connect("bad==", query)
        assert refused["statusCode"] == 401
        assert json.loads(refused["body"])["error"]["code"] == "unauthorized"
        assert "not-a-jwt" not in refused["body"]
    assert ws.container.ports.store.watches.connection("bad==") is None


def test_a_watch_answers_the_current_state_then_pushes_every_change(ws: WsApp) -> None:
    ws.connect("c1==", {"token": token("alice", "premium")})
    created = ws.post_async("alice", style="anime", prompt="a fox")
    (first,) = ws.say("c1==", {"action": "watch", "generation_id": created["id"]})
    assert first["type"] == "generation"
    assert first["generation"] == created  # the body POST answered (still queued, nothing moved)

    ws.expect_posts("c1==", 4)  # starting, generating, storing, succeeded
    assert ws.container.generation.lanes.handle(created["id"]) == "done"
    pushed = [doc["generation"] for _, doc in ws.sent[1:]]
    assert [phase_of(g) for g in pushed] == ["starting", "generating", "storing", "succeeded"]
    for generation in pushed:
        Generation.model_validate(generation)
        assert generation["id"] == created["id"]
    final = ws.client.http.get(f"/v1/generations/{created['id']}", headers=auth("alice", "premium"))
    assert pushed[-1] == final.json_body
    assert pushed[-1]["progress"] is None and pushed[-1]["eta_seconds"] is None


def test_a_gone_connection_is_forgotten_and_pushed_to_no_more(ws: WsApp) -> None:
    ws.connect("c1==", {"token": token("alice", "premium")})
    created = ws.post_async("alice", style="pixel")
    ws.say("c1==", {"action": "watch", "generation_id": created["id"]})
    ws.expect_gone("c1==")  # the "starting" push finds the connection closed (410)
    ws.container.generation.lanes.handle(created["id"])
    assert len(ws.sent) == 2  # the watch's answer, the push that met the 410: nothing after it
    assert ws.container.ports.store.watches.connection("c1==") is None
    assert ws.container.ports.store.watches.watchers([created["id"]]) == []


def test_bad_messages_get_error_messages_and_the_connection_stays_up(ws: WsApp) -> None:
    ws.connect("c1==", {"token": token("alice", "premium")})
    theirs = ws.post_async("bob", style="oil", prompt="bob's secret prompt")
    cases: list[tuple[str | dict[str, Any], str]] = [
        ("{nope", "invalid_request"),
        ("[1, 2]", "invalid_request"),
        ({"action": "sing"}, "invalid_request"),
        ({"action": "watch", "generation_id": 7}, "invalid_request"),
        ({"action": "watch", "generation_id": "gen_x", "extra": 1}, "invalid_request"),
        ({"action": "watch", "generation_id": theirs["id"]}, "not_found"),
        ({"action": "watch_batch", "batch_id": "bat_nope"}, "not_found"),
        ({"action": "watch", "generation_id": "gen_" + "x" * 9000}, "payload_too_large"),
    ]
    for message, code in cases:
        (reply,) = ws.say("c1==", message)
        assert reply["type"] == "error" and reply["error"]["code"] == code, reply
        assert set(reply["error"]) <= {"code", "message", "details"}
        assert "secret prompt" not in json.dumps(reply)
    assert ws.container.ports.store.watches.watchers([theirs["id"]]) == []

    mine = [ws.post_async("alice", style="flat", variation=n) for n in range(21)]
    for created in mine[:20]:
        (reply,) = ws.say("c1==", {"action": "watch", "generation_id": created["id"]})
        assert reply["type"] == "generation"
    (refused,) = ws.say("c1==", {"action": "watch", "generation_id": mine[20]["id"]})
    assert refused["error"]["code"] == "invalid_request" and "20" in refused["error"]["message"]


def test_a_watched_batch_pushes_each_item_then_the_batch(ws: WsApp) -> None:
    issued = ws.container.access.api_keys.issue("acme", "enterprise")
    headers = {"X-API-Key": issued.key, "Content-Type": "application/json"}
    items = [
        {"style": "anime", "variation": 1},
        {"style": "oil", "variation": 2},
        {"style": "anime", "variation": 1},
    ]
    accepted = ws.client.http.post("/v1/batches", headers=headers, body=json.dumps({"items": items}))
    assert accepted.status_code == 202, accepted.json_body
    batch_id, ids = accepted.json_body["id"], accepted.json_body["generation_ids"]

    ws.connect("k1==", {"api_key": issued.key})
    replies = ws.say("k1==", {"action": "watch_batch", "batch_id": batch_id}, replies=3)
    assert [r["generation"]["id"] for r in replies] == ids
    ws.connect("stranger==", {"token": token("mallory", "premium")})
    (refused,) = ws.say("stranger==", {"action": "watch_batch", "batch_id": batch_id})
    assert refused["error"]["code"] == "not_found"

    start = len(ws.sent)
    ws.expect_posts("k1==", 4)  # the first item: starting, generating, storing, succeeded
    ws.container.generation.lanes.handle(ids[0])
    ws.expect_posts("k1==", 4 + 2)  # the second item, then the joined third item, then the batch
    ws.container.generation.lanes.handle(ids[1])
    pushed = [doc for _, doc in ws.sent[start:]]
    assert pushed[-1] == {
        "type": "batch",
        "batch": {
            "id": batch_id,
            "counts": {"queued": 0, "running": 0, "succeeded": 3, "failed": 0},
            "generation_ids": ids,
        },
    }
    finals = {d["generation"]["id"]: d["generation"]["status"] for d in pushed if d["type"] == "generation"}
    assert finals == dict.fromkeys(ids, "succeeded")


def test_disconnect_forgets_the_connection_and_its_watches(ws: WsApp) -> None:
    ws.connect("c1==", {"token": token("alice", "premium")})
    created = ws.post_async("alice", style="anime", variation=5)
    ws.say("c1==", {"action": "watch", "generation_id": created["id"]})
    assert ws.invoke("ws_disconnect", disconnect_event("c1=="))["statusCode"] == 200
    assert ws.container.ports.store.watches.watchers([created["id"]]) == []
    ws.container.generation.lanes.handle(created["id"])  # nobody watches: nothing is posted
    assert len(ws.sent) == 1
    (reply,) = ws.say("c1==", {"action": "watch", "generation_id": created["id"]})
    assert reply["error"]["code"] == "unauthorized"  # that connection is no longer known


def test_get_realtime_tells_where_the_websocket_api_is(ws: WsApp, tmp_path: Path) -> None:
    info = ws.client.http.get("/v1/realtime", headers={"Host": "localhost:8000"}).json_body
    assert info == {"url": "ws://localhost:8001", "protocol": "avatarflow.events.v1"}
    deployed = build_container(
        make_settings(
            tmp_path, stage="prod", websocket_url="wss://abc123.execute-api.us-east-1.amazonaws.com/v1api"
        ),
        store=ws.container.ports.store,
        objects=ws.container.ports.objects,
        provider=ws.container.ports.provider,
        start_workers=False,
    )
    set_container(deployed)
    assert (
        ws.client.http.get("/v1/realtime").json_body["url"]
        == "wss://abc123.execute-api.us-east-1.amazonaws.com/v1api"
    )
    set_container(
        build_container(
            make_settings(tmp_path, stage="prod"), store=ws.container.ports.store, start_workers=False
        )
    )
    assert ws.client.http.get("/v1/realtime").status_code == 404
    set_container(ws.container)


def test_openapi_documents_realtime_and_the_progress_of_a_generation(ws: WsApp) -> None:
    doc = ws.client.http.get("/v1/openapi.json").json_body
    realtime = doc["paths"]["/v1/realtime"]["get"]
    assert realtime["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RealtimeInfo"
    }
    schemas = doc["components"]["schemas"]
    assert set(schemas["RealtimeInfo"]["properties"]) == {"url", "protocol"}
    progress = schemas["Generation"]["properties"]["progress"]
    assert {"$ref": "#/components/schemas/Progress"} in progress["anyOf"]
    assert set(schemas["Progress"]["properties"]) == {"phase", "percent", "queue_position", "message"}
    assert schemas["Progress"]["properties"]["phase"]["enum"] == [
        "queued",
        "starting",
        "generating",
        "storing",
    ]
