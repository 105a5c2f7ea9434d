"""The embedded push channel: a real WebSocket server in the local process (the local stage).

It plays API Gateway's part for ``make run``: it checks the credentials at the handshake, hands
every frame to the same use case the Chalice WebSocket handlers call, tells it of each disconnect,
and is the :class:`chalicelib.ports.PushChannel` through which every message goes out (replies
and pushes alike). Built on the ``websockets`` library's threaded server: one thread per
connection, so the lanes' worker threads push without an event loop.

Like API Gateway it closes a connection idle for ``idle_timeout_s`` (10 minutes: nothing received
or sent), and it refuses frames past ``max_size`` (128 KiB, API Gateway's message limit) by
closing; smaller frames that the protocol does not accept (over 8 KB) get an error message from
the use case and the connection stays up.

Sends to one connection are serialised with a lock that is also held while a client's frame is
handled: a push that happens while a watch is being answered waits, and is sent after the current
state the watch answered with, never before it.

A connection can be sent to from the moment its client holds the handshake's answer (as on API
Gateway once ``$connect`` has returned): it is registered when the endpoint accepts it, before the
101 goes out, and a push that comes while the handshake is still being answered waits for it
(bounded). Registering it only when the library hands the open connection to its handler, after the
101, left a gap in which a client that had connected could not yet be sent to.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from chalicelib.ports import ConnectionGone, PushError

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 600.0
MAX_FRAME_BYTES = 128 * 1024
SEND_TIMEOUT_S = 5.0


class RealtimeEndpoint(Protocol):
    """What the server hands each connection's events to (``services.realtime.RealtimeSessions``)."""

    def connect(self, connection_id: str, query: Mapping[str, str], source_ip: str) -> object:
        """Raises on bad credentials (the handshake is refused)."""
        ...

    def receive(self, connection_id: str, body: str | bytes) -> None: ...

    def disconnect(self, connection_id: str) -> None: ...


@dataclass
class _Peer:
    connection: Any
    lock: threading.RLock = field(default_factory=threading.RLock)
    last_active: float = field(default_factory=time.monotonic)
    # Set once the handshake is over: the 101 sent (or the connection dropped from ``_peers``).
    handshake_over: threading.Event = field(default_factory=threading.Event)


