"""Benchmark of the image pipeline: provider bytes → WebP at 128/256/512/1024.

Run from the repository root::

    .venv/bin/python -m bench.images            # print the table
    .venv/bin/python -m bench.images --write    # ... and update docs/benchmarks.md

It builds a deterministic, photo-like 1024x1024 picture (gradients, shapes, multi-scale texture
and grain - about as hard to compress as a real photo), saves it as PNG and as JPEG q=90 (AI
providers return both), and measures the CPU time (``time.process_time``) of one full run
"bytes → every size in WebP" for ``chalicelib.adapters.imaging.pipeline.process_image`` and for a naive pipeline
(open, convert, resize each size from the full source with LANCZOS, WebP with method=6),
interleaved in the same process, pinned to one core where the OS allows it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import PIL
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat, features

from bench.report import (
    DOC,
    command_line,
    machine,
    markdown_table,
    percentile,
    pin_to_one_core,
    write_section,
)
from chalicelib.adapters.imaging.pipeline import process_image

SIZES: tuple[int, ...] = (128, 256, 512, 1024)
SOURCE_SIDE = 1024
QUALITY = 82
TARGET_MEDIAN_MS = 120.0
SECTION = "images"
SECTION_HEADING = "## Image pipeline (bench/images.py)"


@dataclass(frozen=True)
class Result:
    source: str
    source_bytes: int
    pipeline: str
    times_ms: list[float]
    output_bytes: int

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p90(self) -> float:
        return percentile(self.times_ms, 90)


# --- the input -----------------------------------------------------------------------------


def _noise(rnd: random.Random, side: int) -> Image.Image:
    return Image.frombytes("L", (side, side), rnd.randbytes(side * side))


def provider_like_image(side: int = SOURCE_SIDE, seed: int = 7) -> Image.Image:
    """A deterministic photo-like RGB picture: smooth regions, edges, texture at several scales."""
    rnd = random.Random(seed)
    gradient = Image.linear_gradient("L").resize((side, side))
    radial = Image.radial_gradient("L").resize((side, side))
    picture = Image.merge("RGB", (gradient, gradient.rotate(90), radial))
    draw = ImageDraw.Draw(picture)
    for _ in range(60):
        x, y, r = rnd.randrange(side), rnd.randrange(side), rnd.randrange(side // 100, side // 5)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        if rnd.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
    picture = picture.filter(ImageFilter.GaussianBlur(2))
    texture = Image.new("L", (side, side), 128)
    for scale, weight in ((16, 0.5), (64, 0.35), (256, 0.25), (side, 0.12)):
        octave = _noise(rnd, scale).resize((side, side), Image.Resampling.BICUBIC)
        texture = Image.blend(texture, octave, weight)
    picture = ImageChops.overlay(picture, Image.merge("RGB", (texture, texture, texture)))
    grain = Image.merge("RGB", [_noise(rnd, side) for _ in range(3)])
    return Image.blend(picture, grain, 0.03)


def encoded_sources(picture: Image.Image) -> dict[str, bytes]:
    png, jpeg = io.BytesIO(), io.BytesIO()
    picture.save(png, "PNG")
    picture.save(jpeg, "JPEG", quality=90)
    return {"PNG": png.getvalue(), "JPEG q=90": jpeg.getvalue()}


# --- the pipelines -------------------------------------------------------------------------


def optimized(data: bytes) -> int:
    return sum(len(r.data) for r in process_image(data, SIZES, quality=QUALITY))


def naive(data: bytes) -> int:
    """What one writes first: every size from the full decoded source, WebP at method 6."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    total = 0
    for size in SIZES:
        buffer = io.BytesIO()
        image.resize((size, size), Image.Resampling.LANCZOS).save(buffer, "WEBP", quality=QUALITY, method=6)
        total += len(buffer.getvalue())
    return total


PIPELINES: dict[str, Callable[[bytes], int]] = {"optimized": optimized, "naive": naive}


def cpu_ms(run: Callable[[bytes], int], data: bytes) -> tuple[float, int]:
    started = time.process_time()
    produced = run(data)
    return (time.process_time() - started) * 1000, produced


def measure(sources: dict[str, bytes], runs: int, warmup: int) -> list[Result]:
    results = []
    for label, data in sources.items():
        for run in PIPELINES.values():
            for _ in range(warmup):
                run(data)
        times: dict[str, list[float]] = {name: [] for name in PIPELINES}
        produced: dict[str, int] = {}
        for _ in range(runs):  # interleaved, so drift hits both alike
            for name, run in PIPELINES.items():
                elapsed, produced[name] = cpu_ms(run, data)
                times[name].append(elapsed)
        results += [Result(label, len(data), name, times[name], produced[name]) for name in PIPELINES]
    return results


@dataclass(frozen=True)
class MethodResult:
    method: int
    median_ms: float
    output_bytes: int
    psnr_1024: float


