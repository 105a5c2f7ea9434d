"""The browser budgets of the pages (web/): the picker's JavaScript size and how soon the first
gallery images are visible, in Debian's Chromium against the local stack.

Run from the repository root (`make browser` first)::

    .venv/bin/python -m bench.pages            # print the table
    .venv/bin/python -m bench.pages --write    # ... and update docs/benchmarks.md

Size: what a host page loads for ``<avatarflow-picker>`` (picker.js, the realtime.js and photo.js it imports and
its picker.css), raw and gzipped as ``gzip -c < FILE | wc -c`` counts (level 6, no name in the header), against the 40 KB
budget. Time: ``--runs`` page loads of ``/`` in a fresh browser context each (an empty cache, as a
first visit), then as many reloads in one context (a revisit), on the local stack as `make run`
starts it; each run measures, in the page, ``performance.now()`` (milliseconds since the navigation
started) when every image of the gallery's first page is decoded (``complete`` and a natural
width), and when the first one is.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bench.report import DOC, command_line, machine, markdown_table, percentile, write_section
from tests.browser.stack import CHROMIUM, CHROMIUM_ARGS, ROOT, local_stack

SECTION = "pages"
SECTION_HEADING = "## The pages' budgets in a real browser (bench/pages.py)"
WEB = ROOT / "web"
PICKER_FILES = ("picker.js", "realtime.js", "funnel.js", "static-gallery.js", "photo.js", "picker.css")
BUDGET_GZIP_BYTES = 40 * 1024
BUDGET_VISIBLE_MS = 1000.0

READY = """() => {
    const picker = document.querySelector("avatarflow-picker");
    const size = picker ? Number(picker.getAttribute("page-size") || 24) : 0;
    const all = picker && picker.shadowRoot ? [...picker.shadowRoot.querySelectorAll("button.item img")] : [];
    const images = all.slice(0, size);  // the first page (scrolling may have brought the next)
    const done = images.filter((img) => img.complete && img.naturalWidth > 0);
    if (done.length && !window.__firstImageAt) window.__firstImageAt = performance.now();
    return images.length === size && done.length === size ? [performance.now(), window.__firstImageAt, images.length] : null;
}"""


def sizes() -> list[tuple[str, int, int]]:
    return [
        (name, len(data), len(gzip.compress(data, compresslevel=6, mtime=0)))
        for name in PICKER_FILES
        for data in [(WEB / name).read_bytes()]
    ]


def visible(page: Page, url: str | None) -> tuple[float, float, int]:
    if url is None:
        page.reload(wait_until="commit")
    else:
        page.goto(url, wait_until="commit")
    all_ms, first_ms, count = page.wait_for_function(READY, polling="raf", timeout=30_000).json_value()
    return float(all_ms), float(first_ms), int(count)


def measure(runs: int) -> dict[str, list[tuple[float, float, int]]]:
    with (
        tempfile.TemporaryDirectory() as data,
        local_stack(Path(data), seed_per_style=2) as stack,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warmup = browser.new_page()
        visible(warmup, stack.base + "/")  # the server's first requests (imports, connections)
        warmup.close()
        cold = []
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            cold.append(visible(context.new_page(), stack.base + "/"))
            context.close()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        visible(page, stack.base + "/")
        warm = [visible(page, None) for _ in range(runs)]
        context.close()
        browser.close()
    return {"first visit (empty cache)": cold, "revisit (reload)": warm}


def report(runs: int, argv: Sequence[str] | None) -> str:
    files = sizes()
    raw_total = sum(raw for _, raw, _ in files)
    gz_total = sum(gz for _, _, gz in files)
    size_rows = [(f"`web/{name}`", f"{raw:,}", f"{gz:,}") for name, raw, gz in files]
    size_rows.append(("**total**", f"**{raw_total:,}**", f"**{gz_total:,}** ({gz_total / 1024:.1f} KB)"))
    timings = measure(runs)
    time_rows = []
    for label, samples in timings.items():
        all_ms = [s[0] for s in samples]
        first_ms = [s[1] for s in samples]
        time_rows.append(
            (
                label,
                str(len(samples)),
                str(samples[0][2]),
                f"{statistics.median(first_ms):.0f}",
                f"{statistics.median(all_ms):.0f}",
                f"{percentile(all_ms, 95):.0f}",
                f"{max(all_ms):.0f}",
            )
        )
    worst = max(s[0] for samples in timings.values() for s in samples)
    return "\n".join(
        [
            f"Command: `{command_line('bench.pages', argv)}`, on {machine()}, Chromium at `{CHROMIUM}`.",
            "",
            f"What a host page loads for `<avatarflow-picker>` (budget: {BUDGET_GZIP_BYTES // 1024} KB gzipped):",
            "",
            markdown_table(("file", "bytes", "gzipped bytes (`gzip -c < FILE \\| wc -c`)"), "lrr", size_rows),
            "",
            f"Time from navigation start to the gallery's first images decoded on `/` (budget: "
            f"{BUDGET_VISIBLE_MS:.0f} ms), ms:",
            "",
            markdown_table(
                ("load", "runs", "images", "first image p50", "all first-page images p50", "p95", "max"),
                "lrrrrrr",
                time_rows,
            ),
            "",
            f"Within budget: size {'yes' if gz_total <= BUDGET_GZIP_BYTES else 'NO'}, "
            f"time {'yes' if worst <= BUDGET_VISIBLE_MS else 'NO'} (worst run {worst:.0f} ms).",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="page loads of each kind")
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(DOC.parents[1])}")
    args = parser.parse_args(argv)
    body = report(args.runs, argv)
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
