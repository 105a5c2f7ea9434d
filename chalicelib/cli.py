"""Operator commands: ``python -m chalicelib.cli prepare`` seeds the local gallery before a run."""

from __future__ import annotations

import argparse
import sys

from chalicelib.bootstrap import build_container, exit_on_sigterm, start_local


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    parser.add_argument("command", choices=["prepare"], help="prepare: seed an empty local gallery")
    parser.parse_args(argv)
    container = build_container(start_workers=False)
    before = container.gallery.count()
    start_local(container)
    after = container.gallery.count()
    print(f"gallery: {after} items ({after - before} added); data in {container.settings.data_dir}/")
    return 0


if __name__ == "__main__":
    exit_on_sigterm()  # a stopped `prepare` stops the embedded Redis it started, too
    sys.exit(main())
