"""Studio headshot: grey gradient backdrop, soft key light from the upper left, no outlines."""

from __future__ import annotations

import dataclasses
import random

from PIL import Image

from chalicelib.render._canvas import Canvas, finish
from chalicelib.render._color import lighten, mix, shade
from chalicelib.render._paint import backdrop, paint_shaded
from chalicelib.render._scene import Features, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="realistic",
    nose_kind="soft",
    lips=True,
    soft_shadows=True,
    line_scale=0.85,
    eye_scale=0.95,
    brow_scale=0.95,
    mouth_scale=0.95,
    hair_strands=True,
)

# Light falls from the upper left; each volume is lit around this point of its own box.
_KEY = (0.36, 0.28)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    del rng  # the studio look has no random texture
    if spec.outfit in ("hoodie", "vneck"):
        # A work headshot: hoodies become blazers and V-necks collared shirts.
        spec = dataclasses.replace(spec, outfit="blazer" if spec.outfit == "hoodie" else "collar")
    # A work photo: no winks or open-mouthed expressions.
    spec = dataclasses.replace(
        spec,
        hair_style="quiff" if spec.hair_style == "spiky" else spec.hair_style,
        eyes="open" if spec.eyes == "wink" else spec.eyes,
        mouth="smile" if spec.mouth == "open" else spec.mouth,
    )
    if spec.hat != "none" or spec.glasses == "sun":
        spec = dataclasses.replace(
            spec, hat="none", glasses="none" if spec.glasses == "sun" else spec.glasses
        )
    w = size * 2
    scene = build_scene(spec, FEATURES)
    bg = backdrop(
        w,
        lighten(spec.bg, 0.35),
        shade(spec.bg, -0.16),
        focus=(0.42, 0.38),
        reach=0.8,
        shadow=(scene, shade(spec.bg, -0.3), 0.35, (0.03, 0.02), 0.035),
    )
    cv = Canvas(w, bg, scene)
    for part in scene.parts:
        if part.shade:
            if part.role == "skin":
                paint_shaded(cv, part, 0.06, 0.11, focus=_KEY, reach=0.95, gamma=1.4, warm=-0.015)
            elif part.role == "hair":
                paint_shaded(cv, part, 0.1, 0.1, focus=(0.35, 0.15), reach=0.9, gamma=1.2)
            else:
                paint_shaded(cv, part, 0.06, 0.12, focus=(0.35, 0.05), reach=1.0, gamma=1.1)
        elif part.role == "shadow":
            cv.paint(part, mix(part.color, shade(part.color, -0.05), 0.5))
        else:
            cv.paint(part)
    return finish(cv.img, size)
