"""Pexels: stock portrait photos, re-hosted (the Pexels License allows it), credited.

``GET {base}/v1/search?query=&orientation=square|portrait&per_page=1..80&page=`` with the key in
``Authorization`` (no scheme). Answers carry ``X-Ratelimit-Limit``, ``X-Ratelimit-Remaining`` and
``X-Ratelimit-Reset`` (epoch seconds) for the account's quota (200 requests an hour and 20,000 a
month by default): a run stops when it is used up. Each photo is credited "Photo by
{photographer} on Pexels", linked to its page on Pexels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib.adapters.sources.base import HttpSource, clean_id, clean_tag, malformed
from chalicelib.ports import SourceItem

__all__ = ["PEXELS_ALLOWED_HOSTS", "PexelsSource"]

PEXELS_ALLOWED_HOSTS: tuple[str, ...] = ("images.pexels.com",)
DEFAULT_QUERIES: Mapping[str, str] = {"professional": "professional headshot portrait"}
_MAX_PER_PAGE = 80


class PexelsSource(HttpSource):
    name = "pexels"
    default_base_url = "https://api.pexels.com"
    allowed_hosts = PEXELS_ALLOWED_HOSTS

    def __init__(
        self,
        api_key: str,
        *,
        queries: Mapping[str, str] | None = None,
        orientation: str = "square",
        per_page: int = _MAX_PER_PAGE,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, **kwargs)
        if orientation not in ("square", "portrait"):
            raise ValueError("orientation must be square or portrait")
        self._queries = dict(queries or DEFAULT_QUERIES)
        self.styles = tuple(self._queries)
        self._orientation = orientation
        self._per_page = max(1, min(_MAX_PER_PAGE, per_page))

    def auth_headers_for(self, key: str) -> dict[str, str]:
        return {"Authorization": key}

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]:
        query = self._queries.get(style)
        if query is None or budget <= 0:
            return
        tags = tuple(dict.fromkeys(t for t in ("photo", *map(clean_tag, query.split())) if t))
        yield from self._pages(
            "/v1/search",
            {"query": query, "orientation": self._orientation, "per_page": self._per_page},
            cursor=cursor,
            list_key="photos",
            has_next=lambda payload, _page: bool(payload.get("next_page")),
            item=lambda raw, page: self._item(raw, style, tags, page),
        )

    def _item(self, raw: Any, style: str, tags: tuple[str, ...], page: int) -> SourceItem | None:
        if not isinstance(raw, dict):
            malformed(self.name, "not an object", raw)
            return None
        ident = clean_id(raw.get("id"))
        src = raw.get("src")
        if ident is None:
            malformed(self.name, "no id", raw)
            return None
        if not isinstance(src, dict):
            malformed(self.name, "no src", raw)
            return None
        url = next(
            (u for u in (src.get(k) for k in ("large2x", "large", "original")) if _https(u)),
            None,
        )
        if url is None:
            malformed(self.name, "no https image URL", raw)
            return None
        photographer = raw.get("photographer")
        name = photographer.strip()[:100] if isinstance(photographer, str) and photographer.strip() else None
        page_url = raw.get("url") if _https(raw.get("url")) else "https://www.pexels.com"
        return SourceItem(
            source=self.name,
            source_id=ident,
            style=style,
            tags=tags,
            license="Pexels License",
            attribution_name=f"Photo by {name} on Pexels" if name else "Photo on Pexels",
            attribution_url=str(page_url),
            image_url=str(url),
            cursor=str(page),
        )


def _https(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and len(value) < 2048
