"""Watercolour: translucent washes with ragged, pigment-darkened edges on textured paper."""

from __future__ import annotations

import random
from dataclasses import replace

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from chalicelib.render._canvas import Canvas, IBox, fractal_noise, grain, radial_ramp
from chalicelib.render._color import RGB, lighten, luminance, mix, shade
from chalicelib.render._geom import Ellipse, Stroke, outline_points
from chalicelib.render._scene import Features, Part, build_scene
from chalicelib.render._spec import AvatarSpec

FEATURES = Features(
    eye_kind="realistic", nose_kind="line", lips=True, line_scale=0.85, soft_shadows=True, eye_scale=1.0
)
_WASH_ROLES = {"skin", "hair", "cloth", "cloth2", "hat", "accent", "lip"}
_SEPIA: RGB = (92, 64, 52)


class _Wash:
    """Shared noise fields so every wash on the sheet bleeds the same way."""

    def __init__(self, w: int, rng: random.Random) -> None:
        self.w = w
        # Half-range noise (0..127): enough to rag an edge, never enough to punch holes or islands.
        self.edge = (
            fractal_noise(256, rng, (6, 16, 48))
            .point(lambda v: v // 2)
            .resize((w, w), Image.Resampling.BICUBIC)
        )
        self.pigment = fractal_noise(160, rng, (4, 10, 24)).resize((w, w), Image.Resampling.BICUBIC)

    def paint(
        self, cv: Canvas, part: Part, colour: RGB, opacity: float, *, ragged: float, paper: RGB | None = None
    ) -> None:
        """Lay a wash. With ``paper`` it first covers what lies beneath, so shapes hidden
        behind the head (neck top, ears) don't show through the translucent pigment."""
        box = cv.box(part, pad_unit=0.02)
        if box[2] <= box[0] or box[3] <= box[1]:
            return
        # Rag the full-strength shape first; a faint part (stubble) only lowers the opacity.
        solid = Part(part.name, part.role, colour, part.shapes, clip=part.clip)
        m = self.ragged(cv.mask(solid, box, soft=False), box, ragged)
        opacity *= part.alpha
        # Pigment pools at the edge of a drying wash: darken where the mask falls off.
        inner = m.filter(ImageFilter.GaussianBlur(self.w * 0.006))
        edge = ImageChops.subtract(m, inner).point(lambda v: min(255, v * 3))
        # Skin gets a gentle granulation; hair and cloth a blotchier one.
        k = 0.45 if part.role == "skin" else 1.0
        pig = ImageOps.colorize(
            self.pigment.crop(box), black=shade(colour, -0.12 * k), white=lighten(colour, 0.3 * k), mid=colour
        )
        if paper is not None:
            pig = Image.blend(Image.new("RGB", pig.size, paper), pig, opacity)
            cv.composite(pig, m, box)
        else:
            cv.composite(pig, m.point(lambda v: round(v * opacity)), box)
        if part.shade:
            # A second, darker glaze away from the light gives the form a wet-in-wet shadow.
            ramp = radial_ramp(box[2] - box[0], box[3] - box[1], (0.35, 0.3), 0.95)
            glaze = ImageChops.multiply(m, ramp.point(lambda v: max(0, v - 90)))
            cv.composite(shade(colour, -0.16, -0.01, 1.1), glaze, box)
        cv.composite(shade(colour, -0.14, 0, 1.1), edge.point(lambda v: round(v * 0.55)), box)
        cv.remember(part, m, box)

    def ragged(self, m: Image.Image, box: IBox, amount: float) -> Image.Image:
        """Blur, perturb with noise and re-threshold: an uneven, bleeding edge."""
        if amount <= 0:
            return m
        soft = m.filter(ImageFilter.GaussianBlur(self.w * 0.009 * amount))
        wob = ImageChops.add(soft, self.edge.crop(box), scale=1.0, offset=-64)
        return wob.point(lambda v: 0 if v < 110 else 255 if v > 150 else (v - 110) * 255 // 40)


def render(spec: AvatarSpec, size: int, rng: random.Random) -> Image.Image:
    # Washes are soft anyway, so no supersampling; small sizes are painted larger then reduced.
    w = max(size, 512)
    scene = build_scene(spec, FEATURES)
    paper = spec.bg
    cv = Canvas(w, paper, scene)
    wash = _Wash(w, rng)
    _blooms(cv, spec, wash, rng)
    for part in scene.parts:
        if part.role in _WASH_ROLES and part.clip is None:
            opacity = 0.88 if part.role in ("skin", "hair") else 0.8
            # Watercolour is luminous: pigments are thinned towards the paper, darks most of all.
            colour = lighten(part.color, 0.2 if luminance(part.color) < 0.2 else 0.08)
            wash.paint(cv, part, colour, opacity, ragged=1.0 if part.shade else 0.5, paper=paper)
            if part.name in ("head", "hair_front", "hair_back", "body"):
                _ink(cv, part, rng)
        elif part.role == "shadow":
            cv.paint(
                Part(
                    part.name,
                    part.role,
                    shade(part.color, -0.03, -0.01),
                    part.shapes,
                    clip=part.clip,
                    alpha=part.alpha * 0.75,
                    soft=max(part.soft, 0.006),
                )
            )
        else:
            # Small features: a touch of softness so they sit in the paint.
            cv.paint(
                replace(
                    part,
                    alpha=part.alpha * (0.92 if part.role not in ("shine", "eye_white") else 1.0),
                    soft=max(part.soft, 0.0012),
                )
            )
    _splatter(cv, spec, rng)
    paper_tex = _paper(w, rng)
    img = ImageChops.multiply(cv.img, paper_tex)
    if w != size:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img


def _blooms(cv: Canvas, spec: AvatarSpec, wash: _Wash, rng: random.Random) -> None:
    """Loose background blooms in the accent colour, mostly behind the head."""
    colours = [spec.accent, spec.cloth_alt, spec.accent]
    for i, c in enumerate(colours):
        cx = 0.5 + rng.uniform(-0.25, 0.25)
        cy = 0.4 + rng.uniform(-0.2, 0.15)
        r = rng.uniform(0.22, 0.34)
        blob = Part(f"bloom{i}", "bg", c, (Ellipse(cx, cy, r, r * rng.uniform(0.75, 1.1)),))
        wash.paint(cv, blob, mix(c, spec.bg, 0.35), 0.45, ragged=3.0)


def _splatter(cv: Canvas, spec: AvatarSpec, rng: random.Random) -> None:
    """Flicked droplets around the figure, a signature of loose watercolour illustration."""
    d = ImageDraw.Draw(cv.img)
    w = cv.size
    for _ in range(26):
        x, y = rng.uniform(0.02, 0.98), rng.uniform(0.02, 0.7)
        if abs(x - 0.5) < 0.27 and y > 0.1:
            continue
        r = w * rng.uniform(0.002, 0.008)
        c = mix(rng.choice((spec.accent, spec.cloth, spec.cloth_alt)), spec.bg, rng.uniform(0.1, 0.45))
        d.ellipse((x * w - r, y * w - r, x * w + r, y * w + r), fill=c)


def _ink(cv: Canvas, part: Part, rng: random.Random) -> None:
    """A loose sepia contour, slightly off-register with the wash as in ink-and-wash work."""
    s = cv.size
    dx, dy = rng.uniform(-0.004, 0.004) * s, rng.uniform(-0.004, 0.004) * s
    d = ImageDraw.Draw(cv.img)
    for sh in part.shapes:
        if isinstance(sh, (Stroke, Ellipse)):
            continue
        pts = [(x * s + dx, y * s + dy) for x, y in outline_points(sh)]
        # Leave gaps: draw the contour in a few broken runs.
        n = len(pts)
        i = rng.randrange(0, max(1, n // 6))
        while i < n - 1:
            run = rng.randint(n // 8 + 2, n // 3 + 3)
            d.line(pts[i : min(n, i + run)], fill=_SEPIA, width=max(1, round(s * 0.0018)), joint="curve")
            i += run + rng.randint(1, max(2, n // 12))


def _paper(w: int, rng: random.Random) -> Image.Image:
    """Cold-press paper: soft mottling plus fine tooth, as an RGB multiply layer."""
    mottle = fractal_noise(96, rng, (4, 12, 32)).resize((w, w), Image.Resampling.BICUBIC)
    tooth = grain(w, rng, 128).filter(ImageFilter.GaussianBlur(0.6))
    tex = ImageChops.add(
        mottle.point(lambda v: 236 + v * 19 // 255),
        tooth.point(lambda v: v * 12 // 255),
        scale=1.0,
        offset=-6,
    )
    return Image.merge("RGB", (tex, tex, tex))
