"""Gallery-only mode: the gallery exported as a static site (chalicelib/gallery_site.py)."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.bootstrap import Container
from chalicelib.gallery_site import ASSETS, export_gallery_site


def test_the_export_writes_every_image_an_index_and_the_gallery_only_page(
    container: Container, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    site = export_gallery_site(container.gallery.catalog, container.ports.objects, out)

    entries = container.gallery.catalog.entries()
    assert site.items == len(entries) > 0
    index = json.loads((out / "gallery.json").read_text())
    assert [item["id"] for item in index["items"]] == [e.id for e in entries]
    written = 0
    for entry, item in zip(entries, index["items"], strict=True):
        assert item["style"] == entry.style and item["source"] == entry.source
        assert set(item["images"]) == set(entry.image_keys)
        for size, key in entry.image_keys.items():
            assert item["images"][size] == f"images/{key}"  # relative: the site works under any path
            assert (out / "images" / key).read_bytes() == container.ports.objects.get(key)
            written += 1
    assert site.images == written
    assert {s["id"] for s in index["styles"]} == {e.style for e in entries}
    assert all(s["preview_url"].startswith("images/") for s in index["styles"])

    page = (out / "index.html").read_text()
    assert '<avatarflow-picker id="picker" gallery-src="gallery.json"' in page
    assert f"{site.items} avatars" in page
    for name in (*ASSETS, "gallery-page.js", "_headers"):
        assert (out / name).is_file(), name
    assert "/v1" not in page and "/v1" not in (out / "gallery-page.js").read_text()
    assert "immutable" in (out / "_headers").read_text()


def test_a_second_export_replaces_the_first(container: Container, tmp_path: Path) -> None:
    out = tmp_path / "site"
    export_gallery_site(container.gallery.catalog, container.ports.objects, out)
    (out / "gallery.json").write_text("stale")
    export_gallery_site(container.gallery.catalog, container.ports.objects, out)
    assert json.loads((out / "gallery.json").read_text())["items"]


def test_the_export_carries_every_module_the_picker_imports() -> None:
    """A module picker.js imports but the export leaves out is a blank page on a static host (the
    photo part's photo.js was once missed)."""
    import re

    from chalicelib.gallery_site import WEB_DIR

    def imports(name: str) -> set[str]:
        return set(re.findall(r'^import .* from "\./([\w.-]+)";', (WEB_DIR / name).read_text(), re.M))

    needed: set[str] = set()
    todo = ["picker.js"]
    while todo:
        for module in imports(todo.pop()) - needed:
            needed.add(module)
            todo.append(module)
    assert needed, "picker.js imports its modules with relative paths"
    assert needed <= set(ASSETS), sorted(needed - set(ASSETS))
