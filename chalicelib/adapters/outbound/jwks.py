"""RS256 user tokens: the signing keys of an identity provider, from its JWKS URL.

The key set is fetched with httpx (explicit timeout, ``transport=`` for tests), kept in memory
for ``ttl`` seconds, and fetched again at most once per ``refetch_interval`` when a token names a
``kid`` the cached set lacks (a rotated key), so that tokens with made-up kids cannot turn the
service into a JWKS fetching loop. A fetch that fails keeps serving the last good set.
Only RSA signing keys are taken (``kty: RSA``, ``use`` absent or ``sig``, ``alg`` absent or RS256).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

__all__ = ["DEFAULT_TIMEOUT", "JwksCache", "JwksUnavailable"]

log = logging.getLogger("avatarflow.auth")

DEFAULT_TIMEOUT = httpx.Timeout(connect=2.0, read=3.0, write=2.0, pool=1.0)
MAX_JWKS_BYTES = 256 * 1024
MAX_KEYS = 50


class JwksUnavailable(Exception):
    """The key set could not be fetched and nothing usable is cached."""


class JwksCache:
    """The RSA signing keys of one JWKS URL, by ``kid``."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 600.0,
        refetch_interval: float = 30.0,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl
        self._refetch_interval = refetch_interval
        self._timeout = timeout
        self._transport = transport
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch attempt, successful or not
        self._lock = threading.Lock()
        self.fetches = 0  # how many HTTP fetches were made (observability and tests)

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The signing key named ``kid``, fetching the set when stale or when ``kid`` is new.

        Fetches are at most one per ``refetch_interval`` whatever the reason (a stale set, an
        unknown kid, a failed fetch), so bad tokens or a JWKS outage cannot cause a fetch storm.
        """
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
            due = self._attempted_at is None or now - self._attempted_at >= self._refetch_interval
            if (stale or kid not in self._keys) and due:
                self._attempted_at = now
                try:
                    self._keys = self._fetch()
                    self._fetched_at = now
                except JwksUnavailable as exc:
                    # Keep serving the last good set: keys rotate rarely, outages end.
                    log.warning("JWKS fetch failed: %s", exc)
            return self._keys.get(kid)

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        self.fetches += 1
        try:
            with (
                httpx.Client(
                    timeout=self._timeout, transport=self._transport, follow_redirects=False
                ) as client,
                client.stream("GET", self._url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise JwksUnavailable(f"JWKS answered HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksUnavailable("JWKS document is too large")
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"JWKS unreachable ({type(exc).__name__})") from None
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise JwksUnavailable("JWKS document is not JSON") from None
        return _signing_keys(document)


def _signing_keys(document: Any) -> dict[str, jwt.PyJWK]:
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise JwksUnavailable("JWKS document has no 'keys' list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries[:MAX_KEYS]:
        if not isinstance(entry, Mapping):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
            continue
        try:
            keys[kid] = jwt.PyJWK(dict(entry), algorithm="RS256")
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("JWKS key %s is unusable; skipped", kid[:64])
    return keys
