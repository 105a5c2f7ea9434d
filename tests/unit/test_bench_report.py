"""The helpers the benchmarks share: rewriting their own section of docs/benchmarks.md, tables."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from bench.report import markdown_table, markers, percentile, write_section

HEADING = "## Image pipeline (bench/images.py)"
OTHER_HEADING = "## Gallery listing (bench/gallery.py)"
OTHER_BLOCK = "<!-- bench:gallery:start -->\ngallery results\n<!-- bench:gallery:end -->"


def test_markers_name_the_section() -> None:
    assert markers("images") == ("<!-- bench:images:start -->", "<!-- bench:images:end -->")


def test_replaces_only_its_own_block(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    before = (
        f"# Benchmarks\n\n{HEADING}\n\n<!-- bench:images:start -->\nold\nresults\n<!-- bench:images:end -->\n\n"
        f"Notes kept after the block.\n\n{OTHER_HEADING}\n\n{OTHER_BLOCK}\n"
    )
    doc.write_text(before)

    write_section("images", HEADING, "new results", doc)

    assert doc.read_text() == before.replace("old\nresults", "new results")
    write_section("images", HEADING, "newer", doc)  # idempotent in shape: still one block
    text = doc.read_text()
    assert text.count("<!-- bench:images:start -->") == 1
    assert text.count(HEADING) == 1
    assert "newer" in text
    assert "new results" not in text
    assert OTHER_BLOCK in text
    assert "Notes kept after the block." in text


def test_inserts_under_the_heading_when_the_block_is_missing(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{HEADING}\n\nSome prose.\n\n{OTHER_HEADING}\n\n{OTHER_BLOCK}\n")

    write_section("images", HEADING, "results", doc)

    assert doc.read_text() == (
        f"# Benchmarks\n\n{HEADING}\n\n<!-- bench:images:start -->\nresults\n<!-- bench:images:end -->\n\n"
        f"Some prose.\n\n{OTHER_HEADING}\n\n{OTHER_BLOCK}\n"
    )


def test_appends_heading_and_block_when_absent(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{OTHER_HEADING}\n\n{OTHER_BLOCK}\n\n\n")

    write_section("images", HEADING, "results", doc)

    assert doc.read_text() == (
        f"# Benchmarks\n\n{OTHER_HEADING}\n\n{OTHER_BLOCK}\n\n"
        f"{HEADING}\n\n<!-- bench:images:start -->\nresults\n<!-- bench:images:end -->\n"
    )


def test_markers_out_of_order_are_not_a_block(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- bench:images:end -->\n<!-- bench:images:start -->\n")

    write_section("images", HEADING, "results", doc)

    assert doc.read_text().endswith(
        f"\n\n{HEADING}\n\n<!-- bench:images:start -->\nresults\n<!-- bench:images:end -->\n"
    )


def test_creates_a_missing_file(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "benchmarks.md"

    write_section("spike", "## Spike", "results", doc)

    assert doc.read_text() == (
        "# Benchmarks\n\n## Spike\n\n<!-- bench:spike:start -->\nresults\n<!-- bench:spike:end -->\n"
    )


def test_percentile_matches_statistics() -> None:
    values = [3.5, 1.0, 9.25, 4.0, 7.5, 2.0, 8.0, 6.5, 5.0, 0.5, 11.0]
    assert percentile(values, 90) == statistics.quantiles(values, n=10, method="inclusive")[8]
    assert percentile(values, 99) == statistics.quantiles(values, n=100, method="inclusive")[98]
    assert percentile(values, 50) == statistics.median(values)
    with pytest.raises(ValueError):
        percentile(values, 100)


def test_markdown_table() -> None:
    table = markdown_table(["name", "ms", "note"], "lrl", [["a", "1.0", ""], ["b", "2.5", "x"]])
    assert table == ("| name | ms | note |\n| --- | ---: | --- |\n| a | 1.0 |  |\n| b | 2.5 | x |")
    with pytest.raises(ValueError):
        markdown_table(["name", "ms"], "lr", [["only one"]])
    with pytest.raises(ValueError):
        markdown_table(["name", "ms"], "lc", [])
