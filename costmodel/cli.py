"""``python -m costmodel``: the scenarios as a table, as JSON, or written to docs/cost.md."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from costmodel.chart import svg_chart
from costmodel.counts import BENCHMARKS, load_counts
from costmodel.prices import load_price_table
from costmodel.report import as_json, markdown, text_table
from costmodel.scenarios import DEFAULT_USERS, SCENARIOS, Assumptions, build


def _users(text: str) -> list[int]:
    try:
        users = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--users takes whole numbers separated by commas") from None
    if not users or any(u <= 0 for u in users):
        raise argparse.ArgumentTypeError("--users takes positive whole numbers")
    return users


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a share is between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m costmodel", description=__doc__)
    p.add_argument(
        "--scenario",
        nargs="+",
        action="extend",
        choices=SCENARIOS,
        metavar="NAME",
        help=f"scenarios to price (default: all): {', '.join(SCENARIOS)}",
    )
    p.add_argument("--users", type=_users, default=list(DEFAULT_USERS), help="users / month, e.g. 1000,10000")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--write", metavar="MARKDOWN", help="write this markdown file and an SVG chart beside it")
    p.add_argument("--prices", metavar="JSON", help='unit price overrides: {"key": number | {"low", "high"}}')
    p.add_argument(
        "--benchmarks",
        metavar="MARKDOWN",
        default=str(BENCHMARKS),
        help="the benchmarks' recorded results (default docs/benchmarks.md)",
    )
    p.add_argument("--ai-share", type=_share, help="users who ask for an AI avatar (default 0.3)")
    p.add_argument(
        "--generations-per-ai-user", type=_non_negative, help="AI requests per such user (default 1)"
    )
    p.add_argument("--premium-share", type=_share, help="AI requests from premium users (default 0.1)")
    p.add_argument("--premium-standard-share", type=_share, help="premium requests at quality standard (0.5)")
    p.add_argument(
        "--dedup-saving",
        type=_share,
        help="requests answered without a provider call (default: the spike benchmark's measured share)",
    )
    p.add_argument(
        "--gallery-requests-per-user", type=_non_negative, help="gallery pages per user (default 3)"
    )
    p.add_argument("--websocket-share", type=_share, help="AI requests watched over WebSocket (default 0.5)")
    p.add_argument(
        "--photo-share",
        type=_share,
        help="AI requests made from the user's photo (default 0; never deduplicated)",
    )
    return p


ASSUMPTION_FLAGS = (
    "ai_share",
    "generations_per_ai_user",
    "premium_share",
    "premium_standard_share",
    "dedup_saving",
    "gallery_requests_per_user",
    "websocket_share",
    "photo_share",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        prices = load_price_table(args.prices)
    except (OSError, ValueError) as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return 2
    counts = load_counts(Path(args.benchmarks))
    given = {name: getattr(args, name) for name in ASSUMPTION_FLAGS if getattr(args, name) is not None}
    assumptions = replace(Assumptions(), **given)
    names = list(dict.fromkeys(args.scenario or SCENARIOS))
    scenarios = [build(name, args.users, prices, counts, assumptions) for name in names]
    if args.write:
        target = Path(args.write)
        chart = target.with_suffix(".svg")
        target.parent.mkdir(parents=True, exist_ok=True)
        chart.write_text(svg_chart(scenarios))
        target.write_text(markdown(scenarios, prices, counts, assumptions, chart=chart.name))
        print(f"wrote {target} and {chart}")
    elif args.json:
        print(json.dumps(as_json(scenarios), indent=2))
    else:
        print(text_table(scenarios), end="")
    return 0
