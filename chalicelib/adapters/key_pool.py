"""A vendor's API keys as a pool: load spread over the healthy ones, a refused key retired, a
throttled key cooled down; used by every adapter that sends a key (:mod:`keyed_http`).

- ``FAL_KEY=key1,key2,key3`` (and the other vendors' key settings) is split by
  :func:`parse_key_pool` at start-up; a malformed pool (an empty entry, spaces inside a key, the
  same key twice) is a ``ValueError`` naming the setting, never a request's crash.
- :class:`PooledKeyAuth` is the ``httpx.Auth`` of the adapter's client: each request takes the
  next healthy key (round robin). A 401/403 retires that key (for ``retire_s``, an hour by default:
  an operator may fix it, and a retired key is tried again after that); a 429 cools it (for the
  answer's ``Retry-After``, else ``cooldown_s``); in both cases the same request is sent again at
  once with the next healthy key (it made no image: nothing is billed twice). Only when no key is
  left does the vendor's answer reach the adapter (a 401 when every key is retired, the last 429
  when every key is cooling) and the router's breaker learns of it: from then on the breaker
  decides whether the vendor is tried at all, and its trial call goes with the key that comes
  back first (a pool never refuses a call on its own).
- Keys never appear in logs, events or errors: only a :func:`fingerprint` (``sha256`` prefix).
- Each change of a key's state is a :class:`~chalicelib.domain.events.ProviderKeyChanged` event
  (``on_change``): bootstrap publishes it on the bus, whose handler raises the operator alert.

The pool's state is this process's (each Lambda container learns on its own, at the cost of one
refused call per key); the breakers in the store still carry what every container learnt about
the vendor as a whole.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import httpx

from chalicelib.domain.audit import fingerprint  # what logs and alerts may show of a key
from chalicelib.domain.events import ProviderKeyChanged

__all__ = ["KeyPool", "PooledKeyAuth", "fingerprint", "parse_key_pool"]

DEFAULT_COOLDOWN_S = 30.0
DEFAULT_RETIRE_S = 3600.0
MAX_KEYS = 32


def parse_key_pool(setting: str, raw: str) -> tuple[str, ...]:
    """The keys of ``raw`` (comma separated); ``ValueError`` naming ``setting`` if malformed.

    The message never quotes a key: it says which entry is wrong and why."""
    entries = [entry.strip() for entry in raw.split(",")]
    if not any(entries):
        raise ValueError(f"{setting} is set but holds no key")
    if len(entries) > MAX_KEYS:
        raise ValueError(f"{setting}: at most {MAX_KEYS} keys in a pool, got {len(entries)}")
    seen: set[str] = set()
    for number, entry in enumerate(entries, 1):
        if not entry:
            raise ValueError(f"{setting}: key {number} of {len(entries)} is empty (a stray comma?)")
        if any(ch.isspace() or not ch.isprintable() for ch in entry):
            raise ValueError(
                f"{setting}: key {number} of {len(entries)} contains spaces or control characters"
            )
        if entry in seen:
            raise ValueError(f"{setting}: key {number} of {len(entries)} repeats an earlier key")
        seen.add(entry)
    return tuple(entries)


@dataclass
class _KeyState:
    key: str
    fingerprint: str
    unusable_until: float = 0.0
    retired: bool = False


class KeyPool:
    """A vendor's keys and what this process knows of each (see the module doc)."""

    def __init__(
        self,
        vendor: str,
        keys: Sequence[str],
        *,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        retire_s: float = DEFAULT_RETIRE_S,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[ProviderKeyChanged], None] | None = None,
    ) -> None:
        if not keys or any(not key or not key.strip() for key in keys):
            raise ValueError(f"{vendor}: an API key is required")
        self.vendor = vendor
        self._keys = [_KeyState(key.strip(), fingerprint(key.strip())) for key in keys]
        self._cooldown_s = cooldown_s
        self._retire_s = retire_s
        self._clock = clock
        self._on_change = on_change
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyPool(vendor={self.vendor!r}, keys={[k.fingerprint for k in self._keys]!r})"

    def __len__(self) -> int:
        return len(self._keys)

    def secrets(self) -> tuple[str, ...]:
        """Every key, to scrub them out of vendor text (never to log)."""
        return tuple(state.key for state in self._keys)

    def healthy(self) -> list[str]:
        """Fingerprints of the keys usable now."""
        now = self._clock()
        with self._lock:
            return [s.fingerprint for s in self._keys if s.unusable_until <= now]

    def acquire(self) -> str:
        """The next usable key (round robin over the healthy ones); if none is, the one that
        comes back first (the router's breaker decided that the vendor is worth a call)."""
        now = self._clock()
        restored: list[_KeyState] = []
        with self._lock:
            usable = [s for s in self._keys if s.unusable_until <= now]
            for state in usable:
                if state.retired:  # its retirement has run out: give it another chance
                    state.retired = False
                    restored.append(state)
            if usable:
                chosen = usable[next(self._turn) % len(usable)]
            else:
                chosen = min(self._keys, key=lambda s: s.unusable_until)
        for state in restored:
            self._emit(state, "restored", None, 0.0)
        return chosen.key

    def report(self, key: str, status: int, retry_after: float | None = None) -> bool:
        """Learn from an answer sent with ``key``; True if the same request should go again with
        another key (the key was refused or throttled and another one is usable)."""
        if status in (401, 403):
            change, seconds = "retired", self._retire_s
        elif status == 429:
            change, seconds = "cooling", retry_after if retry_after and retry_after > 0 else self._cooldown_s
        else:
            return False
        now = self._clock()
        with self._lock:
            state = next((s for s in self._keys if s.key == key), None)
            if state is None:
                return False
            state.unusable_until = max(state.unusable_until, now + seconds)
            state.retired = state.retired or change == "retired"
            others = any(s.unusable_until <= now for s in self._keys if s is not state)
        self._emit(state, change, status, seconds)
        return others

    def _emit(self, state: _KeyState, change: str, status: int | None, seconds: float) -> None:
        if self._on_change is not None:
            self._on_change(
                ProviderKeyChanged(
                    self.vendor, state.fingerprint, change, status, seconds, len(self.healthy())
                )
            )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class PooledKeyAuth(httpx.Auth):
    """``httpx.Auth`` that signs each request with the pool's next key and, on a 401/403/429,
    sends it again with another (see the module doc). ``headers_for`` is the vendor's scheme."""

    def __init__(self, pool: KeyPool, headers_for: Callable[[str], dict[str, str]]) -> None:
        self._pool = pool
        self._headers_for = headers_for

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for _ in range(len(self._pool)):
            key = self._pool.acquire()
            request.headers.update(self._headers_for(key))
            response = yield request
            if not self._pool.report(key, response.status_code, _retry_after(response)):
                return
