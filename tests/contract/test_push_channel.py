"""The push channel contract: one suite, run on both adapters.

- ``apigateway``: :class:`ApiGatewayPush` (the production adapter: boto3's
  ``apigatewaymanagementapi`` client with its timeouts and retries) against the local stand-in for
  API Gateway's management API (``tests/apigw_harness.py``);
- ``local``: :class:`LocalWebSocketServer`, with real WebSocket clients connected to it.

Then what only the API Gateway adapter has to prove: bounded time and attempts, typed errors.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from chalicelib.adapters.push.apigateway import ApiGatewayPush, management_endpoint, region_of
from chalicelib.adapters.push.local_server import LocalWebSocketServer
from chalicelib.ports import ConnectionGone, PushChannel, PushError
from tests.apigw_harness import ApiGatewayHarness, running_apigw

_ids = itertools.count()


@dataclass
class Peer:
    connection_id: str
    receive: Callable[[], str]
    hang_up: Callable[[], None]
    ended: Callable[[], bool]  # the client side has seen its connection end


@dataclass
class Backend:
    name: str
    push: PushChannel
    open: Callable[[], Peer]
    harness: ApiGatewayHarness | None = None


@dataclass
class RecordingEndpoint:
    """The local server's endpoint: accepts everyone, remembers who came and went."""

    connected: queue.Queue[str] = field(default_factory=queue.Queue)
    gone: queue.Queue[str] = field(default_factory=queue.Queue)
    frames: list[tuple[str, Any]] = field(default_factory=list)

    def connect(self, connection_id: str, query: Mapping[str, str], source_ip: str) -> object:
        self.connected.put(connection_id)
        return None

    def receive(self, connection_id: str, body: str | bytes) -> None:
        self.frames.append((connection_id, body))

    def disconnect(self, connection_id: str) -> None:
        self.gone.put(connection_id)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Signing needs credentials; none of them is real, and nothing leaves 127.0.0.1.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["apigateway", "local"])
def backend(request: pytest.FixtureRequest, aws_env: None) -> Iterator[Backend]:
    if request.param == "apigateway":
        with running_apigw() as harness:

            def open_apigw() -> Peer:
                connection_id = f"conn{next(_ids)}=="
                inbox = harness.open(connection_id)
                return Peer(
                    connection_id,
                    lambda: inbox.get(timeout=5),
                    lambda: harness.drop(connection_id),
                    lambda: connection_id not in harness.inboxes,
                )

            yield Backend("apigateway", ApiGatewayPush(harness.endpoint), open_apigw, harness)
        return
    endpoint = RecordingEndpoint()
    server = LocalWebSocketServer("127.0.0.1", 0)
    port = server.start(endpoint)
    clients = ExitStack()

    def open_local() -> Peer:
        client = clients.enter_context(connect(f"ws://127.0.0.1:{port}/"))
        connection_id = endpoint.connected.get(timeout=5)

        def hang_up() -> None:
            client.close()
            assert endpoint.gone.get(timeout=5) == connection_id

        def ended() -> bool:
            try:
                client.recv(timeout=5)
            except ConnectionClosed:
                return True
            return False

        return Peer(connection_id, lambda: str(client.recv(timeout=5)), hang_up, ended)

    try:
        yield Backend("local", server, open_local)
    finally:
        clients.close()
        server.stop()


# -- the contract -----------------------------------------------------------------------------------


