"""Generated Photos: faces of people who do not exist, re-hosted, credited.

``GET {base}/api/v1/faces?per_page=1..100&order_by=random`` (+ ``gender``, ``age``, ``emotion``
filters) with ``Authorization: API-Key <key>``. The answer is ``{"faces": [...], "total": n}``;
each face has an ``id``, a ``meta`` of attribute lists (``gender``, ``age``, ``emotion``,
``hair_color``, ...) that become tags, and ``urls``: a list of one-key objects by size,
``[{"32": url}, {"64": url}, {"128": url}, {"256": url}, {"512": url}]``, served from
``images.generated.photos``. The largest size up to 1024 is re-hosted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from chalicelib.adapters.sources.base import HttpSource, clean_id, clean_tag, malformed
from chalicelib.ports import SourceItem

__all__ = ["GENERATED_PHOTOS_ALLOWED_HOSTS", "GeneratedPhotosSource"]

GENERATED_PHOTOS_ALLOWED_HOSTS: tuple[str, ...] = ("images.generated.photos",)
# Attributes that become tags. Ethnicity is left out on purpose: a public, filterable tag of
# a face's presumed ethnicity is not something the gallery should offer.
META_TAGS: tuple[str, ...] = ("gender", "age", "emotion", "hair_color", "hair_length", "eye_color")
DEFAULT_FILTERS: tuple[Mapping[str, str], ...] = ({"emotion": "joy"}, {"emotion": "neutral"})
_MAX_PER_PAGE = 100
_MIN_SIDE = 256
_MAX_SIDE = 1024


class GeneratedPhotosSource(HttpSource):
    name = "generated_photos"
    default_base_url = "https://api.generated.photos"
    allowed_hosts = GENERATED_PHOTOS_ALLOWED_HOSTS

    def __init__(
        self,
        api_key: str,
        *,
        styles: Sequence[str] = ("professional",),
        filters: Sequence[Mapping[str, str]] = DEFAULT_FILTERS,
        per_page: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, **kwargs)
        self.styles = tuple(styles)
        self._filters = tuple(dict(f) for f in filters) or ({},)
        self._per_page = max(1, min(_MAX_PER_PAGE, per_page))

    def auth_headers_for(self, key: str) -> dict[str, str]:
        return {"Authorization": f"API-Key {key}"}

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]:
        """Random faces (so no cursor: every page is a fresh draw; known ids are skipped)."""
        if style not in self.styles or budget <= 0:
            return
        for n in range(self.max_pages):
            params: dict[str, str | int] = {
                "per_page": min(self._per_page, max(budget, 10)),
                "order_by": "random",
                **self._filters[n % len(self._filters)],
            }
            _, faces = self._get_list("/api/v1/faces", params, "faces")
            if not faces:
                return
            for raw in faces:
                item = self._item(raw, style)
                if item is not None:
                    yield item

    def _item(self, raw: Any, style: str) -> SourceItem | None:
        if not isinstance(raw, dict):
            malformed(self.name, "not an object", raw)
            return None
        ident = clean_id(raw.get("id"))
        if ident is None:
            malformed(self.name, "no id", raw)
            return None
        url = _largest(raw.get("urls"))
        if url is None:
            malformed(self.name, "no usable image URL", raw)
            return None
        tags = ["photo", "ai-generated"]
        meta = raw.get("meta")
        if isinstance(meta, dict):
            for key in META_TAGS:
                values = meta.get(key)
                for value in values if isinstance(values, list) else [values]:
                    tag = clean_tag(value)
                    if tag and tag not in tags:
                        tags.append(tag)
        return SourceItem(
            source=self.name,
            source_id=ident,
            style=style,
            tags=tuple(tags[:12]),
            license="Generated Photos License",
            attribution_name="Photo by Generated Photos",
            attribution_url="https://generated.photos",
            image_url=url,
        )


def _largest(urls: Any) -> str | None:
    """The URL of the largest size from 256 to 1024 in ``[{"64": url}, {"128": url}, ...]``."""
    if not isinstance(urls, list):
        return None
    best: tuple[int, str] | None = None
    for entry in urls:
        if not isinstance(entry, dict):
            continue
        for size, url in entry.items():
            if not (isinstance(size, str) and size.isdigit() and isinstance(url, str)):
                continue
            side = int(size)
            if (
                _MIN_SIDE <= side <= _MAX_SIDE
                and url.startswith("https://")
                and (best is None or side > best[0])
            ):
                best = (side, url)
    return best[1] if best else None
