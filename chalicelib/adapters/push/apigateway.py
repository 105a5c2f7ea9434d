"""The production push channel: API Gateway's WebSocket management API (``post_to_connection``).

Any Lambda can push to any connection of the WebSocket API through
``https://{api-id}.execute-api.{region}.amazonaws.com/{stage}/@connections/{id}``: the lane that
finishes a job, the webhook that reports progress, the message handler answering a watch.

boto3 is imported lazily (cold start), and the client has explicit timeouts and a bounded number
of attempts: a push is never worth holding a job for the SDK's default minute. A 410
(``GoneException``) is :class:`ConnectionGone`: the caller forgets the connection. Every other
failure is :class:`PushError`, without the SDK's exception chained (nothing of the request leaks
into a log line).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from chalicelib.adapters.aws import LazyAwsClient
from chalicelib.ports import ConnectionGone, PushError

log = logging.getLogger(__name__)

_REGION_IN_URL = re.compile(r"^https://[^./]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/", re.I)
GONE_CODES = frozenset({"GoneException"})


def region_of(endpoint_url: str) -> str | None:
    """The AWS region named in a WebSocket API endpoint (``https://{id}.execute-api.{region}...``)."""
    match = _REGION_IN_URL.match(endpoint_url)
    return match.group(1) if match else None


def management_endpoint(websocket_url: str) -> str:
    """The management API's endpoint for a WebSocket API's URL (``wss://…`` → ``https://…``)."""
    url = websocket_url.strip().rstrip("/")
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url


class ApiGatewayPush:
    """:class:`chalicelib.ports.PushChannel` on API Gateway's management API."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        region_name: str | None = None,
        client: Any = None,
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        max_attempts: int = 2,
    ) -> None:
        if not endpoint_url.startswith(("https://", "http://")):
            raise ValueError("the WebSocket management endpoint must be a full http(s) URL")
        self._endpoint = endpoint_url.rstrip("/")
        # Throttling and 5xx are retried once; a 410 never is.
        self._aws = LazyAwsClient(
            "apigatewaymanagementapi",
            region=region_name or region_of(self._endpoint + "/"),
            endpoint_url=self._endpoint,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            client=client,
        )

    def __repr__(self) -> str:
        return f"ApiGatewayPush(endpoint={self._endpoint!r})"

    @property
    def client(self) -> Any:
        return self._aws.get()

    def send(self, connection_id: str, message: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        failure: PushError | None = None
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=message.encode())
        except ClientError as exc:
            failure = _client_error(connection_id, exc)
        except BotoCoreError as exc:  # timeouts, connection errors: retried already, within bounds
            failure = PushError(f"push failed: {type(exc).__name__}")
        if failure is not None:
            raise failure  # outside the handler: no chained SDK error

    def close(self, connection_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except (BotoCoreError, ClientError):
            log.debug("could not close a WebSocket connection", exc_info=True)


def _client_error(connection_id: str, exc: Any) -> PushError:
    error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
    status = (
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(exc.response, dict)
        else None
    )
    code = str(error.get("Code") or "")
    if code in GONE_CODES or status == 410:
        return ConnectionGone(connection_id)
    return PushError(f"push failed: {code or 'HTTP ' + str(status)}")
