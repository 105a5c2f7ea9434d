"""A boto3 client made on first use, with bounded timeouts and retries (SQS lanes, API Gateway's
management API): importing boto3 is a large share of a cold start, which only the code path that
calls AWS should pay; a test passes its own (stubbed) client instead."""

from __future__ import annotations

import threading
from typing import Any


class LazyAwsClient:
    """``get()`` builds the client once, thread-safely; ``retries`` counts every attempt in all."""

    def __init__(
        self,
        service: str,
        *,
        region: str | None,
        endpoint_url: str | None = None,
        connect_timeout: float,
        read_timeout: float,
        max_attempts: int,
        client: Any = None,
    ) -> None:
        self._service = service
        self._region = region
        self._endpoint_url = endpoint_url
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_attempts = max(1, max_attempts)
        self._client = client
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.client(
                        self._service,
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=Config(
                            connect_timeout=self._connect_timeout,
                            read_timeout=self._read_timeout,
                            retries={"total_max_attempts": self._max_attempts, "mode": "standard"},
                        ),
                    )
        return self._client
