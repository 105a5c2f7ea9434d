"""``python -m chalicelib.cli gallery export --out DIR`` and ``python -m chalicelib.cli retention``:
the operator commands that work on the configured gallery and object store (see chalicelib/cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from chalicelib.bootstrap import build_container, start_local


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    gallery = commands.add_parser("gallery", help="the gallery as a static site")
    actions = gallery.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write the gallery-only static site")
    export.add_argument("--out", type=Path, required=True, help="the directory to write (created)")
    commands.add_parser(
        "retention",
        help="delete unchosen generations' images past the retention (stores without lifecycle rules)",
    )
    args = parser.parse_args(argv)
    container = build_container(start_workers=False)
    if args.command == "retention":
        from typing import cast

        from chalicelib.ports import ExpiringObjects
        from chalicelib.services.privacy.retention import EnforceRetention

        if not hasattr(container.ports.objects, "delete_older_than"):
            parser.error("this object store expires objects by its own lifecycle rule (docs/deploy.md)")
        objects = cast(ExpiringObjects, container.ports.objects)
        retention = EnforceRetention(
            objects, retention_s=container.settings.retention_seconds, clock=container.ports.clock
        )
        deleted = retention.run()
        print(f"retention: {deleted} images of unchosen generations deleted")
        return 0
    from chalicelib.gallery_site import export_gallery_site

    if container.settings.stage == "local" and not container.gallery.catalog.count():
        start_local(container)  # a fresh checkout: seed the procedural gallery first, as `prepare` does
    site = export_gallery_site(container.gallery.catalog, container.ports.objects, args.out)
    print(
        f"gallery site: {site.items} avatars, {site.images} images in {site.out}/ (open index.html on any static host)"
    )
    return 0