def test_a_message_reaches_its_connection_and_no_other(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    message = json.dumps({"type": "generation", "text": "Création… 5 s ✓"}, ensure_ascii=False)
    backend.push.send(first.connection_id, message)
    backend.push.send(second.connection_id, "second")
    assert first.receive() == message
    assert second.receive() == "second"


def test_messages_to_one_connection_arrive_in_order(backend: Backend) -> None:
    peer = backend.open()
    for n in range(20):
        backend.push.send(peer.connection_id, f"m{n}")
    assert [peer.receive() for _ in range(20)] == [f"m{n}" for n in range(20)]


def test_an_unknown_connection_is_gone(backend: Backend) -> None:
    with pytest.raises(ConnectionGone) as gone:
        backend.push.send("never-connected==", "hello")
    assert gone.value.connection_id == "never-connected=="
    assert isinstance(gone.value, PushError)


def test_a_connection_that_hung_up_is_gone(backend: Backend) -> None:
    peer = backend.open()
    peer.hang_up()
    with pytest.raises(ConnectionGone):
        backend.push.send(peer.connection_id, "too late")


def test_close_ends_a_connection_and_never_raises(backend: Backend) -> None:
    peer = backend.open()
    backend.push.close(peer.connection_id)
    assert peer.ended()
    backend.push.close(peer.connection_id)  # twice: still nothing raised
    backend.push.close("never-connected==")


# -- the API Gateway adapter's own promises -------------------------------------------------------


@pytest.fixture
def apigw(aws_env: None) -> Iterator[ApiGatewayHarness]:
    with running_apigw() as harness:
        yield harness


def test_a_failing_endpoint_is_a_push_error_after_a_bounded_number_of_attempts(
    apigw: ApiGatewayHarness,
) -> None:
    apigw.open("c1")
    apigw.fail_with(500)
    push = ApiGatewayPush(apigw.endpoint, max_attempts=2)
    with pytest.raises(PushError) as failed:
        push.send("c1", "hello")
    assert not isinstance(failed.value, ConnectionGone)
    assert failed.value.__cause__ is None and failed.value.__context__ is None  # no SDK error chained
    assert [r for r in apigw.requests if r[0] == "POST"] == [("POST", "c1")] * 2


def test_a_stuck_endpoint_is_a_push_error_within_the_timeouts(apigw: ApiGatewayHarness) -> None:
    apigw.open("c1")
    apigw.delay(10)
    push = ApiGatewayPush(apigw.endpoint, read_timeout=0.3, max_attempts=2)
    started = time.monotonic()
    with pytest.raises(PushError):
        push.send("c1", "hello")
    assert time.monotonic() - started < 3


def test_the_management_endpoint_and_region_come_from_the_websocket_url() -> None:
    url = "wss://abc123.execute-api.eu-west-3.amazonaws.com/v1api"
    assert management_endpoint(url) == "https://abc123.execute-api.eu-west-3.amazonaws.com/v1api"
    assert region_of(management_endpoint(url) + "/") == "eu-west-3"
    assert management_endpoint("ws://127.0.0.1:8001/") == "http://127.0.0.1:8001"
    with pytest.raises(ValueError, match="full http"):
        ApiGatewayPush("abc123.execute-api.eu-west-3.amazonaws.com")


# -- the local server's own promises (API Gateway keeps these itself) -----------------------------


def test_the_local_server_closes_an_idle_connection_and_tells_the_endpoint() -> None:
    endpoint = RecordingEndpoint()
    server = LocalWebSocketServer("127.0.0.1", 0, idle_timeout_s=0.3)
    port = server.start(endpoint)
    try:
        with connect(f"ws://127.0.0.1:{port}/") as client:
            connection_id = endpoint.connected.get(timeout=5)
            client.send('{"action": "watch"}')  # activity: the idle clock starts again
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert endpoint.gone.get(timeout=5) == connection_id
        assert endpoint.frames == [(connection_id, '{"action": "watch"}')]
    finally:
        server.stop()


def test_the_local_server_can_push_as_soon_as_the_client_is_connected() -> None:
    """Once a client holds the 101 it can be sent to, however late the server's thread gets round
    to serving it (held back here until the push has arrived: it was a flaky ``ConnectionGone``)."""
    release, served = threading.Event(), threading.Event()

    class SlowToServe(LocalWebSocketServer):
        def _serve_connection(self, connection: Any) -> None:
            release.wait(timeout=5)
            served.set()
            super()._serve_connection(connection)

    endpoint = RecordingEndpoint()
    server = SlowToServe("127.0.0.1", 0)
    port = server.start(endpoint)
    try:
        with connect(f"ws://127.0.0.1:{port}/") as client:
            connection_id = endpoint.connected.get(timeout=5)
            server.send(connection_id, "first")
            assert client.recv(timeout=5) == "first"
            assert not served.is_set()  # all of it before the server began serving the connection
            release.set()
            assert served.wait(timeout=5)
            server.send(connection_id, "second")
            assert client.recv(timeout=5) == "second"
    finally:
        release.set()
        server.stop()


def test_the_local_server_refuses_a_handshake_its_endpoint_refuses() -> None:
    from websockets.exceptions import InvalidStatus

    from chalicelib.domain.errors import Unauthorized

    class Refusing(RecordingEndpoint):
        def connect(self, connection_id: str, query: Mapping[str, str], source_ip: str) -> object:
            assert query == {"token": "bad"} and source_ip == "127.0.0.1"
            raise Unauthorized("no")

    server = LocalWebSocketServer("127.0.0.1", 0)
    port = server.start(Refusing())
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{port}/?token=bad")
        assert refused.value.response.status_code == 401
        assert server.connection_count == 0
    finally:
        server.stop()
