"""The real-time status API's sessions: a connection is opened, sends watches, and closes.

The same use case serves API Gateway's WebSocket API (``api/realtime.py``, Chalice's websocket
handlers) and the local stage's embedded WebSocket server. Every answer goes out through the push
channel (API Gateway answers nothing itself on the ``$default`` route), as the protocol's messages
(``schemas/realtime.py``):

- ``connect``: the credentials of the query string (``token`` = a JWT, ``api_key``, or none:
  anonymous by source IP) are checked; bad ones raise :class:`Unauthorized` (a 401 at the
  handshake). The identity is kept with the connection for its lifetime (2 h at most).
- ``receive``: ``watch`` a generation or ``watch_batch`` a batch of the connection's owner, up to
  20 ids; the current state is sent at once, every change after that by ``services/realtime/push.py``.
  Anything else (malformed JSON, an unknown action, a frame over 8 KB, someone else's id, too many
  watches) gets an ``error`` message and the connection stays up.
- ``disconnect``: every watch of the connection is dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from pydantic import BaseModel

from chalicelib.domain.errors import (
    DomainError,
    InternalError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    StoreUnavailable,
    Unauthorized,
)
from chalicelib.domain.identity import Identity
from chalicelib.ports import (
    Connection,
    GenerationStore,
    PushChannel,
    StoreError,
    WatchOutcome,
    WatchRegistry,
)
from chalicelib.schemas.models import BatchStatus, ErrorBody
from chalicelib.schemas.realtime import (
    BatchMessage,
    ErrorMessage,
    GenerationMessage,
    WatchBatch,
    WatchGeneration,
)
from chalicelib.schemas.validation import validated
from chalicelib.services.access.identity import Authenticator
from chalicelib.services.generation.batches import STATUSES, BatchService
from chalicelib.services.generation.views import GenerationView
from chalicelib.services.realtime.push import send_or_forget

log = logging.getLogger(__name__)
MESSAGE_INVALID = "The message is not valid."

MAX_FRAME_BYTES = 8 * 1024
MAX_WATCHES = 20
CONNECTION_TTL_S = 2 * 3600  # API Gateway closes every WebSocket connection after 2 h
MAX_ID_CHARS = 64


class RealtimeSessions:
    """Connections of the real-time API and the watches they send (see the module docstring)."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        watches: WatchRegistry,
        push: PushChannel,
        generations: GenerationStore,
        batches: BatchService,
        view: GenerationView,
        max_watches: int = MAX_WATCHES,
    ) -> None:
        self._authenticator = authenticator
        self._watches = watches
        self._push = push
        self._generations = generations
        self._batches = batches
        self._view = view
        self._max_watches = max_watches

    def connect(self, connection_id: str, query: Mapping[str, str], source_ip: str) -> Identity:
        """Authenticate a new connection and remember who it is. Raises ``Unauthorized`` (refuse
        the handshake) and ``StoreError``."""
        headers: dict[str, str] = {}
        token, api_key = query.get("token"), query.get("api_key")
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        elif api_key is not None:
            headers["x-api-key"] = api_key
        identity = self._authenticator.authenticate(headers, source_ip)
        self._watches.connect(
            Connection(connection_id, identity.kind, identity.subject, identity.tier), CONNECTION_TTL_S
        )
        return identity

    def receive(self, connection_id: str, body: str | bytes | None) -> None:
        """Act on one client frame; every failure is an ``error`` message, never an exception."""
        try:
            self._handle(connection_id, body)
        except DomainError as exc:
            self._error(connection_id, exc)
        except StoreError as exc:
            log.warning("state store unavailable for a WebSocket message: %s", exc)
            self._error(
                connection_id, StoreUnavailable("The service cannot read that right now; retry shortly.")
            )
        except Exception:
            log.exception("WebSocket message failed")
            self._error(connection_id, InternalError("Something went wrong on our side."))

    def disconnect(self, connection_id: str) -> None:
        """Drop the connection's watches (raises ``StoreError``; their TTLs are the backstop)."""
        self._watches.forget(connection_id)

    # -- actions -------------------------------------------------------------------------------
    def _handle(self, connection_id: str, body: str | bytes | None) -> None:
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if len(raw) > MAX_FRAME_BYTES:
            raise PayloadTooLarge(f"A message is at most {MAX_FRAME_BYTES} bytes.")
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, RecursionError, ValueError):
            raise InvalidRequest("The message is not valid JSON.") from None
        if not isinstance(doc, dict):
            raise InvalidRequest("The message must be a JSON object with an action.")
        action = doc.get("action")
        if action == "watch":
            self._watch(connection_id, validated(WatchGeneration, doc, MESSAGE_INVALID).generation_id)
        elif action == "watch_batch":
            self._watch_batch(connection_id, validated(WatchBatch, doc, MESSAGE_INVALID).batch_id)
        else:
            raise InvalidRequest("Unknown action: send watch or watch_batch.")

    def _watch(self, connection_id: str, generation_id: str) -> None:
        if not (generation_id.startswith("gen_") and len(generation_id) <= MAX_ID_CHARS):
            raise NotFound("No such generation.")
        result = self._watches.watch_generation(
            connection_id, generation_id, limit=self._max_watches, ttl_s=CONNECTION_TTL_S
        )
        self._check(result.outcome, "No such generation.")
        assert result.generation is not None  # noqa: S101 - "ok" carries it
        self._send(connection_id, GenerationMessage(generation=self._view.render(result.generation)))

    def _watch_batch(self, connection_id: str, batch_id: str) -> None:
        connection = self._watches.connection(connection_id)
        if connection is None:
            self._check("unknown_connection", "")
        assert connection is not None  # noqa: S101 - _check raised
        status = self._batches.get(connection.identity, batch_id)  # NotFound unless the owner's
        self._check(
            self._watches.watch_topic(
                connection_id, batch_id, limit=self._max_watches, ttl_s=CONNECTION_TTL_S
            ),
            "No such batch.",
        )
        # Read after the watch is registered: a change from here on is pushed as well.
        counts = dict.fromkeys(STATUSES, 0)
        for generation_id in status.generation_ids:
            generation = self._generations.get(generation_id)
            if generation is None:
                continue
            counts[generation.status] = counts.get(generation.status, 0) + 1
            self._send(connection_id, GenerationMessage(generation=self._view.render(generation)))
        if counts["queued"] == counts["running"] == 0:
            batch = BatchStatus(id=batch_id, counts=counts, generation_ids=status.generation_ids)
            self._send(connection_id, BatchMessage(batch=batch))

    def _check(self, outcome: WatchOutcome, not_found: str) -> None:
        if outcome == "unknown_connection":
            raise Unauthorized("This connection is no longer known; connect again.")
        if outcome == "not_found":
            raise NotFound(not_found)
        if outcome == "too_many":
            raise InvalidRequest(f"A connection watches at most {self._max_watches} ids.")

    # -- sending -------------------------------------------------------------------------------
    def _error(self, connection_id: str, error: DomainError) -> None:
        body = ErrorBody(code=error.code, message=error.message, details=error.details or None)
        # The contract's error shape: "details" only where there are some.
        self._send(connection_id, ErrorMessage(error=body).model_dump_json(exclude_none=True))

    def _send(self, connection_id: str, message: BaseModel | str) -> None:
        text = message if isinstance(message, str) else message.model_dump_json()
        send_or_forget(self._push, self._watches, connection_id, text)
