"""What the HTTP gallery sources share: one client each, typed errors, and their rate limits.

Every source keeps to the limits its API announces: it reads the quota headers after each
answer and stops asking once nothing is left (raising :class:`SourceRateLimited` with the reset
time, which the refresh job keeps until then), and a 429 ends its run at once. Each fetch is
also capped at a few pages, so one run never spends more than a small part of a quota.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from chalicelib.adapters.keyed_http import KeyedHttpClient
from chalicelib.adapters.providers.answers import parse_retry_after
from chalicelib.ports import SourceAuthError, SourceError, SourceItem, SourceRateLimited, SourceUnavailable

__all__ = ["DEFAULT_COOLDOWN_S", "HttpSource", "clean_id", "clean_tag", "malformed", "page_cursor"]

log = logging.getLogger("chalicelib.adapters.sources")

DEFAULT_COOLDOWN_S = 3600.0  # a 429 or an empty quota without a reset header: wait an hour
_EPOCH_FLOOR = 1_000_000_000  # a reset header above this is a date, below it a duration
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")
_TAG = re.compile(r"[^a-z0-9-]+")

Clock = Callable[[], float]


def clean_id(value: Any) -> str | None:
    """A vendor id made safe for a gallery id and a URL path, or None if there is none."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = _SAFE_ID.sub("-", str(value)).strip("-")
    return text[:80] or None


def clean_tag(value: Any) -> str | None:
    """A short lower-case tag (letters, digits, hyphens), or None."""
    if not isinstance(value, str):
        return None
    text = _TAG.sub("-", value.strip().lower()).strip("-")
    return text[:32] or None


def page_cursor(cursor: str | None) -> int:
    """The page a cursor names (1 when absent or unreadable)."""
    try:
        page = int(cursor) if cursor else 1
    except ValueError:
        page = 1
    return page if 1 <= page <= 10_000 else 1


def malformed(source: str, reason: str, raw: Any) -> None:
    """One log line for a skipped item: never the whole item (it may be large)."""
    ident = raw.get("id") if isinstance(raw, dict) else None
    log.warning(
        "%s: skipped a malformed item (%s)",
        source,
        reason,
        extra={"source": source, "item_id": str(ident)[:80] if ident is not None else None},
    )


class HttpSource(KeyedHttpClient):
    """Base of the HTTP sources: a pooled client with an explicit timeout and typed errors."""

    default_read_timeout = 15.0
    scrub_limit = 200
    extra_headers: Mapping[str, str] = {"Accept": "application/json"}
    default_base_url: str = ""
    styles: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_pages: int = 3  # per fetch call: a run spends a few requests per style, not a quota

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        per_run: int = 40,
        max_pages: int | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(api_key, timeout=timeout, transport=transport)
        self._base = (base_url or self.default_base_url).rstrip("/")
        self.per_run = per_run
        if max_pages is not None:
            self.max_pages = max_pages
        self._clock = clock
        self._exhausted_until: float | None = None
        self.requests = 0  # requests made by this instance (for reports and tests)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base!r})"

    # -- subclass hooks (and auth_headers_for(), which every source overrides) -------------------

    def quota_after(self, headers: httpx.Headers) -> None:
        """Read the quota headers of an answer; sets the exhaustion time when none is left."""
        remaining = _int_header(headers, "x-ratelimit-remaining")
        if remaining is not None and remaining <= 0:
            self._exhausted_until = self.reset_at(headers) or self._clock() + DEFAULT_COOLDOWN_S

    def reset_at(self, headers: httpx.Headers) -> float | None:
        """When the quota comes back, from ``X-Ratelimit-Reset`` (epoch seconds, or seconds from
        now when the number is too small to be a date); None if the answer does not say."""
        reset = _int_header(headers, "x-ratelimit-reset")
        if reset is None or reset <= 0:
            return None
        now = self._clock()
        return float(reset) if reset > _EPOCH_FLOOR else now + reset

    # -- HTTP (the client, close() and _scrub() are KeyedHttpClient's) ------------------------

    def get_json(self, path_or_url: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET and decode JSON, within the quota; raises :class:`SourceError` subclasses."""
        now = self._clock()
        if self._exhausted_until is not None:
            if now < self._exhausted_until:
                raise SourceRateLimited(
                    f"{self.name}: the request quota is used up", retry_at=self._exhausted_until
                )
            self._exhausted_until = None
        url = path_or_url if path_or_url.startswith("https://") else f"{self._base}{path_or_url}"
        self.requests += 1
        try:
            response = self.client.get(url, params=dict(params or {}))
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(f"{self.name}: timed out ({type(exc).__name__})") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: a misconfigured base URL
            raise SourceUnavailable(f"{self.name}: transport error ({type(exc).__name__})") from None
        self.quota_after(response.headers)
        status = response.status_code
        if status == 429:
            raise SourceRateLimited(f"{self.name}: HTTP 429", retry_at=self._retry_at(response))
        if status in (401, 403):
            raise SourceAuthError(f"{self.name}: HTTP {status}: the key was refused")
        if status >= 500 or status in (408, 425):
            raise SourceUnavailable(f"{self.name}: HTTP {status}")
        if not response.is_success:
            raise SourceError(f"{self.name}: HTTP {status}: {self._scrub(response.text)}")
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable(f"{self.name}: the answer was not JSON") from None

    def _get_list(
        self, path: str, params: Mapping[str, str | int], list_key: str
    ) -> tuple[dict[str, Any], list[Any]]:
        """GET a page and the list under ``list_key``; :class:`SourceUnavailable` if it has none."""
        payload = self.get_json(path, params)
        items = payload.get(list_key) if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise SourceUnavailable(f"{self.name}: unexpected answer (no {list_key} list)")
        return payload, items

    def _pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        *,
        cursor: str | None,
        list_key: str,
        has_next: Callable[[dict[str, Any], int], bool],
        item: Callable[[Any, int], SourceItem | None],
    ) -> Iterator[SourceItem]:
        """The items (``item(raw, page)``, None skipped) of up to :attr:`max_pages` numbered pages.

        A page goes on to the next while ``has_next(payload, page)``; at the end of the results
        it wraps to page 1 once (new photos appear at the front), then stops.
        """
        page = page_cursor(cursor)
        wrapped = page == 1
        for _ in range(self.max_pages):
            payload, raws = self._get_list(path, {**params, "page": page}, list_key)
            for raw in raws:
                built = item(raw, page)
                if built is not None:
                    yield built
            if raws and has_next(payload, page):
                page += 1
            elif not wrapped:
                page, wrapped = 1, True
            else:
                return

    def _retry_at(self, response: httpx.Response) -> float:
        now = self._clock()
        reset = self.reset_at(response.headers)
        if reset is not None and reset > now:
            return reset
        after = parse_retry_after(response.headers)
        if after is not None:
            return now + after
        return self._exhausted_until or now + DEFAULT_COOLDOWN_S


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    raw = (headers.get(name) or "").strip()
    try:
        return int(float(raw)) if raw else None
    except ValueError:
        return None
