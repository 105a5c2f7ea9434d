"""Gallery sources: candidate items for a style (stock photo APIs, batch AI, procedural)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SourceItem:
    """One candidate gallery item as a source offers it, before it is re-hosted or listed.

    Exactly one of ``image_url`` (re-hosted: fetched through the SSRF-safe fetch, processed and
    stored under ``gallery/``), ``external_urls`` (hotlinked, never re-hosted: one URL per size),
    ``render`` (made in-process: returns bytes or a PIL image) or ``stored_keys`` (renditions
    already in the object store, e.g. a finished generation's ``img/`` keys per size: copied byte
    for byte under ``gallery/``) says where the picture is.
    ``cursor`` is the source's token to resume at this item's page in a later run.
    """

    source: str  # "pexels" | "generated_photos" | "unsplash" | "ai" | "procedural"
    source_id: str  # stable within the source: the refresh dedups on it
    style: str
    tags: tuple[str, ...]
    license: str
    attribution_name: str | None = None
    attribution_url: str | None = None
    image_url: str | None = None
    external_urls: Mapping[str, str] | None = None
    render: Callable[[], Any] | None = None
    download_location: str | None = None
    cursor: str | None = None
    stored_keys: Mapping[str, str] | None = None


class GallerySource(Protocol):
    """Offers candidate gallery items for a style, within its own rate limits.

    ``fetch`` yields at most about ``budget`` items per call (the caller may stop early), skips
    malformed items with a log line, and raises :class:`SourceError` subclasses: a
    :class:`SourceRateLimited` ends this source's run until ``retry_at``.
    """

    name: str
    styles: tuple[str, ...]  # the styles this source can fill
    per_run: int  # new items per style and run that its limits allow
    allowed_hosts: tuple[str, ...]  # where its re-hosted images may be downloaded from

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]: ...


class SourceError(Exception):
    """A gallery source failed; ``retry_at`` (epoch seconds) says when to ask it again, if known."""

    def __init__(self, message: str, *, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class SourceRateLimited(SourceError):
    """HTTP 429 or the quota headers say nothing is left: stop this source until ``retry_at``."""


class SourceAuthError(SourceError):
    """The key is wrong or revoked: every call would fail the same way."""


class SourceUnavailable(SourceError):
    """Timeout, 5xx, an answer that is not JSON: try again in a later run."""
