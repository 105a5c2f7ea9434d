"""Pop art: thick black outlines, loud flat colour, Ben-Day halftone dots on skin and shadows."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import replace

from PIL import Image, ImageChops, ImageDraw

from chalicelib.render._canvas import Canvas, dot_screen, finish
from chalicelib.render._color import RGB, mix, saturate, shade
from chalicelib.render._scene import Features, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="realistic",
    nose_kind="line",
    lips=True,
    cel_shadows=True,
    line_scale=1.5,
    eye_scale=1.12,
    brow_scale=1.25,
    mouth_scale=1.1,
    ink=(0, 0, 0),
    hair_strands=True,
)
_OUTLINE_W = 0.011
_BLACK: RGB = (0, 0, 0)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    spec = dataclasses.replace(
        spec, skin=saturate(spec.skin, 1.25), lashes=True if spec.facial_hair == "none" else spec.lashes
    )
    w = size * 2
    scene = build_scene(spec, FEATURES)
    cv = Canvas(w, spec.bg, scene)
    _background(cv, spec, rng)
    pitch = w * 0.016
    skin_dots = dot_screen(w, pitch, pitch * 0.22)
    shadow_dots = dot_screen(w, pitch * 0.8, pitch * 0.33)
    for part in scene.parts:
        colour = part.color
        if part.role == "lip":
            colour = (226, 30, 52) if part.name == "lip_low" else (196, 18, 40)
        elif part.name == "hair_strands":
            colour = _BLACK
        if part.role == "shadow" and part.name.startswith(("hair_cast", "neck_shadow")):
            # Shadows are printed as dense dots of a deeper tone instead of a flat fill.
            box = cv.box(part)
            m = cv.mask(part, box, soft=False)
            dots = ImageChops.multiply(m, ImageChops.invert(shadow_dots.crop(box)))
            cv.composite(shade(part.color, -0.12, -0.02, 1.3), dots, box)
            continue
        flat = replace(part, color=colour, soft=0.0)
        res = cv.paint(flat, outline=_BLACK, outline_w=_OUTLINE_W)
        if part.role == "skin" and part.shade:
            box = cv.box(flat)
            m = res[0] if res else cv.mask(flat, box)
            box = res[1] if res else box
            dots = ImageChops.multiply(m, ImageChops.invert(skin_dots.crop(box)))
            cv.composite(mix(part.color, (230, 60, 80), 0.35), dots, box)
    return finish(cv.img, size)


def _background(cv: Canvas, spec: AvatarSpec, rng: random.Random) -> None:
    """Either a comic sunburst or big halftone dots that swell towards one corner."""
    w = cv.size
    d = ImageDraw.Draw(cv.img)
    alt = spec.bg_alt if spec.bg_alt != spec.bg else shade(spec.bg, 0.12)
    if rng.random() < 0.5:
        n = 18
        c = (w * 0.5, w * 0.42)
        off = rng.uniform(0, math.tau / n)
        for i in range(0, n, 2):
            a0, a1 = off + math.tau * i / n, off + math.tau * (i + 1) / n
            d.polygon(
                [
                    c,
                    (c[0] + 2 * w * math.cos(a0), c[1] + 2 * w * math.sin(a0)),
                    (c[0] + 2 * w * math.cos(a1), c[1] + 2 * w * math.sin(a1)),
                ],
                fill=shade(spec.bg, 0.1),
            )
        return
    pitch = w / 22
    corner = (0.0, 0.0) if rng.random() < 0.5 else (1.0, 0.0)
    dot = shade(alt, -0.08)
    y = 0.0
    row = 0
    while y < w + pitch:
        x = (pitch / 2) * (row % 2)
        while x < w + pitch:
            t = 1 - min(1.0, math.hypot(x / w - corner[0], y / w - corner[1]) / 1.25)
            r = pitch * 0.5 * (0.15 + 0.85 * t)
            d.ellipse((x - r, y - r, x + r, y + r), fill=dot)
            x += pitch
        y += pitch * 0.866
        row += 1