def psnr(reference: Image.Image, encoded: bytes) -> float:
    decoded = Image.open(io.BytesIO(encoded)).convert("RGB")
    squares = ImageStat.Stat(ImageChops.difference(reference, decoded)).sum2
    mse = sum(squares) / (3 * reference.width * reference.height)
    return 10 * math.log10(255**2 / mse) if mse else float("inf")


def sweep_methods(picture: Image.Image, runs: int) -> list[MethodResult]:
    """WebP encoding alone, all four sizes, for each ``method``: the data behind the choice."""
    renditions = {SOURCE_SIDE: picture}
    for size in sorted(SIZES, reverse=True)[1:]:
        renditions[size] = renditions[min(renditions)].resize((size, size), Image.Resampling.LANCZOS)
    results = []
    for method in range(7):
        times, encoded = [], {}
        for _ in range(runs):
            started = time.process_time()
            for size in SIZES:
                buffer = io.BytesIO()
                renditions[size].save(buffer, "WEBP", quality=QUALITY, method=method)
                encoded[size] = buffer.getvalue()
            times.append((time.process_time() - started) * 1000)
        total = sum(len(data) for data in encoded.values())
        quality = psnr(renditions[SOURCE_SIDE], encoded[SOURCE_SIDE])
        results.append(MethodResult(method, statistics.median(times), total, quality))
    return results


# --- reporting -----------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    naive_median = {r.source: r.median for r in results if r.pipeline == "naive"}
    rows = []
    for r in results:
        speedup = naive_median[r.source] / r.median if r.median else float("nan")
        rows.append(
            [
                r.source,
                f"{r.source_bytes / 1024:.0f} KiB",
                r.pipeline,
                f"{r.median:.1f}",
                f"{r.p90:.1f}",
                f"{speedup:.1f}x",
                f"{r.output_bytes:,}",
            ]
        )
    header = ["source", "input", "pipeline", "median ms", "p90 ms", "speed-up", "WebP bytes (4 sizes)"]
    return markdown_table(header, "lrlrrrr", rows)


def method_table(results: Sequence[MethodResult]) -> str:
    header = ["WebP method", "encode ms (4 sizes, median)", "WebP bytes (4 sizes)", "PSNR at 1024 (dB)"]
    rows = [
        [f"{r.method}", f"{r.median_ms:.1f}", f"{r.output_bytes:,}", f"{r.psnr_1024:.2f}"] for r in results
    ]
    return markdown_table(header, "rrrr", rows)


def report(
    results: Sequence[Result],
    methods: Sequence[MethodResult],
    *,
    runs: int,
    method_runs: int,
    pinned: str,
    command: str,
) -> str:
    verdicts = [
        f"{r.source}: {r.median:.1f} ms {'≤' if r.median <= TARGET_MEDIAN_MS else '>'} "
        f"{TARGET_MEDIAN_MS:.0f} ms"
        for r in results
        if r.pipeline == "optimized"
    ]
    met = all(r.median <= TARGET_MEDIAN_MS for r in results if r.pipeline == "optimized")
    return "\n".join(
        [
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- machine: {machine()}; {pinned}",
            f"- Python {platform.python_version()}, Pillow {PIL.__version__}, libwebp "
            f"{features.version('webp') or '?'}",
            f"- workload: one {SOURCE_SIDE}x{SOURCE_SIDE} photo-like picture → WebP q={QUALITY} at "
            f"{'/'.join(map(str, SIZES))}; CPU time (`time.process_time`) per full run, {runs} runs "
            "per pipeline, interleaved, after warm-up",
            "- optimized = `chalicelib.adapters.imaging.pipeline.process_image` (verify, JPEG draft, square crop, LANCZOS "
            "cascade, WebP method 2 above 256 px and 4 up to 256 px); naive = open, convert, resize "
            "every size from the full source with LANCZOS, WebP method 6",
            f"- target: optimized median ≤ {TARGET_MEDIAN_MS:.0f} ms on one core: "
            f"{'met' if met else 'NOT met'} ({'; '.join(verdicts)})",
            "",
            table(results),
            "",
            f"WebP `method` sweep (encoding only, the same picture already resized, q={QUALITY}, "
            f"{method_runs} runs each); the pipeline uses 2 for 512/1024 and 4 for 128/256:",
            "",
            method_table(methods),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.images", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per pipeline and source")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(DOC.parents[1])}")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")

    pinned = pin_to_one_core()
    picture = provider_like_image()
    sources = encoded_sources(picture)
    results = measure(sources, args.runs, args.warmup)
    method_runs = min(args.runs, 5)
    methods = sweep_methods(picture, method_runs)
    command = command_line("bench.images", argv)
    body = report(results, methods, runs=args.runs, method_runs=method_runs, pinned=pinned, command=command)
    print(body)
    if args.write:
        write_section(SECTION, SECTION_HEADING, body)
        print(f"\nwrote {DOC}")
    return 0 if all(r.median <= TARGET_MEDIAN_MS for r in results if r.pipeline == "optimized") else 1


if __name__ == "__main__":
    sys.exit(main())
