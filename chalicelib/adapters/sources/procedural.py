"""The offline source: procedural avatars for every style, so a gallery exists with no key.

Its items are the ones :func:`procedural_entries` seeds an empty local gallery with (same ids,
same pictures), so a refresh after seeding adds nothing, and a refresh of an empty gallery seeds
it. Nothing is rendered until the refresh job asks for the picture (known ids cost nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chalicelib.domain.gallery import GalleryEntry
from chalicelib.domain.styles import STYLES, STYLES_BY_ID
from chalicelib.ports import ImagePipeline, ObjectStore, SourceItem

__all__ = ["ProceduralSource", "procedural_entries"]

GALLERY_SIZES = (128, 256, 512)


class ProceduralSource:
    name = "procedural"
    allowed_hosts: tuple[str, ...] = ()

    def __init__(self, per_style: int = 12) -> None:
        self.per_run = max(0, per_style)
        self.styles = tuple(s.id for s in STYLES)

    def fetch(self, style: str, budget: int, cursor: str | None = None) -> Iterator[SourceItem]:
        look = STYLES_BY_ID.get(style)
        if look is None or budget <= 0:
            return
        for n in range(self.per_run):
            yield SourceItem(
                source=self.name,
                source_id=f"{style}-{n:03d}",
                style=style,
                tags=(look.look.technique, "illustration", "procedural"),
                license="CC0-1.0",
                render=_renderer(style, n),
            )


def _renderer(style_id: str, n: int) -> Callable[[], Any]:
    def render() -> Any:
        from chalicelib.render.procedural import render_avatar

        return render_avatar(STYLES_BY_ID[style_id], "", 1000 + n, size=512)

    return render


def procedural_entries(
    objects: ObjectStore, pipeline: ImagePipeline, per_style: int
) -> Iterator[GalleryEntry]:
    """Render, size and store ``per_style`` procedural avatars for every style (deterministic): the
    gallery a local run starts with."""
    source = ProceduralSource(per_style)
    for style in source.styles:
        for item in source.fetch(style, per_style):
            assert item.render is not None  # noqa: S101 - procedural items are rendered here
            keys = {}
            for rendition in pipeline.renditions(item.render(), GALLERY_SIZES):
                # gallery/ never expires in the R2 lifecycle, unlike img/ of unchosen generations.
                key = "gallery/" + rendition.key.split("/", 1)[1]
                objects.put(key, rendition.data, rendition.content_type)
                keys[str(rendition.size)] = key
            yield GalleryEntry(
                id=f"proc-{item.source_id}",
                style=style,
                tags=item.tags,
                source=source.name,
                image_keys=keys,
                license=item.license,
            )
