"""Painting helpers shared by the shaded techniques (studio, 3D cartoon, oil, cyberpunk)."""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps

from chalicelib.render._canvas import Canvas, radial_ramp, silhouette
from chalicelib.render._color import RGB, shade
from chalicelib.render._scene import Part, Scene


def backdrop(
    size: int,
    centre: RGB,
    edge: RGB,
    *,
    focus: tuple[float, float] = (0.5, 0.4),
    reach: float = 0.75,
    shadow: tuple[Scene, RGB, float, tuple[float, float], float] | None = None,
) -> Image.Image:
    """A radial backdrop, optionally with the figure's soft drop shadow on it.

    Both have no fine detail, so they are composed at 256 px and scaled up once.
    """
    small = 256
    ramp = radial_ramp(small, small, focus, reach)
    img = ImageOps.colorize(ramp, black=centre, white=edge)
    if shadow is not None:
        scene, colour, strength, offset, blur = shadow
        m = silhouette(scene, small)
        shifted = Image.new("L", m.size, 0)  # ImageChops.offset would wrap the torso round to the top
        shifted.paste(m, (round(offset[0] * small), round(offset[1] * small)))
        m = shifted.filter(ImageFilter.GaussianBlur(blur * small)).point(lambda v: round(v * strength))
        img.paste(Image.new("RGB", m.size, colour), (0, 0), m)
    return img.resize((size, size), Image.Resampling.BILINEAR)


def paint_shaded(
    cv: Canvas,
    part: Part,
    light: float,
    dark: float,
    *,
    focus: tuple[float, float],
    reach: float = 1.0,
    gamma: float = 1.0,
    warm: float = 0.0,
    shadow_sat: float = 1.08,
) -> None:
    """Fill ``part`` with a radial light ramp around its own bounding box.

    ``warm`` shifts the shadow hue (negative = towards red), which keeps skin alive.
    """
    box = cv.box(part)
    if box[2] <= box[0] or box[3] <= box[1]:
        return
    c = part.color
    tones = (shade(c, light, -warm * 0.3), c, shade(c, -dark, warm, shadow_sat))
    fill = cv.shaded(box, tones, focus=focus, reach=reach, gamma=gamma)
    m = cv.mask(part, box)
    cv.composite(fill, m, box)
    cv.remember(part, m, box)
