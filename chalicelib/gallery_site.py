"""The gallery as a static site: the "tight budget" mode (a curated gallery on a static host, no AI).

``python -m chalicelib.cli gallery export --out DIR`` writes, from the configured gallery and
object store:

- ``images/<object key>``: every rendition of every gallery item (hotlinked sources, such as
  Unsplash, keep their own URLs: they are not re-hosted);
- ``gallery.json``: the index, ``{"styles": [Style], "items": [GalleryItem]}`` in the API's own
  shapes, image URLs relative to the site;
- ``index.html`` with ``<avatarflow-picker gallery-src="gallery.json">``: the same picker in
  gallery-only mode, which reads that index and makes no API call at all (no custom generation,
  no quota, no analytics; a choice stays in the browser, ``localStorage``);
- the picker's assets from ``web/`` and a ``_headers`` file (Cloudflare Pages, Netlify) that caches
  images for a year and the index for five minutes.

The directory is ready for Cloudflare Pages, S3 + CloudFront, GitHub Pages or any static host.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.domain.styles import STYLES

if TYPE_CHECKING:
    from chalicelib.domain.gallery import GalleryEntry
    from chalicelib.ports import ObjectStore
    from chalicelib.services.gallery.catalog import GalleryService

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# What the gallery-only page needs of web/: picker.js and every module it imports (a test checks).
ASSETS = (
    "picker.js",
    "picker.css",
    "realtime.js",
    "static-gallery.js",
    "funnel.js",
    "photo.js",
    "icon.svg",
    "app.css",
)
IMAGES = "images"

HEADERS = """/images/*
  Cache-Control: public, max-age=31536000, immutable
/gallery.json
  Cache-Control: public, max-age=300
/*
  X-Content-Type-Options: nosniff
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Choose your profile picture</title>
  <meta name="description" content="A gallery of ready-made avatars: pick one as your profile picture.">
  <link rel="icon" href="icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="app.css">
  <script type="module" src="picker.js"></script>
</head>
<body>
  <main class="wrap">
    <section class="profile card" aria-labelledby="profile-title">
      <img id="profile-avatar" class="profile-avatar" src="icon.svg" alt="Your current avatar" width="96" height="96">
      <div class="profile-text">
        <h1 id="profile-title">Your profile picture</h1>
        <p id="who" class="muted" role="status">Pick an avatar below: it is kept in this browser.</p>
      </div>
    </section>
    <section class="card" aria-labelledby="picker-title">
      <h2 id="picker-title">Choose your profile picture</h2>
      <avatarflow-picker id="picker" gallery-src="gallery.json" page-size="24"></avatarflow-picker>
    </section>
  </main>
  <footer class="wrap footer"><p class="muted small">{count} avatars in {styles} styles.</p></footer>
  <script type="module" src="gallery-page.js"></script>
</body>
</html>
"""


# The page's own script (a file, not inline: the site works under a CSP of script-src 'self').
PAGE_SCRIPT = """// Shows the avatar chosen in the gallery-only picker and keeps it in this browser.
const KEY = "avatarflow.avatar";
const shown = document.getElementById("profile-avatar");
const show = (images) => { if (images && (images["256"] || images["128"])) shown.src = images["256"] || images["128"]; };
try { show(JSON.parse(localStorage.getItem(KEY) || "null")); } catch (error) { /* nothing kept */ }
document.getElementById("picker").addEventListener("avatar-selected", (event) => {
  show(event.detail.images);
  try { localStorage.setItem(KEY, JSON.stringify(event.detail.images)); } catch (error) { /* private mode */ }
  document.getElementById("who").textContent = "Your choice is kept in this browser.";
});
"""


@dataclass(frozen=True)
class ExportedSite:
    """What an export wrote."""

    out: Path
    items: int
    images: int


def _relative_images(entry: GalleryEntry, objects: ObjectStore, out: Path) -> tuple[dict[str, str], int]:
    """The entry's renditions copied under ``images/`` (their URLs relative to the site)."""
    if entry.external_urls:
        return dict(entry.external_urls), 0  # hotlinked by the source's terms: never re-hosted
    urls: dict[str, str] = {}
    written = 0
    for size, key in entry.image_keys.items():
        data = objects.get(key)
        if data is None:
            continue  # a rendition that is gone: the picker uses the others
        target = out / IMAGES / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        urls[size] = f"{IMAGES}/{key}"
        written += 1
    return urls, written


def export_gallery_site(gallery: GalleryService, objects: ObjectStore, out: Path) -> ExportedSite:
    """Write the static gallery site to ``out`` (created; existing files are replaced)."""
    out.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    images = 0
    previews: dict[str, str] = {}
    for entry in gallery.entries():
        urls, written = _relative_images(entry, objects, out)
        if not urls:
            continue
        images += written
        item = gallery.to_item(entry).model_dump(mode="json")
        item["images"] = urls
        items.append(item)
        previews.setdefault(entry.style, urls.get("256") or next(iter(urls.values())))
    styles = [
        {
            "id": s.id,
            "name": s.name,
            "description": s.description,
            "qualities": list(s.qualities),
            "preview_url": previews.get(s.id),
        }
        for s in STYLES
        if s.id in previews
    ]
    (out / "gallery.json").write_text(json.dumps({"styles": styles, "items": items}, separators=(",", ":")))
    for name in ASSETS:
        shutil.copyfile(WEB_DIR / name, out / name)
    (out / "_headers").write_text(HEADERS)
    page = PAGE.replace("{count}", str(len(items))).replace("{styles}", str(len(styles)))
    (out / "index.html").write_text(page)
    (out / "gallery-page.js").write_text(PAGE_SCRIPT)
    return ExportedSite(out=out, items=len(items), images=images)
