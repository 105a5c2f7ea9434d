"""Painting helpers shared by the shaded techniques (studio, 3D cartoon, oil, cyberpunk)."""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps

from chalicelib.render._canvas import Canvas, radial_ramp, silhouette
from chalicelib.render._color import RGB, shade
from chalicelib.render._scene import Part, Scene


def backdrop(size: int, centre: RGB, edge: RGB, focus: tuple[float, float] = (0.5, 0.4),
             reach: float = 0.75) -> Image.Image:
    """A radial backdrop; computed at 128 px and scaled up since it has no detail."""
    ramp = radial_ramp(128, 128, focus, reach)
    small = ImageOps.colorize(ramp, black=centre, white=edge)
    return small.resize((size, size), Image.Resampling.BILINEAR)


def drop_shadow(cv: Canvas, scene: Scene, colour: RGB, strength: float, offset: tuple[float, float],
                blur: float) -> None:
    """A soft shadow of the figure on the backdrop, blurred at 1/8 scale to stay cheap."""
    small = max(32, cv.size // 8)
    m = silhouette(scene, small)
    shifted = Image.new("L", m.size, 0)  # ImageChops.offset would wrap the torso round to the top
    shifted.paste(m, (round(offset[0] * small), round(offset[1] * small)))
    m = shifted
    m = m.filter(ImageFilter.GaussianBlur(blur * small))
    m = m.point(lambda v: round(v * strength)).resize((cv.size, cv.size), Image.Resampling.BILINEAR)
    cv.img.paste(Image.new("RGB", (cv.size, cv.size), colour), (0, 0), m)


def paint_shaded(cv: Canvas, part: Part, light: float, dark: float, focus: tuple[float, float],
                 reach: float = 1.0, gamma: float = 1.0, warm: float = 0.0) -> None:
    """Fill ``part`` with a radial light ramp around its own bounding box.

    ``warm`` shifts the shadow hue (negative = towards red), which keeps skin alive.
    """
    box = cv.box(part)
    if box[2] <= box[0] or box[3] <= box[1]:
        return
    c = part.color
    fill = cv.shaded(part, box, shade(c, light, -warm * 0.3), c, shade(c, -dark, warm, 1.08), focus, reach, gamma)
    m = cv.mask(part, box)
    cv.composite(fill, m, box)
    cv.remember(part, m, box)
