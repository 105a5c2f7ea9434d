"""Rasterises scene parts with Pillow: direct fills, masks, clipping, gradients and textures.

Everything works on bounding-box crops so the cost of a part is proportional to its size,
which keeps a 1024 px render (drawn supersampled) well inside the time budget.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from chalicelib.render._color import RGB
from chalicelib.render._geom import Ellipse, Poly, Shape, union_bounds
from chalicelib.render._scene import Part, Scene

IBox = tuple[int, int, int, int]


class Canvas:
    """An RGB working image of ``size`` px plus the masks later parts clip against."""

    def __init__(self, size: int, background: RGB | Image.Image, scene: Scene) -> None:
        self.size = size
        if isinstance(background, Image.Image):
            self.img = background if background.mode == "RGB" else background.convert("RGB")
        else:
            self.img = Image.new("RGB", (size, size), background)
        self.draw = ImageDraw.Draw(self.img)
        self.keep = {p.clip for p in scene.parts if p.clip}
        self.masks: dict[str, tuple[Image.Image, IBox]] = {}

    # ---------------------------------------------------------------- geometry

    def box(self, part: Part, pad_unit: float = 0.0) -> IBox:
        x0, y0, x1, y1 = union_bounds(s.bounds() for s in part.shapes)
        pad = (pad_unit + part.soft * 2.5) * self.size + 2
        s = self.size
        return (
            max(0, math.floor(x0 * s - pad)),
            max(0, math.floor(y0 * s - pad)),
            min(s, math.ceil(x1 * s + pad)),
            min(s, math.ceil(y1 * s + pad)),
        )

    def draw_shapes(
        self,
        draw: ImageDraw.ImageDraw,
        shapes: Iterable[Shape],
        fill: RGB | int,
        *,
        ox: float = 0.0,
        oy: float = 0.0,
        grow: float = 0.0,
    ) -> None:
        rasterize(draw, shapes, fill, self.size, ox=ox, oy=oy, grow=grow)

    # ---------------------------------------------------------------- masks

    def mask(self, part: Part, box: IBox, soft: bool = True) -> Image.Image:
        """Coverage of ``part`` inside ``box``, with softening, clipping and alpha applied."""
        w, h = box[2] - box[0], box[3] - box[1]
        m = Image.new("L", (w, h), 0)
        self.draw_shapes(ImageDraw.Draw(m), part.shapes, 255, ox=box[0], oy=box[1])
        if soft and part.soft > 0:
            m = m.filter(ImageFilter.GaussianBlur(part.soft * self.size))
        if part.clip:
            m = ImageChops.multiply(m, self.clip_mask(part.clip, box))
        if part.alpha < 1.0:
            a = part.alpha
            m = m.point(lambda v: round(v * a))
        return m

    def clip_mask(self, name: str, box: IBox) -> Image.Image:
        out = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
        if name in self.masks:
            m, mb = self.masks[name]
            out.paste(m, (mb[0] - box[0], mb[1] - box[1]))
        return out

    def remember(self, part: Part, m: Image.Image, box: IBox) -> None:
        if part.name in self.keep:
            self.masks[part.name] = (m, box)

    def needs_mask(self, part: Part) -> bool:
        return part.clip is not None or part.alpha < 1.0 or part.soft > 0 or part.name in self.keep

    # ---------------------------------------------------------------- painting

    def paint(
        self,
        part: Part,
        fill: RGB | Image.Image | None = None,
        outline: RGB | None = None,
        outline_w: float = 0.0,
    ) -> tuple[Image.Image, IBox] | None:
        """Paint ``part`` with a solid colour or a fill image (canvas-sized or box-sized).

        Returns the coverage mask when one was built, so callers can add texture on top.
        """
        colour = part.color if fill is None else fill
        grow = outline_w * self.size / 2 if outline is not None and part.outline else 0.0
        if grow > 0:
            self.draw_shapes(self.draw, part.shapes, outline or (0, 0, 0), grow=grow)
        if isinstance(colour, tuple) and not self.needs_mask(part):
            self.draw_shapes(self.draw, part.shapes, colour)
            return None
        box = self.box(part)
        if box[2] <= box[0] or box[3] <= box[1]:
            return None
        m = self.mask(part, box)
        self.composite(colour, m, box)
        self.remember(part, m, box)
        return m, box

    def composite(self, fill: RGB | Image.Image, m: Image.Image, box: IBox) -> None:
        if isinstance(fill, tuple):
            self.img.paste(Image.new("RGB", m.size, fill), box[:2], m)
            return
        src = fill if fill.size == m.size else fill.crop(box)
        self.img.paste(src.convert("RGB") if src.mode != "RGB" else src, box[:2], m)

    def shaded(
        self,
        box: IBox,
        tones: tuple[RGB, RGB, RGB],
        *,
        focus: tuple[float, float] = (0.35, 0.3),
        reach: float = 1.0,
        gamma: float = 1.0,
    ) -> Image.Image:
        """A box-sized radial ramp over ``tones`` (light, mid, dark): light at ``focus``, dark at the rim."""
        light, mid, dark = tones
        w, h = box[2] - box[0], box[3] - box[1]
        ramp = radial_ramp(w, h, focus, reach)
        if gamma != 1.0:
            ramp = ramp.point(lambda v: round(255 * (v / 255) ** gamma))
        return ImageOps.colorize(ramp, black=light, white=dark, mid=mid)


def rgb_at(img: Image.Image, x: int, y: int) -> RGB:
    """One RGB pixel as a plain tuple (Pillow's getpixel is loosely typed)."""
    p = img.getpixel((x, y))
    if not isinstance(p, tuple):
        raise TypeError(f"expected an RGB image, got mode {img.mode}")
    return int(p[0]), int(p[1]), int(p[2])


_SILHOUETTE_ROLES = {"skin", "hair", "cloth", "cloth2", "hat", "accent"}


def rasterize(
    draw: ImageDraw.ImageDraw,
    shapes: Iterable[Shape],
    fill: RGB | int,
    scale: float,
    *,
    ox: float = 0.0,
    oy: float = 0.0,
    grow: float = 0.0,
) -> None:
    """Draw unit-space shapes at ``scale`` px, optionally grown by ``grow`` px (outline underlays)."""
    s = scale
    for sh in shapes:
        if isinstance(sh, Ellipse):
            draw.ellipse(
                (
                    sh.cx * s - sh.rx * s - ox - grow,
                    sh.cy * s - sh.ry * s - oy - grow,
                    sh.cx * s + sh.rx * s - ox + grow,
                    sh.cy * s + sh.ry * s - oy + grow,
                ),
                fill=fill,
            )
        elif isinstance(sh, Poly):
            pts = [(x * s - ox, y * s - oy) for x, y in sh.pts]
            draw.polygon(pts, fill=fill)
            if grow > 0:
                _line(draw, [*pts, pts[0]], fill, grow * 2)
        else:
            pts = [(x * s - ox, y * s - oy) for x, y in sh.pts]
            _line(draw, pts, fill, sh.width * s + grow * 2)


def silhouette(scene: Scene, size: int, roles: frozenset[str] | None = None) -> Image.Image:
    """The figure's coverage (L) at ``size`` px: drop shadows, rim light, brush direction."""
    m = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(m)
    wanted = roles or frozenset(_SILHOUETTE_ROLES)
    for p in scene.parts:
        if p.role in wanted and p.clip is None and p.alpha >= 0.5:
            rasterize(d, p.shapes, 255, size)
    return m


def _line(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], fill: RGB | int, width: float) -> None:
    """A polyline with round caps and joints (Pillow's own caps are square)."""
    w = max(1, round(width))
    if len(pts) > 1:
        draw.line(pts, fill=fill, width=w, joint="curve")
    r = w / 2
    if w > 2:
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


