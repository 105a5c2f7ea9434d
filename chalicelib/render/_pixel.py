"""Pixel art: the avatar is drawn on a coarse grid with a limited palette, then scaled with NEAREST."""

from __future__ import annotations

import dataclasses
import random

from PIL import Image, ImageDraw

from chalicelib.render._canvas import rasterize, rgb_at
from chalicelib.render._color import RGB, darken, lighten, luminance, mix, shade
from chalicelib.render._scene import Features, Scene, build_scene
from chalicelib.render._spec import AvatarSpec

GRID = 32
FEATURES = Features(eye_kind="dot", nose_kind="dots", line_scale=1.0)
# Shapes are rasterised at 8x the grid and point-sampled, which keeps edges stair-stepped
# but stable; faces are then placed pixel by pixel.
_SAMPLE = 8
_FEATURE_ROLES = {
    "pupil",
    "shine",
    "line",
    "brow",
    "mouth",
    "teeth",
    "tongue",
    "lip",
    "blush",
    "frame",
    "lens",
    "iris",
    "eye_white",
    "metal",
    "shadow",
    "neon",
}
_OUTLINE: RGB = (29, 24, 36)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    spec = dataclasses.replace(
        spec,
        facial_hair="none" if spec.facial_hair == "stubble" else spec.facial_hair,
        hair_style="crop" if spec.hair_style == "buzz" else spec.hair_style,
        eyes="open" if spec.eyes == "sleepy" else spec.eyes,
    )
    scene = build_scene(spec, FEATURES)
    big = GRID * _SAMPLE
    img = Image.new("RGB", (big, big), spec.bg)
    d = ImageDraw.Draw(img)
    fig = Image.new("L", (big, big), 0)
    fd = ImageDraw.Draw(fig)
    for part in scene.parts:
        if part.role in _FEATURE_ROLES or part.clip or part.alpha < 0.5:
            continue
        rasterize(d, part.shapes, part.color, big)
        rasterize(fd, part.shapes, 255, big)
    grid = img.resize((GRID, GRID), Image.Resampling.NEAREST)
    mask = fig.resize((GRID, GRID), Image.Resampling.NEAREST)
    _background(grid, mask, spec, rng)
    _shade_edges(grid, mask, spec)
    _face(grid, scene, spec)
    _outline(grid, mask)
    return grid.resize((size, size), Image.Resampling.NEAREST)


def _px(grid: Image.Image, x: int, y: int, c: RGB) -> None:
    if 0 <= x < GRID and 0 <= y < GRID:
        grid.putpixel((x, y), c)


def _get(grid: Image.Image, x: int, y: int) -> RGB:
    return rgb_at(grid, x, y)


