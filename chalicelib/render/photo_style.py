"""The offline stylisation of a photo: the face found, cropped and centred, then a per-style
treatment made with real image processing (Pillow only: edges, posterisation, palettes, blurs).

What the procedural provider makes for a photo generation when no vendor account is set, so the
whole photo flow runs with no account (``make run``, the tests). Deterministic: the same photo,
style, seed and likeness give the same picture. Pillow is imported inside the functions only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.domain.uploads import FaceBox

if TYPE_CHECKING:
    from PIL import Image, ImageFilter

# The crop around the face: this many face-widths wide, the face a little above the centre.
_CROP_FACES = 2.2
_FACE_ABOVE_CENTRE = 0.08


def face_crop(photo: Image.Image, face: FaceBox, side: int) -> Image.Image:
    """A square of ``side`` pixels around the face, centred on it (clamped inside the photo)."""
    from PIL import Image

    width, height = photo.size
    fx, fy = face.x * width, face.y * height
    fw, fh = face.w * width, face.h * height
    crop = min(max(fw, fh) * _CROP_FACES, width, height)
    cx = fx + fw / 2
    cy = fy + fh / 2 + crop * _FACE_ABOVE_CENTRE
    left = min(max(cx - crop / 2, 0), width - crop)
    top = min(max(cy - crop / 2, 0), height - crop)
    box = (round(left), round(top), round(left + crop), round(top + crop))
    return photo.crop(box).resize((side, side), Image.Resampling.LANCZOS)


def stylise(
    photo: Image.Image, face: FaceBox, style_id: str, *, size: int, seed: int, likeness: float
) -> Image.Image:
    """The photo's face in ``style_id``, ``size`` pixels square. ``likeness`` (0..1): how much of
    the photo shows through the treatment (1: the most)."""
    from PIL import Image

    base = face_crop(photo.convert("RGB"), face, size)
    treat = _TREATMENTS.get(style_id, _flat)
    styled = treat(base, random.Random(seed))
    # Likeness: blend some of the (lightly smoothed) photo back over the treatment.
    keep = max(0.0, min(1.0, likeness)) * 0.35
    if keep > 0:
        styled = Image.blend(styled, _smooth(base), keep)
    return styled


# --- the building blocks -----------------------------------------------------------------------


def _smooth(image: Image.Image) -> Image.Image:
    from PIL import ImageFilter

    return image.filter(ImageFilter.SMOOTH_MORE)


def _edges(image: Image.Image, threshold: int = 40, width: int = 3) -> Image.Image:
    """Dark outlines on white (L mode), as an ink line over a cel-shaded picture."""
    from PIL import ImageFilter, ImageOps

    grey = ImageOps.grayscale(image).filter(ImageFilter.GaussianBlur(1.2))
    edges = grey.filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > threshold else 0)
    if width > 1:
        edges = edges.filter(ImageFilter.MaxFilter(width))
    return ImageOps.invert(edges)


def _ink(image: Image.Image, lines: Image.Image) -> Image.Image:
    from PIL import ImageChops

    return ImageChops.multiply(image, lines.convert("RGB"))


def _cel(image: Image.Image, levels: int, blur: float = 2.0) -> Image.Image:
    from PIL import ImageFilter, ImageOps

    soft = image.filter(ImageFilter.GaussianBlur(blur)).filter(ImageFilter.ModeFilter(5))
    return ImageOps.posterize(soft, levels)


def _saturate(image: Image.Image, factor: float) -> Image.Image:
    from PIL import ImageEnhance

    return ImageEnhance.Color(image).enhance(factor)


def _vignette(image: Image.Image, strength: float) -> Image.Image:
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    width, height = image.size
    mask = Image.new("L", image.size, 0)
    inset = int(min(width, height) * 0.08)
    ImageDraw.Draw(mask).ellipse((inset, inset, width - inset, height - inset), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(min(width, height) / 8))
    dark = Image.new("RGB", image.size, (0, 0, 0))
    shaded = Image.composite(image, dark, mask)
    return ImageChops.blend(image, shaded, strength)


# --- the treatments, one per style -------------------------------------------------------------


def _professional(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import Image, ImageEnhance, ImageOps

    graded = ImageOps.autocontrast(_smooth(image), cutoff=1)
    graded = ImageEnhance.Brightness(graded).enhance(1.05)
    warm = Image.new("RGB", image.size, (255, 236, 214))
    return Image.blend(_vignette(graded, 0.35), warm, 0.06)


def _anime(image: Image.Image, rng: random.Random) -> Image.Image:
    cel = _saturate(_cel(image, 3, blur=2.5), 1.5)
    return _ink(cel, _edges(image, threshold=30, width=3))


def _cartoon3d(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import ImageEnhance, ImageFilter

    soft = image.filter(ImageFilter.GaussianBlur(3)).filter(ImageFilter.ModeFilter(7))
    soft = ImageEnhance.Contrast(_saturate(soft, 1.4)).enhance(1.2)
    # A soft top-left highlight for the rounded, lit look of a 3D render.
    return _vignette(soft.filter(ImageFilter.SMOOTH_MORE), 0.45)


def _watercolor(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import Image, ImageFilter

    washed = image.filter(ImageFilter.ModeFilter(9)).filter(ImageFilter.GaussianBlur(2.5))
    washed = _saturate(washed, 1.2)
    paper = Image.new("RGB", image.size, (250, 246, 236))
    light = Image.blend(washed, paper, 0.3)
    lines = _edges(image, threshold=60, width=1)
    return Image.blend(light, _ink(light, lines), 0.5)


def _pixel(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import Image

    small = image.resize((32, 32), Image.Resampling.BOX)
    small = small.quantize(colors=16, method=Image.Quantize.MEDIANCUT).convert("RGB")
    return small.resize(image.size, Image.Resampling.NEAREST)


def _oil(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import ImageEnhance, ImageFilter

    strokes = image.filter(ImageFilter.ModeFilter(9)).filter(ImageFilter.ModeFilter(5))
    strokes = ImageEnhance.Contrast(_saturate(strokes, 1.3)).enhance(1.15)
    return strokes.filter(ImageFilter.DETAIL)


def _flat(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import Image

    palette = image.filter(_mode(7)).quantize(colors=6, method=Image.Quantize.MEDIANCUT).convert("RGB")
    return _ink(palette, _edges(image, threshold=50, width=3))


def _cyberpunk(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import Image, ImageChops, ImageFilter, ImageOps

    grey = ImageOps.autocontrast(ImageOps.grayscale(image), cutoff=2)
    toned = ImageOps.colorize(grey, black=(20, 0, 45), white=(0, 255, 230), mid=(255, 0, 170))
    glow = ImageOps.invert(_edges(image, threshold=35, width=3)).filter(ImageFilter.GaussianBlur(2))
    neon = Image.merge("RGB", (glow, glow.point(lambda v: v // 3), glow))
    return ImageChops.screen(toned, neon)


def _sketch(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import Image, ImageChops, ImageFilter, ImageOps

    grey = ImageOps.grayscale(image).filter(ImageFilter.SMOOTH)
    # Pencil lines where the picture changes: the difference from a blurred copy, amplified and
    # inverted, over a light wash of the tones.
    detail = ImageChops.difference(grey, grey.filter(ImageFilter.GaussianBlur(3)))
    lines = ImageOps.invert(detail.point(lambda v: min(255, v * 6)))
    wash = grey.point(lambda v: 170 + v // 3)
    paper = ImageChops.multiply(lines, wash)
    return Image.merge("RGB", (paper, paper, paper))


def _popart(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import ImageOps

    grey = ImageOps.autocontrast(ImageOps.grayscale(image.filter(_mode(5))), cutoff=3)
    palettes = [
        ((30, 20, 90), (255, 40, 120), (255, 230, 0)),
        ((10, 60, 120), (0, 200, 255), (255, 120, 200)),
        ((90, 0, 30), (255, 110, 0), (120, 255, 120)),
    ]
    black, mid, white = palettes[rng.randrange(len(palettes))]
    toned = ImageOps.colorize(ImageOps.posterize(grey, 2), black=black, white=white, mid=mid)
    return _ink(toned, _edges(image, threshold=45, width=3))


def _mode(size: int) -> ImageFilter.ModeFilter:
    from PIL import ImageFilter

    return ImageFilter.ModeFilter(size)


_TREATMENTS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "professional": _professional,
    "anime": _anime,
    "cartoon3d": _cartoon3d,
    "watercolor": _watercolor,
    "pixel": _pixel,
    "oil": _oil,
    "flat": _flat,
    "cyberpunk": _cyberpunk,
    "sketch": _sketch,
    "popart": _popart,
}
