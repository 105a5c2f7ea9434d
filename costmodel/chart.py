"""docs/cost.svg: the scenarios' costs against users / month, drawn as a plain SVG (no plotting library)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from costmodel.scenarios import Row, Scenario

COLORS = {
    "seed-pure-fal": "#d62728",
    "seed-pure-replicate": "#9467bd",
    "seed-hybrid": "#ff7f0e",
    "measured": "#1f77b4",
}


def svg_chart(scenarios: Sequence[Scenario]) -> str:
    """Two panels, log-log: cost per month and cost per 1,000 users against users / month.

    A solid line is a scenario's high end, a dashed line its low end.
    """
    width, height, pad_l, pad_r, pad_t, pad_b, gap = 940, 430, 70, 45, 40, 100, 80
    panel_w = (width - pad_l - pad_r - gap) / 2
    panel_h = height - pad_t - pad_b
    users = sorted({row.users for s in scenarios for row in s.rows})
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    panels: tuple[tuple[str, Callable[[Row], tuple[float, float]]], ...] = (
        ("USD per month", lambda r: (r.low, r.high)),
        ("USD per 1,000 users", lambda r: r.per_1000_users()),
    )
    for index, (title, values) in enumerate(panels):
        x0 = pad_l + index * (panel_w + gap)
        ys = [v for s in scenarios for r in s.rows for v in values(r) if v > 0]
        if not users or not ys:
            continue
        y_lo = 10 ** math.floor(math.log10(min(ys)))
        y_hi = 10 ** math.ceil(math.log10(max(ys)))
        x_lo, x_hi = min(users), max(users)

        def px(u: float, x0: float = x0, x_lo: float = x_lo, x_hi: float = x_hi) -> float:
            span = math.log10(x_hi) - math.log10(x_lo) or 1.0
            return x0 + (math.log10(u) - math.log10(x_lo)) / span * panel_w

        def py(v: float, y_lo: float = y_lo, y_hi: float = y_hi) -> float:
            span = math.log10(y_hi) - math.log10(y_lo) or 1.0
            return pad_t + panel_h - (math.log10(max(v, y_lo)) - math.log10(y_lo)) / span * panel_h

        out.append(
            f'<text x="{x0 + panel_w / 2:.1f}" y="{pad_t - 14}" text-anchor="middle" font-size="14">{title}</text>'
        )
        out.append(
            f'<rect x="{x0:.1f}" y="{pad_t}" width="{panel_w:.1f}" height="{panel_h}" fill="none" stroke="#999"/>'
        )
        decade = y_lo
        while decade <= y_hi * 1.0001:
            y = py(decade)
            out.append(
                f'<line x1="{x0:.1f}" x2="{x0 + panel_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            )
            out.append(f'<text x="{x0 - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">${decade:,.10g}</text>')
            decade *= 10
        for u in users:
            x = px(u)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad_t}" y2="{pad_t + panel_h}" stroke="#eee"/>')
            out.append(f'<text x="{x:.1f}" y="{pad_t + panel_h + 16}" text-anchor="middle">{u:,}</text>')
        out.append(
            f'<text x="{x0 + panel_w / 2:.1f}" y="{pad_t + panel_h + 34}" text-anchor="middle">users / month</text>'
        )
        for scenario in scenarios:
            color = COLORS.get(scenario.name, "#333")
            for end, dash in ((1, ""), (0, ' stroke-dasharray="5,4"')):
                points = " ".join(f"{px(r.users):.1f},{py(values(r)[end]):.1f}" for r in scenario.rows)
                out.append(
                    f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
                )
    legend_y = height - 34
    for index, scenario in enumerate(scenarios):
        x = pad_l + index * 210
        color = COLORS.get(scenario.name, "#333")
        out.append(
            f'<line x1="{x}" x2="{x + 24}" y1="{legend_y}" y2="{legend_y}" stroke="{color}" stroke-width="3"/>'
        )
        out.append(f'<text x="{x + 30}" y="{legend_y + 4}">{scenario.name}</text>')
    out.append(
        f'<text x="{width - pad_r}" y="{height - 4}" text-anchor="end" fill="#666">solid: high end; dashed: low end</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
