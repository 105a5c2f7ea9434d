"""The procedural source: the seeded gallery's own items, rendered only on demand."""

from __future__ import annotations

from chalicelib.adapters.sources.procedural import ProceduralSource
from chalicelib.domain.styles import STYLES


def test_items_match_the_seeded_gallery() -> None:
    source = ProceduralSource(per_style=2)
    assert source.styles == tuple(s.id for s in STYLES)
    items = list(source.fetch("anime", 10))
    assert [i.source_id for i in items] == ["anime-000", "anime-001"]
    assert all(i.render is not None and i.image_url is None for i in items)
    assert items[0].tags[1:] == ("illustration", "procedural")
    assert items[0].license == "CC0-1.0"
    render = items[0].render
    assert render is not None
    picture = render()
    assert picture.size == (512, 512)
    assert list(source.fetch("no-such-style", 10)) == []