@lru_cache(maxsize=1)
def _radial_source() -> Image.Image:
    """A 768 px radial distance field (0 at centre, 255 at radius 128, clamped beyond)."""
    g = Image.radial_gradient("L").point(lambda v: min(255, round(v * 255 / 181)))
    big = Image.new("L", (768, 768), 255)
    big.paste(g, (256, 256))
    return big


def radial_ramp(w: int, h: int, focus: tuple[float, float], reach: float) -> Image.Image:
    """Radial gradient for a w x h box, centred at ``focus`` (fractions of the box).

    ``reach`` scales the radius relative to the box's larger side.
    """
    r = max(w, h) * reach
    k = 128 / max(1.0, r)
    fx, fy = focus[0] * w, focus[1] * h
    left, top = 384 - fx * k, 384 - fy * k
    box = (max(0.0, left), max(0.0, top), min(768.0, left + w * k), min(768.0, top + h * k))
    return _radial_source().resize((max(1, w), max(1, h)), Image.Resampling.BILINEAR, box=box)


def noise(
    size: int, cells: int, rng: random.Random, resample: Image.Resampling = Image.Resampling.BICUBIC
) -> Image.Image:
    """Deterministic value noise: ``cells`` x ``cells`` random bytes scaled up to ``size``.

    Pillow's own ``effect_noise`` uses C ``rand()``, which is not seedable, so we roll our own.
    """
    base = Image.frombytes("L", (cells, cells), rng.randbytes(cells * cells))
    return base.resize((size, size), resample)


def fractal_noise(size: int, rng: random.Random, octaves: tuple[int, ...] = (4, 9, 24, 64)) -> Image.Image:
    """A few octaves of value noise blended together (clouds, paper, canvas)."""
    out = noise(size, octaves[0], rng)
    for i, c in enumerate(octaves[1:], start=2):
        out = Image.blend(out, noise(size, c, rng), 1 / i)
    return ImageOps.autocontrast(out, cutoff=1)


def grain(size: int, rng: random.Random, cells: int = 256) -> Image.Image:
    """Fine per-pixel grain, tiled from one random tile to keep it cheap at 2048 px."""
    tile = Image.frombytes("L", (cells, cells), rng.randbytes(cells * cells))
    if size <= cells:
        return tile.crop((0, 0, size, size))
    out = Image.new("L", (size, size))
    for y in range(0, size, cells):
        for x in range(0, size, cells):
            out.paste(tile, (x, y))
    return out


def dot_screen(size: int, pitch: float, radius: float, ink: int = 0, paper: int = 255) -> Image.Image:
    """A staggered halftone dot pattern (L), drawn once as a tile and then tiled."""
    p = max(4, round(pitch))
    tile = Image.new("L", (p, p), paper)
    d = ImageDraw.Draw(tile)
    r = radius
    for x, y in ((0, 0), (p, 0), (0, p), (p, p), (p / 2, p / 2)):
        d.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    row = Image.new("L", (size, p), paper)
    for x in range(0, size, p):
        row.paste(tile, (x, 0))
    out = Image.new("L", (size, size), paper)
    for y in range(0, size, p):
        out.paste(row, (0, y))
    return out


def finish(img: Image.Image, size: int) -> Image.Image:
    """Downsample the supersampled working image to the requested size."""
    if img.size[0] == size:
        return img
    factor = img.size[0] // size
    if factor * size == img.size[0] and factor > 1:
        return img.reduce(factor)
    return img.resize(
        (size, size), Image.Resampling.LANCZOS if img.size[0] > size else Image.Resampling.BICUBIC
    )
