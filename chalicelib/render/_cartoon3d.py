"""3D cartoon: big round head, glossy eyes, strong radial shading so every shape reads as a volume."""

from __future__ import annotations

import dataclasses
import random

from PIL import Image

from chalicelib.render._canvas import Canvas, finish
from chalicelib.render._color import lighten, saturate, shade
from chalicelib.render._paint import backdrop, paint_shaded
from chalicelib.render._scene import Features, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="glossy",
    nose_kind="button",
    head_scale=1.1,
    chin_taper=0.1,
    eye_scale=1.2,
    soft_shadows=True,
    hair_shine=True,
    hair_strands=True,
    line_scale=1.0,
    brow_scale=1.2,
    mouth_scale=1.05,
)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    del rng
    if spec.face_shape in ("heart", "square"):
        spec = dataclasses.replace(spec, face_shape="round")
    if spec.eyes == "sleepy":
        spec = dataclasses.replace(spec, eyes="open")  # half-lidded glossy eyes read as grumpy
    spec = dataclasses.replace(spec, skin=saturate(spec.skin, 1.15), hair=saturate(spec.hair, 1.1))
    w = size * 2
    scene = build_scene(spec, FEATURES)
    bg = backdrop(
        w,
        lighten(spec.bg, 0.45),
        shade(spec.bg, -0.08),
        focus=(0.5, 0.35),
        reach=0.85,
        shadow=(scene, shade(spec.bg, -0.25), 0.45, (0.0, 0.03), 0.03),
    )
    cv = Canvas(w, bg, scene)
    for part in scene.parts:
        if part.shade:
            # gamma > 1 keeps the lit centre wide and rolls off fast at the rim: a rounded, plastic look.
            if part.role == "skin":
                paint_shaded(cv, part, 0.1, 0.16, focus=(0.4, 0.3), reach=0.85, gamma=1.8, warm=-0.02)
            elif part.role in ("hair",):
                paint_shaded(cv, part, 0.14, 0.2, focus=(0.4, 0.2), reach=0.85, gamma=1.5)
            else:
                paint_shaded(cv, part, 0.12, 0.18, focus=(0.4, 0.15), reach=0.9, gamma=1.6)
        else:
            cv.paint(part)
    return finish(cv.img, size)
