"""Resolution-independent shapes in unit coordinates (0..1, y down) and curve helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Pt = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float

    def bounds(self) -> Box:
        return self.cx - self.rx, self.cy - self.ry, self.cx + self.rx, self.cy + self.ry

    def points(self, n: int = 48) -> list[Pt]:
        return arc((self.cx, self.cy), (self.rx, self.ry), 0, 360, n, closed=False)


@dataclass(frozen=True)
class Poly:
    pts: tuple[Pt, ...]

    def bounds(self) -> Box:
        return _bounds(self.pts)


@dataclass(frozen=True)
class Stroke:
    """An open polyline drawn with round joints; ``width`` is in unit coordinates."""

    pts: tuple[Pt, ...]
    width: float

    def bounds(self) -> Box:
        x0, y0, x1, y1 = _bounds(self.pts)
        w = self.width / 2
        return x0 - w, y0 - w, x1 + w, y1 + w


Shape = Ellipse | Poly | Stroke


def _bounds(pts: Iterable[Pt]) -> Box:
    xs, ys = zip(*pts, strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def union_bounds(boxes: Iterable[Box]) -> Box:
    bs = list(boxes)
    return min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs)


def poly(pts: Iterable[Pt]) -> Poly:
    return Poly(tuple(pts))


def stroke(pts: Iterable[Pt], width: float) -> Stroke:
    return Stroke(tuple(pts), width)


def arc(c: Pt, r: Pt, a0: float, a1: float, n: int = 24, *, closed: bool = True) -> list[Pt]:
    """Points on an elliptical arc around centre ``c`` with radii ``r``.

    Angles are in degrees, 0 = +x, 90 = down (screen space). With ``closed`` the end angle
    is included, so arcs chain into larger outlines.
    """
    cx, cy = c
    rx, ry = r
    steps = n if closed else n - 1
    out: list[Pt] = []
    for i in range(n):
        a = math.radians(a0 + (a1 - a0) * i / max(1, steps))
        out.append((cx + rx * math.cos(a), cy + ry * math.sin(a)))
    return out


def superellipse(c: Pt, r: Pt, power: float, n: int = 64) -> list[Pt]:
    """A squircle-like outline; power 2 is an ellipse, larger is boxier (shoulders, lenses)."""
    cx, cy = c
    rx, ry = r
    e = 2.0 / power
    out: list[Pt] = []
    for i in range(n):
        a = 2 * math.pi * i / n
        co, si = math.cos(a), math.sin(a)
        out.append((cx + rx * math.copysign(abs(co) ** e, co), cy + ry * math.copysign(abs(si) ** e, si)))
    return out


def quad(p0: Pt, p1: Pt, p2: Pt, n: int = 12) -> list[Pt]:
    """Quadratic Bezier through control point ``p1``."""
    out: list[Pt] = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        out.append(
            (
                u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0],
                u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1],
            )
        )
    return out


def cubic(p0: Pt, p1: Pt, p2: Pt, p3: Pt, n: int = 16) -> list[Pt]:
    out: list[Pt] = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        out.append(
            (a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1])
        )
    return out


def spline(pts: Sequence[Pt], n: int = 6, closed: bool = False) -> list[Pt]:
    """Catmull-Rom through every control point: hand-placed hair lines stay smooth."""
    if len(pts) < 3:
        return list(pts)
    ctrl = [pts[-1], *pts, pts[0], pts[1]] if closed else [pts[0], *pts, pts[-1]]
    out: list[Pt] = []
    for i in range(1, len(ctrl) - 2):
        p0, p1, p2, p3 = ctrl[i - 1], ctrl[i], ctrl[i + 1], ctrl[i + 2]
        for j in range(n):
            t = j / n
            t2, t3 = t * t, t * t * t
            out.append(
                (
                    0.5
                    * (
                        2 * p1[0]
                        + (-p0[0] + p2[0]) * t
                        + (2 * p0[0] - 5 * p1[0] + 4 * p2[0] - p3[0]) * t2
                        + (-p0[0] + 3 * p1[0] - 3 * p2[0] + p3[0]) * t3
                    ),
                    0.5
                    * (
                        2 * p1[1]
                        + (-p0[1] + p2[1]) * t
                        + (2 * p0[1] - 5 * p1[1] + 4 * p2[1] - p3[1]) * t2
                        + (-p0[1] + 3 * p1[1] - 3 * p2[1] + p3[1]) * t3
                    ),
                )
            )
    if not closed:
        out.append(pts[-1])
    return out


def mirror(pts: Iterable[Pt], cx: float = 0.5) -> list[Pt]:
    return [(2 * cx - x, y) for x, y in pts]


def mirror_shape(shape: Shape, cx: float = 0.5) -> Shape:
    if isinstance(shape, Ellipse):
        return Ellipse(2 * cx - shape.cx, shape.cy, shape.rx, shape.ry)
    if isinstance(shape, Poly):
        return Poly(tuple(mirror(shape.pts, cx)))
    return Stroke(tuple(mirror(shape.pts, cx)), shape.width)


def outline_points(shape: Shape) -> list[Pt]:
    """The closed contour of a filled shape, for tracing outlines or jittered pencil lines."""
    if isinstance(shape, Ellipse):
        return shape.points(max(24, int(400 * max(shape.rx, shape.ry))))
    return list(shape.pts)
