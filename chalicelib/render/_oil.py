"""Oil painting: Rembrandt lighting on a dark ground, broken into directional brush strokes."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import replace

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from chalicelib.render._canvas import Canvas, radial_ramp, rgb_at, silhouette
from chalicelib.render._color import RGB, lighten, mix, shade
from chalicelib.render._paint import backdrop, paint_shaded
from chalicelib.render._scene import Features, Scene, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="realistic",
    nose_kind="soft",
    lips=True,
    soft_shadows=True,
    line_scale=0.85,
    hair_strands=True,
    eye_scale=0.95,
)
_WARM: RGB = (255, 214, 160)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    if spec.hair_style == "spiky":
        spec = dataclasses.replace(spec, hair_style="swept")
    if spec.hat in ("cap", "headphones"):
        spec = dataclasses.replace(spec, hat="none")
    # The brushwork is painted at <= 640 px and scaled: strokes hide the softness, and the
    # stroke count (the main cost) stays constant for large outputs.
    w = min(size * 2, 640)
    scene = build_scene(spec, FEATURES)
    glow = mix(spec.bg, spec.accent, 0.35)
    bg = backdrop(w, lighten(glow, 0.18), shade(spec.bg, -0.06), focus=(0.34, 0.34), reach=0.8)
    cv = Canvas(w, bg, scene)
    for part in scene.parts:
        c = (
            mix(part.color, _WARM, 0.05)
            if part.role in ("skin", "hair", "cloth", "cloth2", "hat")
            else part.color
        )
        p = replace(part, color=c, soft=max(part.soft, 0.002))
        if part.shade:
            # Chiaroscuro: lit from the upper left, strong fall-off into the shadow side.
            paint_shaded(
                cv, p, 0.05, 0.32, focus=(0.26, 0.22), reach=0.75, gamma=0.85, warm=-0.01, shadow_sat=0.8
            )
        else:
            cv.paint(p)
    _rembrandt(cv)
    sil = silhouette(scene, w)
    img = _brushwork(cv.img, sil, scene, rng)
    img = img.resize((size, size), Image.Resampling.BICUBIC) if img.size[0] != size else img
    return _canvas_weave(img)


def _rembrandt(cv: Canvas) -> None:
    """One warm key light from the upper left; everything else sinks into shadow."""
    w = cv.size
    ramp = radial_ramp(64, 64, (0.33, 0.3), 0.95).point(lambda v: round(min(255, max(0, v - 70) * 1.3)))
    m = ramp.resize((w, w), Image.Resampling.BILINEAR).point(lambda v: round(v * 0.6))
    cv.img.paste(Image.new("RGB", (w, w), (14, 9, 6)), (0, 0), m)


def _brushwork(img: Image.Image, sil: Image.Image, scene: Scene, rng: random.Random) -> Image.Image:
    """Re-paint the picture with short strokes that sample its colours, plus impasto relief."""
    lay = scene.lay
    w = img.size[0]
    out = img.copy()
    d = ImageDraw.Draw(out)
    height = Image.new("L", (w, w), 128)
    hd = ImageDraw.Draw(height)
    # Keep the eyes and mouth crisp: strokes never start there.
    protect = [
        (lay.cx, (lay.brow_y + lay.eye_y) / 2, lay.hw * 0.9, (lay.eye_y - lay.brow_y) / 2 + 0.035),
        (lay.cx, lay.mouth_y + 0.01, 0.05, 0.03),
    ]
    n = int(2600 * (w / 640) ** 2)
    hx, hy = lay.cx * w, lay.cy * w
    for _ in range(n):
        u, v = rng.random(), rng.random()
        if any(abs(u - px) < rx and abs(v - py) < ry for px, py, rx, ry in protect):
            continue
        x, y = u * w, v * w
        inside = sil.getpixel((int(x), int(y)))
        if inside:
            # Follow the form: strokes wrap around the head centre.
            a = math.atan2(y - hy, x - hx) + math.pi / 2 + rng.uniform(-0.35, 0.35)
            length = w * rng.uniform(0.01, 0.022)
            width = w * rng.uniform(0.006, 0.01)
        else:
            a = math.radians(rng.choice((-50.0, 130.0)) + rng.uniform(-25, 25))
            length = w * rng.uniform(0.03, 0.07)
            width = w * rng.uniform(0.01, 0.018)
        # Figure strokes stay close to the underpainting; the ground can be looser.
        spread = 0.028 if inside else 0.05
        col = shade(rgb_at(img, int(x), int(y)), rng.uniform(-spread, spread))
        dx, dy = math.cos(a) * length / 2, math.sin(a) * length / 2
        ex, ey = int(min(w - 1, max(0, x + dx))), int(min(w - 1, max(0, y + dy)))
        if bool(sil.getpixel((ex, ey))) != bool(inside):
            dx, dy = dx * 0.3, dy * 0.3  # don't drag background paint across the silhouette
        seg = (x - dx, y - dy, x + dx, y + dy)
        d.line(seg, fill=col, width=max(1, round(width)))
        hd.line(seg, fill=rng.randint(90, 200), width=max(1, round(width * 0.7)))
    relief = height.filter(ImageFilter.EMBOSS)
    relief = Image.merge("RGB", (relief, relief, relief))
    return ImageChops.soft_light(out, relief)


def _canvas_weave(img: Image.Image) -> Image.Image:
    """A fine linen weave multiplied over the final size, so it stays crisp when upscaled."""
    w = img.size[0]
    cell = max(2, w // 256)
    tile = Image.new("L", (cell * 2, cell * 2), 255)
    td = ImageDraw.Draw(tile)
    td.rectangle((0, 0, cell - 1, cell - 1), fill=246)
    td.rectangle((cell, cell, cell * 2 - 1, cell * 2 - 1), fill=249)
    row = Image.new("L", (w, cell * 2))
    for x in range(0, w, cell * 2):
        row.paste(tile, (x, 0))
    weave = Image.new("L", (w, w))
    for y in range(0, w, cell * 2):
        weave.paste(row, (0, y))
    return ImageChops.multiply(img, Image.merge("RGB", (weave, weave, weave)))
