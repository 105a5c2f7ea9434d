"""Anime: big highlighted eyes, pointed chin, cel shadows and bold coloured outlines."""

from __future__ import annotations

import dataclasses
import math
import random

from PIL import Image, ImageDraw

from chalicelib.render._canvas import Canvas, finish
from chalicelib.render._color import RGB, lighten, luminance, mix, shade
from chalicelib.render._paint import backdrop
from chalicelib.render._scene import Features, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="anime",
    nose_kind="tiny",
    chin_taper=0.38,
    eye_scale=1.28,
    cel_shadows=True,
    hair_shine=True,
    line_scale=1.0,
    brow_scale=0.6,
    mouth_scale=0.7,
)
_HAIR_MAP = {"buzz": "spiky", "crop": "swept", "quiff": "spiky", "afro": "curly"}
_OUTLINE_W = 0.0058


def _ink(c: RGB) -> RGB:
    """Outlines are a deep shade of the fill, not black: the usual cel-animation look."""
    return mix(shade(c, -0.42, -0.02, 1.2), (40, 18, 42), 0.45)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    iris = spec.hair if 0.15 < luminance(spec.hair) < 0.85 else spec.accent
    spec = dataclasses.replace(
        spec,
        hair_style=_HAIR_MAP.get(spec.hair_style, spec.hair_style),
        skin=lighten(spec.skin, 0.08),
        iris=iris,
        facial_hair="none",
        face_shape="heart" if spec.face_shape == "square" else spec.face_shape,
        eyes="open" if spec.eyes == "sleepy" else spec.eyes,
    )
    w = size * 2
    scene = build_scene(spec, FEATURES)
    bg = backdrop(w, lighten(spec.bg, 0.5), shade(spec.bg, -0.04), focus=(0.5, 0.2), reach=1.0)
    _sparkles(bg, spec, rng)
    cv = Canvas(w, bg, scene)
    for original in scene.parts:
        part = original
        if part.role == "shadow" and part.soft:
            # Cel shading: shadows keep hard edges.
            part = dataclasses.replace(part, soft=0.0)
        cv.paint(part, outline=_ink(part.color), outline_w=_OUTLINE_W)
    return finish(cv.img, size)


def _sparkles(img: Image.Image, spec: AvatarSpec, rng: random.Random) -> None:
    """Soft bokeh discs and four-point sparkles: a shoujo-manga backdrop."""
    w = img.size[0]
    layer = Image.new("RGB", (w, w), lighten(spec.bg, 0.7))
    m = Image.new("L", (w, w), 0)
    d = ImageDraw.Draw(m)
    for _ in range(7):
        x, y, r = rng.uniform(0, 1) * w, rng.uniform(0, 0.7) * w, rng.uniform(0.04, 0.11) * w
        d.ellipse((x - r, y - r, x + r, y + r), fill=rng.randint(60, 110))
    for _ in range(9):
        x, y = rng.uniform(0.03, 0.97) * w, rng.uniform(0.03, 0.6) * w
        if abs(x - w / 2) < w * 0.22 and y > w * 0.12:
            continue  # keep sparkles off the face
        r = rng.uniform(0.012, 0.028) * w
        pts = []
        for i in range(8):
            a = math.pi / 4 * i
            rr = r if i % 2 == 0 else r * 0.22
            pts.append((x + rr * math.cos(a), y + rr * math.sin(a)))
        d.polygon(pts, fill=235)
    img.paste(layer, (0, 0), m)
