"""Pencil sketch: graphite contours drawn twice with jitter, hatching for tone, on grainy paper."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import replace

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from chalicelib.render._canvas import Canvas, IBox, finish, grain
from chalicelib.render._color import RGB, grey, luminance, mix
from chalicelib.render._geom import Ellipse, Pt, Stroke, outline_points
from chalicelib.render._scene import Features, Part, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="realistic",
    nose_kind="line",
    line_scale=0.8,
    hair_strands=True,
    soft_shadows=True,
    ink=(50, 50, 54),
)
_GRAPHITE: RGB = (58, 58, 62)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    spec = dataclasses.replace(spec, iris=(120, 120, 124))
    w = size * 2
    scene = build_scene(spec, FEATURES)
    paper = spec.bg
    cv = Canvas(w, paper, scene)
    hatch = _hatching(w, w * 0.0075, 45.0, rng)
    hair_hatch = ImageChops.darker(_hatching(w, w * 0.006, 72.0, rng), hatch)
    cross = ImageChops.darker(hatch, _hatching(w, w * 0.011, -40.0, rng))
    line_w = max(1.0, w * 0.0021)
    for part in scene.parts:
        tone = _tone(part, paper)
        if part.role == "shadow":
            # Cast shadows become light hatching rather than a grey fill.
            box = cv.box(part)
            m = cv.mask(part, box)
            _apply_hatch(cv, hatch, m, box, 0.55)
            continue
        flat = replace(part, color=tone)
        res = cv.paint(flat)
        if part.role in ("hair", "cloth", "hat") or part.name in ("hair_strands",):
            box = res[1] if res else cv.box(flat)
            m = res[0] if res else cv.mask(flat, box)
            density = 0.55 + 0.45 * (1 - luminance(part.color))
            pattern = cross if part.role == "cloth" else hair_hatch if part.role == "hair" else hatch
            _apply_hatch(cv, pattern, m, box, min(0.95, density))
        elif part.role == "skin" and part.shade and part.name == "head":
            box = cv.box(flat)
            m = cv.mask(flat, box)
            side = ImageOps.invert(Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90))
            if not spec.mirror:
                side = ImageOps.mirror(side)
            side = side.resize((box[2] - box[0], box[3] - box[1])).point(lambda v: max(0, v - 150) * 2)
            _apply_hatch(cv, hatch, ImageChops.multiply(m, side), box, 0.5)
        if part.outline:
            if any(isinstance(sh, Ellipse) for sh in part.shapes) and len(part.shapes) > 2:
                _mask_contour(cv, flat)  # clusters of curls: trace the union, not every circle
            else:
                _pencil(cv, part, line_w, rng)
    img = finish(cv.img, size)
    texture = grain(size, rng, 128).point(lambda v: 236 + v * 19 // 255)
    img = ImageChops.multiply(img, Image.merge("RGB", (texture, texture, texture)))
    # Keep it greyscale on warm paper: colourise the luminance between graphite and paper.
    return ImageOps.colorize(img.convert("L"), black=(28, 28, 32), white=_paper_white(paper))


def _paper_white(paper: RGB) -> RGB:
    return mix(paper, (255, 255, 255), 0.3)


def _tone(part: Part, paper: RGB) -> RGB:
    """Light graphite tones: the drawing is mostly paper with the values coming from hatching."""
    if part.role in ("pupil", "line", "brow", "frame", "mouth", "lens"):
        return grey(part.color)
    if part.role in ("iris",):
        return (110, 110, 114)
    if part.role in ("skin", "eye_white", "teeth", "shine"):
        return paper
    return mix(paper, grey(part.color), 0.22)


def _hatching(w: int, spacing: float, angle: float, rng: random.Random) -> Image.Image:
    """Parallel pencil strokes across the canvas with slight wobble in spacing and pressure."""
    img = Image.new("L", (w, w), 255)
    d = ImageDraw.Draw(img)
    a = math.radians(angle)
    dx, dy = math.cos(a), math.sin(a)
    nx, ny = -dy, dx
    c = w / 2
    span = w * 0.75
    t = -span
    lw = max(1, round(w * 0.0013))
    while t < span:
        ox, oy = c + nx * t, c + ny * t
        d.line(
            (ox - dx * span, oy - dy * span, ox + dx * span, oy + dy * span),
            fill=rng.randint(10, 90),
            width=lw,
        )
        t += spacing * rng.uniform(0.75, 1.25)
    return img


def _apply_hatch(cv: Canvas, hatch: Image.Image, m: Image.Image, box: IBox, strength: float) -> None:
    ink = ImageChops.multiply(ImageChops.invert(hatch.crop(box)), m)
    if strength < 1:
        ink = ink.point(lambda v: round(v * strength))
    cv.composite(_GRAPHITE, ink, box)


def _mask_contour(cv: Canvas, part: Part) -> None:
    box = cv.box(part)
    m = cv.mask(Part(part.name, part.role, part.color, part.shapes), box, soft=False)
    # Erode by blur + threshold: a 5x5 MinFilter costs ~10x more on big afros at 2048 px.
    inner = m.filter(ImageFilter.GaussianBlur(2.0)).point(lambda v: 255 if v > 235 else 0)
    edge = ImageChops.subtract(m, inner)
    cv.composite(_GRAPHITE, edge, box)


def _jitter(pts: list[Pt], amp: float, rng: random.Random) -> list[Pt]:
    """Smooth wobble: random offsets at a few knots, interpolated along the contour."""
    n = len(pts)
    knots = max(3, n // 8)
    offs = [(rng.uniform(-amp, amp), rng.uniform(-amp, amp)) for _ in range(knots + 1)]
    out: list[Pt] = []
    for i, (x, y) in enumerate(pts):
        f = i / max(1, n - 1) * knots
        k = min(knots - 1, int(f))
        t = f - k
        ox = offs[k][0] * (1 - t) + offs[k + 1][0] * t
        oy = offs[k][1] * (1 - t) + offs[k + 1][1] * t
        out.append((x + ox, y + oy))
    return out


def _pencil(cv: Canvas, part: Part, width: float, rng: random.Random) -> None:
    """Trace a contour twice with independent wobble, like a quick confident sketch."""
    s = cv.size
    for sh in part.shapes:
        if isinstance(sh, Stroke):
            continue
        pts = [(x * s, y * s) for x, y in outline_points(sh)]
        pts.append(pts[0])
        for k, value in ((0, _GRAPHITE), (1, mix(_GRAPHITE, (255, 255, 255), 0.35))):
            jp = _jitter(pts, s * 0.0022 * (1 + k), rng)
            cv.draw.line(jp, fill=value, width=max(1, round(width * (1.0 if k == 0 else 0.8))), joint="curve")
