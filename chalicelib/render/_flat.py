"""Flat illustration: pure flat colour and geometric shapes, no outlines or gradients."""

from __future__ import annotations

import dataclasses
import random

from PIL import Image

from chalicelib.render._canvas import Canvas, finish
from chalicelib.render._color import lighten, shade
from chalicelib.render._geom import Ellipse, Poly
from chalicelib.render._scene import Features, Part, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(eye_kind="dot", nose_kind="line", cel_shadows=True, line_scale=1.1, brow_scale=1.1)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    ss = 2
    w = size * ss
    scene = build_scene(spec, FEATURES)
    cv = Canvas(w, spec.bg, scene)
    # A big disc and a quarter ring in lighter tints: geometric decor that survives a round crop.
    tint = lighten(spec.bg, 0.22)
    cx = 0.5 + (0.12 if rng.random() < 0.5 else -0.12)
    cv.paint(Part("disc", "bg", tint, (Ellipse(cx, 0.36, 0.36, 0.36),)))
    cv.paint(Part("chip", "bg", shade(spec.bg, -0.06), (Poly(((0.0, 0.78), (0.0, 1.0), (0.32, 1.0))),)))
    for original in scene.parts:
        part = original
        if part.role == "shadow" and part.soft:
            # Flat style keeps shadows hard-edged.
            part = dataclasses.replace(part, soft=0.0)
        cv.paint(part)
    return finish(cv.img, size)
