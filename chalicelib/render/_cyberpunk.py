"""Cyberpunk: night-city backdrop, dual neon key lights, glowing rim light and a cyber implant."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import replace

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from chalicelib.render._canvas import Canvas, finish, rasterize, silhouette
from chalicelib.render._color import RGB, darken, lighten, mix
from chalicelib.render._geom import Ellipse, quad, stroke
from chalicelib.render._scene import Features, Scene, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="realistic",
    nose_kind="line",
    soft_shadows=True,
    line_scale=0.9,
    hair_strands=True,
    eye_scale=1.0,
)
_MAGENTA: RGB = (255, 42, 109)
_CYAN: RGB = (5, 217, 232)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    left, right = (_MAGENTA, _CYAN) if not spec.mirror else (_CYAN, _MAGENTA)
    spec = dataclasses.replace(
        spec, iris=right, facial_hair="none" if spec.facial_hair == "stubble" else spec.facial_hair
    )
    w = size * 2
    scene = build_scene(spec, FEATURES)
    _implants(scene, spec, left, right)
    cv = Canvas(w, _city(w, spec, left, right, rng), scene)
    night = darken(spec.bg, 0.2)
    for part in scene.parts:
        c = (
            mix(part.color, night, 0.28)
            if part.role not in ("neon", "shine", "eye_white", "iris", "pupil", "teeth")
            else part.color
        )
        if part.shade:
            box = cv.box(part)
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            # Two coloured key lights from either side with a dark core: the classic neon portrait.
            ramp = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90)
            ramp = ramp.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.BILINEAR)
            fill = ImageOps.colorize(
                ImageOps.invert(ramp), black=mix(c, right, 0.42), mid=darken(c, 0.2), white=mix(c, left, 0.42)
            )
            m = cv.mask(part, box)
            cv.composite(fill, m, box)
            cv.remember(part, m, box)
        elif part.role == "neon":
            cv.paint(part)
        else:
            cv.paint(replace(part, color=c))
    # Light effects need no supersampling: apply them after the downsample, at output size.
    img = finish(cv.img, size)
    img = _rim_light(img, scene, left, right)
    img = _glow(img, scene)
    return _scanlines(img)


def _implants(scene: Scene, spec: AvatarSpec, left: RGB, right: RGB) -> None:
    """A neon circuit trace on one cheek (and a visor instead of sunglasses)."""
    lay = scene.lay
    s = 1 if spec.mirror else -1
    x0 = lay.cx + s * lay.hw * 0.78
    y0 = lay.eye_y + lay.hh * 0.12
    trace = [
        (x0, y0),
        (x0 - s * lay.hw * 0.06, y0 + lay.hh * 0.1),
        (x0 - s * lay.hw * 0.06, y0 + lay.hh * 0.26),
        (x0 - s * lay.hw * 0.14, y0 + lay.hh * 0.34),
    ]
    colour = left if s < 0 else right
    scene.add("implant", "neon", lighten(colour, 0.2), stroke(trace, 0.0035))
    for i, (px, py) in enumerate((trace[0], trace[-1])):
        scene.add(f"implant_dot{i}", "neon", lighten(colour, 0.4), Ellipse(px, py, 0.0035, 0.0035))
    if spec.glasses == "sun":
        scene.parts[:] = [p for p in scene.parts if not p.name.startswith(("lens", "rim", "bridge"))]
        band = quad(
            (lay.cx - lay.hw * 0.95, lay.eye_y - 0.004),
            (lay.cx, lay.eye_y - 0.02),
            (lay.cx + lay.hw * 0.95, lay.eye_y - 0.004),
        )
        scene.add("visor", "neon", mix(left, right, 0.5), stroke(band, 0.05), alpha=0.78)
        scene.add("visor_line", "neon", (255, 255, 255), stroke(band, 0.006), alpha=0.8)


def _city(w: int, spec: AvatarSpec, left: RGB, right: RGB, rng: random.Random) -> Image.Image:
    """Skyline silhouettes with lit windows, a neon ring and haze, drawn at 1/4 size."""
    s = max(64, w // 4)
    top, bottom = darken(spec.bg, 0.3), mix(spec.bg_alt, left, 0.22)
    ramp = Image.linear_gradient("L").resize((s, s))
    img = ImageOps.colorize(ramp, black=top, white=bottom)
    d = ImageDraw.Draw(img)
    glow = Image.new("RGB", (s, s), (0, 0, 0))
    gd = ImageDraw.Draw(glow)
    # A big neon ring behind the head.
    r = s * 0.36
    ring_c = (s * 0.5, s * 0.4)
    ring_col = mix(left, right, rng.random() * 0.6)
    for target in (d, gd):
        target.ellipse(
            (ring_c[0] - r, ring_c[1] - r, ring_c[0] + r, ring_c[1] + r),
            outline=ring_col,
            width=max(2, s // 90),
        )
    for layer, shade_k in ((0, 0.55), (1, 0.75)):
        x = -rng.uniform(0, s * 0.05)
        while x < s:
            bw = rng.uniform(0.06, 0.14) * s
            bh = rng.uniform(0.25, 0.6 if layer == 0 else 0.42) * s
            y = s - bh
            body = darken(mix(spec.bg, (10, 6, 30), 0.5), shade_k - 0.3 * layer)
            d.rectangle((x, y, x + bw, s), fill=body)
            for wy in range(int(y + s * 0.02), s, max(3, s // 40)):
                for wx in range(int(x + s * 0.012), int(x + bw - s * 0.01), max(3, s // 45)):
                    if rng.random() < 0.22:
                        col = rng.choice((left, right, (249, 248, 113)))
                        d.point((wx, wy), fill=col)
                        gd.point((wx, wy), fill=darken(col, 0.4))
            if rng.random() < 0.35:  # a neon sign on the building
                sy = y + rng.uniform(0.05, 0.3) * bh
                sc = rng.choice((left, right))
                for target in (d, gd):
                    target.line((x + bw * 0.2, sy, x + bw * 0.8, sy), fill=sc, width=max(1, s // 120))
            x += bw + rng.uniform(0.0, 0.03) * s
    glow = glow.filter(ImageFilter.GaussianBlur(s * 0.012))
    img = ImageChops.add(img, glow)
    return img.resize((w, w), Image.Resampling.BILINEAR)


def _rim_light(img: Image.Image, scene: Scene, left: RGB, right: RGB) -> Image.Image:
    """Edge light: silhouette minus itself shifted, coloured per side, with a soft bloom."""
    size = img.size[0]
    s = max(64, size // 2)
    sil = silhouette(scene, s)
    d = max(1, round(s * 0.007))
    layer = Image.new("RGB", (s, s), (0, 0, 0))
    total = Image.new("L", (s, s), 0)
    for colour, dx in ((left, d), (right, -d)):
        shifted = Image.new("L", sil.size, 0)
        shifted.paste(sil, (dx, 0))
        # A slight blur of the thin rim anti-aliases it before it is scaled up.
        rim = ImageChops.subtract(sil, shifted).filter(ImageFilter.GaussianBlur(max(0.6, s / 900)))
        rim = rim.point(lambda v: min(255, v * 2))
        small = rim.resize((s // 2, s // 2), Image.Resampling.BILINEAR)
        soft = small.filter(ImageFilter.GaussianBlur(s * 0.008)).point(lambda v: min(200, v * 2))
        m = ImageChops.lighter(rim, soft.resize((s, s), Image.Resampling.BILINEAR))
        layer.paste(lighten(colour, 0.15), (0, 0), m)
        total = ImageChops.lighter(total, m)
    if s != size:
        layer = layer.resize((size, size), Image.Resampling.BILINEAR)
        total = total.resize((size, size), Image.Resampling.BILINEAR)
    img.paste(layer, (0, 0), total)
    return img


def _glow(img: Image.Image, scene: Scene) -> Image.Image:
    """Bloom for the neon parts (implant, visor) so they read as emitting light."""
    # Only the visor blooms; a glowing cheek implant reads as a blemish at thumbnail size.
    neon = [p for p in scene.parts if p.role == "neon" and p.name.startswith("visor")]
    if not neon:
        return img
    size = img.size[0]
    s = max(32, size // 4)
    layer = Image.new("RGB", (s, s), (0, 0, 0))
    d = ImageDraw.Draw(layer)
    for p in neon:
        rasterize(d, p.shapes, darken(p.color, 0.35), s, grow=0.5)
    layer = layer.filter(ImageFilter.GaussianBlur(s * 0.012)).resize((size, size), Image.Resampling.BILINEAR)
    return ImageChops.add(img, layer)


def _scanlines(img: Image.Image) -> Image.Image:
    """Faint horizontal scanlines: a screen-lit, synthetic finish."""
    w, h = img.size
    step = max(3, w // 170)
    lines = Image.new("L", (1, step), 255)
    lines.putpixel((0, 0), 232)
    pattern = lines.resize((w, step), Image.Resampling.NEAREST)
    tiled = Image.new("L", (w, h), 255)
    for y in range(0, h, step):
        tiled.paste(pattern, (0, y))
    return ImageChops.multiply(img, Image.merge("RGB", (tiled, tiled, tiled)))