class LocalWebSocketServer:
    """:class:`chalicelib.ports.PushChannel` and the local stage's WebSocket server."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8001,
        *,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self.host = host
        self.port = port
        self._idle_timeout = idle_timeout_s
        self._max_frame = max_frame_bytes
        self._peers: dict[str, _Peer] = {}
        self._lock = threading.Lock()
        self._endpoint: RealtimeEndpoint | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, endpoint: RealtimeEndpoint) -> int:
        """Listen on ``host:port`` (0: any free port) and serve from a daemon thread; the port."""
        from websockets.sync.server import serve

        with self._lock:
            if self._server is not None:
                return self.port
            self._endpoint = endpoint
            # The library logs every handshake and close at INFO: only its warnings matter here.
            logging.getLogger("avatarflow.websocket").setLevel(logging.WARNING)
            self._server = serve(
                self._serve_connection,
                self.host,
                self.port,
                process_request=self._handshake,
                max_size=self._max_frame,
                ping_interval=None,  # idleness is ours to judge (as API Gateway does), not the pings'
                close_timeout=2,
                logger=logging.getLogger("avatarflow.websocket"),
                create_connection=self._connection_class(),
            )
            self.port = int(self._server.socket.getsockname()[1])
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="avatarflow-websocket", daemon=True
            )
            self._thread.start()
        log.info("WebSocket server listening on ws://%s:%d", self.host, self.port)
        return self.port

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- PushChannel ---------------------------------------------------------------------------
    def send(self, connection_id: str, message: str) -> None:
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + SEND_TIMEOUT_S
        peer = self._opened_peer(connection_id, SEND_TIMEOUT_S)
        if not peer.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise PushError("push failed: the connection is busy")
        try:
            peer.connection.send(message)
            peer.last_active = time.monotonic()
        except ConnectionClosed:
            raise ConnectionGone(connection_id) from None
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise PushError(f"push failed: {type(exc).__name__}") from None
        finally:
            peer.lock.release()

    def close(self, connection_id: str) -> None:
        try:
            peer = self._opened_peer(connection_id, SEND_TIMEOUT_S)
        except PushError:
            return  # gone already, or still opening after the wait: nothing to close
        try:
            peer.connection.close(1000, "closed by the server")
        except Exception:  # best effort, never raises
            log.debug("could not close a WebSocket connection", exc_info=True)

    @property
    def connection_count(self) -> int:
        return len(self._peers)

    def _opened_peer(self, connection_id: str, timeout: float) -> _Peer:
        """The connection's peer once its handshake is answered (a push that comes while it is
        being answered waits for the 101); ``ConnectionGone`` if it is unknown or never opened."""
        peer = self._peers.get(connection_id)
        if peer is None:
            raise ConnectionGone(connection_id)
        if not peer.handshake_over.wait(timeout):
            raise PushError("push failed: the connection is still opening")
        if self._peers.get(connection_id) is not peer:  # the handshake failed after all
            raise ConnectionGone(connection_id)
        return peer

    # -- the server's side ---------------------------------------------------------------------
    def _connection_class(self) -> type[Any]:
        """The library's connection, telling this server when its opening handshake is over."""
        from websockets.protocol import State
        from websockets.sync.server import ServerConnection

        owner = self

        class _Connection(ServerConnection):
            connection_id: str | None = None  # given by ``_handshake`` once the endpoint accepts

            def handshake(self, *args: Any, **kwargs: Any) -> None:
                try:
                    super().handshake(*args, **kwargs)
                finally:
                    owner._handshake_over(self, opened=self.protocol.state is State.OPEN)

        return _Connection

    def _handshake(self, connection: Any, request: Any) -> Any:
        """Credentials are checked before the upgrade: bad ones are an HTTP 401, not a socket."""
        endpoint = self._endpoint
        if endpoint is None:
            return connection.respond(503, "The WebSocket server is not ready.\n")
        query = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
        connection_id = secrets.token_urlsafe(12)
        source_ip = str((connection.remote_address or ("unknown",))[0])
        try:
            endpoint.connect(connection_id, query, source_ip)
        except Exception as exc:
            status = 401 if getattr(exc, "code", "") == "unauthorized" else 503
            if status == 503:
                log.warning("WebSocket connect failed: %s", type(exc).__name__)
            return connection.respond(status, "Unauthorized.\n" if status == 401 else "Unavailable.\n")
        # Known from now on, so that a push cannot miss it once its client holds the 101 (sent after
        # this returns); pushes wait until then (``_handshake_over``).
        connection.connection_id = connection_id
        self._peers[connection_id] = _Peer(connection)
        return None

    def _handshake_over(self, connection: Any, *, opened: bool) -> None:
        connection_id: str | None = connection.connection_id
        peer = self._peers.get(connection_id) if connection_id is not None else None
        if connection_id is None or peer is None:
            return  # refused at the handshake: never known
        if opened:
            peer.handshake_over.set()
        else:  # the client went away, or the server is stopping, before the 101 went out
            self._forget(connection_id)

    def _forget(self, connection_id: str) -> None:
        """The connection is over: no more pushes to it, and the endpoint is told (once)."""
        peer = self._peers.pop(connection_id, None)
        if peer is None:
            return
        peer.handshake_over.set()  # a push waiting for the 101 now finds the connection gone
        if self._endpoint is not None:
            try:
                self._endpoint.disconnect(connection_id)
            except Exception:
                log.warning("WebSocket disconnect could not be recorded", exc_info=True)

    def _serve_connection(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        connection_id: str | None = connection.connection_id
        peer = self._peers.get(connection_id) if connection_id is not None else None
        endpoint = self._endpoint
        if connection_id is None or peer is None or endpoint is None:
            connection.close(1011, "not ready")
            return
        try:
            while True:
                left = self._idle_timeout - (time.monotonic() - peer.last_active)
                if left <= 0:
                    connection.close(1001, "idle for too long")
                    return
                try:
                    frame = connection.recv(timeout=left)
                except TimeoutError:
                    continue  # a push may have kept it active: look again
                peer.last_active = time.monotonic()
                with peer.lock:  # a push waits until this frame is answered
                    endpoint.receive(connection_id, frame)
        except ConnectionClosed:
            pass
        finally:
            self._forget(connection_id)
