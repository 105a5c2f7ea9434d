"""What every adapter that calls a vendor API with a key shares: its keys and one pooled client.

The keys live in a :class:`chalicelib.adapters.key_pool.KeyPool` (a single key is a pool of one)
and reach the wire only through the client's ``auth`` (:class:`PooledKeyAuth`: the next healthy
key per request, another one after a 401/403/429). The client is built on first use, reused across
calls and threads, has an explicit timeout and never follows redirects (that would replay the key
elsewhere). :meth:`KeyedHttpClient._scrub` takes every key out of any text bound for an error message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import httpx

from chalicelib.adapters.key_pool import KeyPool, PooledKeyAuth

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "USER_AGENT", "KeyedHttpClient", "Secret", "make_timeout"]

USER_AGENT = "avatarflow/1.0"
DEFAULT_CONNECT_TIMEOUT = 3.0


def make_timeout(
    read: float, *, connect: float = DEFAULT_CONNECT_TIMEOUT, write: float = 10.0, pool: float = 5.0
) -> httpx.Timeout:
    """An explicit timeout: a short connect, a per-provider read."""
    return httpx.Timeout(connect=connect, read=read, write=write, pool=pool)


class Secret:
    """A string that does not show itself in reprs, logs or error messages."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


class KeyedHttpClient:
    """An API key and the lazily built, lock-guarded :class:`httpx.Client` that sends it.

    Subclasses set :attr:`name`, :attr:`default_read_timeout` and :attr:`scrub_limit`, override
    :meth:`auth_headers_for` for the vendor's scheme and add fixed headers in :attr:`extra_headers`.
    """

    name: str = "http"
    default_read_timeout: float = 60.0
    scrub_limit: int = 300  # characters of vendor text kept in an error message
    extra_headers: Mapping[str, str] = {}

    def __init__(
        self,
        api_key: str | KeyPool,
        *,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if isinstance(api_key, KeyPool):
            self._keys = api_key
        else:
            if not api_key or not api_key.strip():
                raise ValueError(f"{self.name}: an API key is required")
            self._keys = KeyPool(self.name, [api_key.strip()])
        self._timeout = timeout or make_timeout(self.default_read_timeout)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def client_transport(self) -> httpx.BaseTransport | None:
        """The transport of the API client (None: httpx's default); the injected one by default."""
        return self._transport

    @property
    def keys(self) -> KeyPool:
        """The adapter's key pool (fingerprints and health; never logged with the keys)."""
        return self._keys

    def auth_headers_for(self, key: str) -> dict[str, str]:
        """The headers that carry ``key`` (``Authorization: Bearer <key>`` unless overridden)."""
        return {"Authorization": f"Bearer {key}"}

    @property
    def client(self) -> httpx.Client:
        """The adapter's client, built on first use and reused (connection pooling)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = httpx.Client(
                        timeout=self._timeout,
                        transport=self.client_transport(),
                        auth=PooledKeyAuth(self._keys, self.auth_headers_for),
                        headers={"User-Agent": USER_AGENT, **self.extra_headers},
                        follow_redirects=False,  # never replay the key to another host
                    )
        return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _scrub(self, text: str) -> str:
        """Collapse, shorten, and remove every key (and each part of an ``id:secret`` key)."""
        text = " ".join(text.split())
        for key in self._keys.secrets():
            for part in (key, *(p for p in key.split(":") if len(p) >= 8)):
                text = text.replace(part, "***")
        return text[: self.scrub_limit]
