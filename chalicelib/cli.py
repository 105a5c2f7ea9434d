"""Operator commands: ``python -m chalicelib.cli prepare`` seeds the local gallery before a run;
``python -m chalicelib.cli cost`` prices the cost model's scenarios (``python -m costmodel``, an
offline tool outside the deployment package: the command works from a checkout, not in Lambda);
``python -m chalicelib.cli gallery export --out DIR`` writes the gallery as a static site
(``chalicelib/gallery_site``); ``python -m chalicelib.cli retention`` deletes unchosen generations'
images past the retention in a store without lifecycle rules (Supabase Storage)."""

from __future__ import annotations

import argparse
import sys

from chalicelib.bootstrap import build_container, exit_on_sigterm, start_local


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["cost"]:  # its own flags; needs no container
        from costmodel.cli import main as cost

        return cost(given[1:])
    if given[:1] in (["gallery"], ["retention"]):
        from chalicelib.operator_cli import main as operator

        return operator(given)
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    parser.add_argument(
        "command",
        choices=["prepare", "cost", "gallery", "retention"],
        help="prepare: seed an empty local gallery; cost: price the scenarios; gallery export: a static "
        "gallery site; retention: expire unchosen generations where no lifecycle rule does",
    )
    parser.parse_args(given)
    container = build_container(start_workers=False)
    before = container.gallery.catalog.count()
    start_local(container)
    after = container.gallery.catalog.count()
    print(f"gallery: {after} items ({after - before} added); data in {container.settings.data_dir}/")
    return 0


if __name__ == "__main__":
    exit_on_sigterm()  # a stopped `prepare` stops the embedded Redis it started, too
    sys.exit(main())
