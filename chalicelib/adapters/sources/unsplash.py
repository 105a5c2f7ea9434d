"""Unsplash: portrait photos that are HOTLINKED, never re-hosted, as the API guidelines require.

``GET {base}/search/photos?query=&orientation=squarish|portrait&per_page=1..30&page=`` with
``Authorization: Client-ID <access key>`` and ``Accept-Version: v1``. The answer is
``{"total", "total_pages", "results": [...]}``; each photo's ``urls.raw`` is the imgix base URL
that the gallery serves as is, with ``w``, ``h``, ``fit=crop`` and ``crop=faces`` per size. The
photographer and Unsplash are credited with UTM parameters. When a user picks a photo as their
avatar, its ``links.download_location`` must be called (:class:`UnsplashDownloadTracker`).
Quota: ``X-Ratelimit-Remaining`` per hour (50 for a demo app), without a reset header.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from chalicelib.adapters.keyed_http import USER_AGENT, Secret, make_timeout
from chalicelib.adapters.providers.answers import same_origin
from chalicelib.adapters.sources.base import HttpSource, clean_id, clean_tag, malformed
from chalicelib.domain.gallery import GalleryEntry
from chalicelib.ports import SourceItem

__all__ = ["UNSPLASH_IMAGE_HOSTS", "UnsplashDownloadTracker", "UnsplashSource", "hotlink_urls"]

log = logging.getLogger("chalicelib.adapters.sources.unsplash")

UNSPLASH_IMAGE_HOSTS: tuple[str, ...] = ("images.unsplash.com",)
DEFAULT_QUERIES: Mapping[str, str] = {"professional": "portrait headshot"}
SIZES: tuple[int, ...] = (128, 256, 512)
_MAX_PER_PAGE = 30


def hotlink_urls(raw_url: str, sizes: tuple[int, ...] = SIZES) -> dict[str, str]:
    """One imgix URL per size, square and cropped around the face."""
    joiner = "&" if "?" in raw_url else "?"
    return {str(s): f"{raw_url}{joiner}w={s}&h={s}&fit=crop&crop=faces" for s in sizes}


class UnsplashSource(HttpSource):
    name = "unsplash"
    default_base_url = "https://api.unsplash.com"
    allowed_hosts: tuple[str, ...] = ()  # nothing is downloaded: every image is hotlinked

    def __init__(
        self,
        access_key: str,
        *,
        app_name: str = "avatarflow",
        queries: Mapping[str, str] | None = None,
        orientation: str = "squarish",
        per_page: int = _MAX_PER_PAGE,
        **kwargs: Any,
    ) -> None:
        super().__init__(access_key, **kwargs)
        if orientation not in ("squarish", "portrait"):
            raise ValueError("orientation must be squarish or portrait")
        self._queries = dict(queries or DEFAULT_QUERIES)
        self.styles = tuple(self._queries)
        self._orientation = orientation
        self._per_page = max(1, min(_MAX_PER_PAGE, per_page))
        self._utm = f"utm_source={quote(app_name, safe='')}&utm_medium=referral"

    def auth_headers_for(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Client-ID {key}", "Accept-Version": "v1"}

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]:
        query = self._queries.get(style)
        if query is None or budget <= 0:
            return
        tags = tuple(dict.fromkeys(t for t in ("photo", *map(clean_tag, query.split())) if t))
        yield from self._pages(
            "/search/photos",
            {"query": query, "orientation": self._orientation, "per_page": self._per_page},
            cursor=cursor,
            list_key="results",
            has_next=_before_last_page,
            item=lambda raw, page: self._item(raw, style, tags, page),
        )

    def _item(self, raw: Any, style: str, tags: tuple[str, ...], page: int) -> SourceItem | None:
        if not isinstance(raw, dict):
            malformed(self.name, "not an object", raw)
            return None
        ident = clean_id(raw.get("id"))
        urls, links, user = raw.get("urls"), raw.get("links"), raw.get("user")
        if ident is None:
            malformed(self.name, "no id", raw)
            return None
        raw_url = urls.get("raw") if isinstance(urls, dict) else None
        if not (isinstance(raw_url, str) and raw_url.startswith("https://images.unsplash.com/")):
            malformed(self.name, "no urls.raw on images.unsplash.com", raw)
            return None
        download = links.get("download_location") if isinstance(links, dict) else None
        if not (isinstance(download, str) and download.startswith("https://")):
            malformed(self.name, "no links.download_location", raw)
            return None
        if not isinstance(user, dict) or not isinstance(user.get("name"), str) or not user["name"].strip():
            malformed(self.name, "no photographer", raw)
            return None
        user_links = user.get("links")
        profile = user_links.get("html") if isinstance(user_links, dict) else None
        if not (isinstance(profile, str) and profile.startswith("https://unsplash.com/")):
            username = user.get("username")
            profile = (
                f"https://unsplash.com/@{quote(username, safe='')}" if isinstance(username, str) else None
            )
        extra = [clean_tag(t.get("title")) for t in raw.get("tags") or [] if isinstance(t, dict)]
        return SourceItem(
            source=self.name,
            source_id=ident,
            style=style,
            tags=tuple(dict.fromkeys(t for t in (*tags, *extra) if t))[:12],
            license="Unsplash License",
            attribution_name=f"Photo by {user['name'].strip()[:100]} on Unsplash",
            attribution_url=f"{profile or 'https://unsplash.com/'}?{self._utm}",
            external_urls=hotlink_urls(raw_url),
            download_location=download,
            cursor=str(page),
        )


def _before_last_page(payload: dict[str, Any], page: int) -> bool:
    total_pages = payload.get("total_pages")
    return isinstance(total_pages, int) and page < total_pages


class UnsplashDownloadTracker:
    """Calls a photo's ``download_location`` when a user picks it (Unsplash's API guidelines).

    Fire and forget: a daemon thread with a short timeout, so that choosing an avatar never
    waits on, or fails because of, Unsplash. Only URLs on the configured API origin are called
    (the access key is never sent anywhere else).
    """

    def __init__(
        self,
        access_key: str,
        *,
        base_url: str = UnsplashSource.default_base_url,
        timeout: float = 3.0,
        transport: httpx.BaseTransport | None = None,
        background: bool = True,
    ) -> None:
        self._secret = Secret(access_key.strip())
        self._base = base_url.rstrip("/")
        self._timeout = make_timeout(timeout, connect=min(2.0, timeout), write=timeout)
        self._transport = transport
        self._background = background
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __call__(self, entry: GalleryEntry) -> None:
        if entry.source != "unsplash" or not entry.download_location:
            return
        if not same_origin(entry.download_location, self._base):
            log.warning("unsplash: download_location is not on the API origin; not called")
            return
        if not self._background:
            self._track(entry.download_location)
            return
        thread = threading.Thread(target=self._track, args=(entry.download_location,), daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float = 5.0) -> None:
        """Wait for the calls in flight (tests, and a Lambda about to return)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def _track(self, url: str) -> None:
        try:
            with httpx.Client(
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
                headers={
                    "Authorization": f"Client-ID {self._secret.reveal()}",
                    "Accept-Version": "v1",
                    "User-Agent": USER_AGENT,
                },
            ) as client:
                response = client.get(url)
            if not response.is_success:
                log.warning("unsplash: download tracking answered HTTP %d", response.status_code)
        except Exception as exc:  # never fails the request that chose the avatar
            log.warning("unsplash: download tracking failed (%s)", type(exc).__name__)
