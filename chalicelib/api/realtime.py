"""The real-time status API's entrypoints: ``GET /v1/realtime`` and the WebSocket handlers.

The handlers are Chalice's ``on_ws_connect`` / ``on_ws_message`` / ``on_ws_disconnect`` (API
Gateway's WebSocket API), registered on the app itself in ``app.py``: Chalice names a websocket
Lambda's handler ``app.<function name>``, so they cannot live on a blueprint. Each one reads API
Gateway's event, calls the one use case (``services/realtime/sessions.py``) and shapes the reply: the
connect handler's status is the handshake's (401 refuses it); messages are answered through the
push channel, not the return value.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chalice.app import Chalice, Response, WebsocketEvent

from chalicelib.api.http import json_response
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import NotFound, Unauthorized
from chalicelib.ports import StoreError

log = logging.getLogger("avatarflow.realtime")

realtime = ApiBlueprint(__name__)

LOCAL_STAGES = ("local", "test")


@realtime.route("/v1/realtime", methods=["GET"])
def realtime_info() -> Response:
    from chalicelib.schemas.realtime import RealtimeInfo

    settings = get_container().settings
    if settings.websocket_url:
        url = settings.websocket_url
    elif settings.stage in LOCAL_STAGES:
        # The embedded server listens beside the API: same host as this request, its own port.
        host = (realtime.current_request.headers.get("host") or settings.ws_host).rsplit(":", 1)[0]
        url = f"ws://{host}:{settings.ws_port}"
    else:
        raise NotFound("Real-time status is not configured here; poll GET /v1/generations/{id}.")
    return json_response(RealtimeInfo(url=url), headers={"Cache-Control": "public, max-age=300"})


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": {"code": code, "message": message}})
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def ws_connect(event: WebsocketEvent) -> Response:
    """``$connect``: credentials from the query string; a 401 refuses the connection."""
    raw: dict[str, Any] = event.to_dict()
    query = {str(k): str(v) for k, v in (raw.get("queryStringParameters") or {}).items()}
    # API Gateway's view of the caller, never a header the client wrote.
    source_ip = str(((raw.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown")
    try:
        get_container().realtime.sessions.connect(event.connection_id, query, source_ip)
    except Unauthorized as exc:
        return _error(401, exc.code, exc.message)
    except StoreError as exc:
        log.warning("state store unavailable at a WebSocket connect: %s", exc)
        return _error(503, "store_unavailable", "The service cannot accept connections right now.")
    return Response(body="", status_code=200)


def ws_message(event: WebsocketEvent) -> Response:
    """``$default``: one client frame; every answer goes out through the push channel."""
    raw: dict[str, Any] = event.to_dict()
    body = raw.get("body")
    if raw.get("isBase64Encoded") and isinstance(body, str):
        import base64
        import binascii

        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            body = b"\xff"  # not JSON either way: the use case answers invalid_request
    get_container().realtime.sessions.receive(
        event.connection_id, body if isinstance(body, str | bytes) else None
    )
    return Response(body="", status_code=200)


def ws_disconnect(event: WebsocketEvent) -> Response:
    """``$disconnect``: forget the connection's watches (their TTLs are the backstop)."""
    try:
        get_container().realtime.sessions.disconnect(event.connection_id)
    except StoreError as exc:
        log.warning("WebSocket disconnect not recorded: %s", exc)
    return Response(body="", status_code=200)


def register_websocket_handlers(app: Chalice) -> tuple[Any, Any, Any]:
    """Turn on Chalice's WebSocket support and register the three handlers on ``app``; returns
    the wrapped handlers, which ``app.py`` must keep under the same names (Lambda's handler
    strings are ``app.ws_connect``, ``app.ws_message``, ``app.ws_disconnect``)."""
    app.experimental_feature_flags.update(["WEBSOCKETS"])
    return (
        app.on_ws_connect()(ws_connect),
        app.on_ws_message()(ws_message),
        app.on_ws_disconnect()(ws_disconnect),
    )