def _background(grid: Image.Image, mask: Image.Image, spec: AvatarSpec, rng: random.Random) -> None:
    """A dithered band at the bottom and a few twinkling stars: classic 8-bit backdrop."""
    dark = shade(spec.bg, -0.07)
    light = lighten(spec.bg, 0.25)
    for y in range(GRID):
        for x in range(GRID):
            if mask.getpixel((x, y)):
                continue
            if y >= GRID - 9 and ((x + y) % 2 == 0 or y >= GRID - 5):
                grid.putpixel((x, y), dark)
    for _ in range(7):
        x, y = rng.randrange(1, GRID - 1), rng.randrange(1, GRID // 2)
        if not mask.getpixel((x, y)) and not mask.getpixel((x, y + 1)):
            grid.putpixel((x, y), light)
            if rng.random() < 0.4:
                for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    if not mask.getpixel((x + dx, y + dy)):
                        grid.putpixel((x + dx, y + dy), mix(light, spec.bg, 0.5))


def _shade_edges(grid: Image.Image, mask: Image.Image, spec: AvatarSpec) -> None:
    """One-pixel shadow on the skin just under the hair and on the right edge of volumes."""
    skin = spec.skin
    shadow = shade(skin, -0.12, -0.01)
    hair_hi = lighten(spec.hair, 0.25) if luminance(spec.hair) < 0.8 else shade(spec.hair, -0.1)
    above = [[_get(grid, x, y) for x in range(GRID)] for y in range(GRID)]
    for y in range(1, GRID):
        for x in range(1, GRID - 1):
            c = above[y][x]
            if c == skin and above[y - 1][x] == spec.hair:
                grid.putpixel((x, y), shadow)
            elif c == spec.hair and above[y - 1][x] != spec.hair and x < GRID // 2 + 2 and (x + y) % 3:
                grid.putpixel((x, y + 1 if y + 1 < GRID and above[y + 1][x] == spec.hair else y), hair_hi)
            elif (
                mask.getpixel((x, y)) and not mask.getpixel((x + 1, y)) and c in (skin, spec.hair, spec.cloth)
            ):
                grid.putpixel((x, y), shade(c, -0.1))


def _face(grid: Image.Image, scene: Scene, spec: AvatarSpec) -> None:
    """Eyes, brows, nose, mouth and accessories placed pixel by pixel."""
    lay = scene.lay

    def g(v: float) -> int:
        return int(v * GRID)

    cx = lay.cx * GRID
    ey = g(lay.eye_y)
    ink = _OUTLINE if luminance(spec.skin) > 0.25 else (12, 8, 14)
    hair_dark = darken(spec.hair, 0.25) if luminance(spec.hair) > 0.2 else (12, 10, 14)
    skin_dark = shade(spec.skin, -0.16, -0.01)
    dx = lay.eye_dx * GRID
    lx, rx = round(cx - dx - 0.5), round(cx + dx - 0.5)
    closed = {-1: False, 1: False}
    if spec.eyes == "happy":
        closed = {-1: True, 1: True}
    elif spec.eyes == "wink":
        closed[-1 if spec.mirror else 1] = True
    for s, x in ((-1, lx), (1, rx)):
        if closed[s]:
            _px(grid, x - 1, ey, ink)
            _px(grid, x, ey - 1, ink)
            _px(grid, x + 1, ey, ink)
        else:
            _px(grid, x, ey, ink)
            _px(grid, x, ey - 1, (255, 255, 255) if spec.eyes != "sleepy" else skin_dark)
            _px(grid, x + s, ey, ink if spec.eyes != "sleepy" else _get(grid, x + s, ey))
            _px(grid, x + s, ey - 1, ink if spec.eyes != "sleepy" else skin_dark)
        # Brows sit two rows above the eye: adjacent rows would read as a frown.
        by = ey - 3 - (1 if spec.brows == "raised" else 0)
        for k in (-1, 0, 1):
            _px(grid, x + k + (1 if s > 0 else 0) - 0, by, hair_dark)
    ny = g(lay.nose_y)
    _px(grid, round(cx - 0.5), ny, skin_dark)
    my = g(lay.mouth_y)
    mcol = mix(darken(spec.skin, 0.55), (140, 30, 40), 0.5)
    m0 = round(cx - 0.5)
    if spec.mouth in ("grin", "open"):
        for k in range(-1, 2):
            _px(grid, m0 + k, my, (255, 255, 255) if spec.mouth == "grin" else mcol)
            _px(grid, m0 + k, my + 1, mcol)
        _px(grid, m0 - 2, my - 1, mcol)
        _px(grid, m0 + 2, my - 1, mcol)
    elif spec.mouth == "smile":
        for k in range(-1, 2):
            _px(grid, m0 + k, my, mcol)
        _px(grid, m0 - 2, my - 1, mcol)
        _px(grid, m0 + 2, my - 1, mcol)
    elif spec.mouth == "smirk":
        for k in range(-1, 2):
            _px(grid, m0 + k, my, mcol)
        _px(grid, m0 + (2 if not spec.mirror else -2), my - 1, mcol)
    else:
        for k in (0, 1):
            _px(grid, m0 + k, my, mix(mcol, spec.skin, 0.2))
    if spec.blush:
        pink = mix(spec.skin, (255, 90, 120), 0.45)
        _px(grid, lx - 1, ey + 2, pink)
        _px(grid, rx + 1, ey + 2, pink)
    if spec.facial_hair in ("beard", "mustache"):
        for k in range(-2, 3):
            _px(grid, m0 + k, my - 1, hair_dark)
    if spec.glasses != "none":
        frame = (20, 20, 26) if spec.glasses == "sun" else (40, 40, 50)
        for s, x in ((-1, lx), (1, rx)):
            x0 = x - 1 if s > 0 else x - 2
            for gx in range(x0, x0 + 4):
                _px(grid, gx, ey - 2, frame)
                _px(grid, gx, ey + 1, frame)
            for gy in range(ey - 2, ey + 2):
                _px(grid, x0, gy, frame)
                _px(grid, x0 + 3, gy, frame)
            if spec.glasses == "sun":
                for gx in range(x0 + 1, x0 + 3):
                    for gy in range(ey - 1, ey + 1):
                        _px(grid, gx, gy, (30, 34, 48))
                _px(grid, x0 + 1, ey - 1, (120, 130, 160))
        _px(grid, round(cx - 0.5), ey - 2, frame)
    if spec.earrings != "none":
        ey2 = g(lay.ear_y) + 2
        _px(grid, g(lay.cx - lay.hw * 1.0) - 1, ey2, (255, 205, 60))
        _px(grid, g(lay.cx + lay.hw * 1.0), ey2, (255, 205, 60))


def _outline(grid: Image.Image, mask: Image.Image) -> None:
    """A dark one-pixel contour around the figure, the hallmark of sprite art."""
    edge: list[tuple[int, int]] = []
    for y in range(GRID):
        for x in range(GRID):
            if mask.getpixel((x, y)):
                continue
            for ddx, ddy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                nx, ny = x + ddx, y + ddy
                if 0 <= nx < GRID and 0 <= ny < GRID and mask.getpixel((nx, ny)):
                    edge.append((x, y))
                    break
    for x, y in edge:
        grid.putpixel((x, y), _OUTLINE)
