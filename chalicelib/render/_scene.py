"""Builds the layered avatar (head, face, hair, clothes, accessories) as unit-space parts.

Techniques share this geometry and differ in how they paint each part, plus a few
proportions (eye kind, nose kind, head size) passed in as :class:`Features`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

from chalicelib.render._color import RGB, darken, lighten, luminance, mix, shade
from chalicelib.render._geom import (
    Ellipse,
    Poly,
    Pt,
    Shape,
    Stroke,
    arc,
    cubic,
    mirror,
    mirror_shape,
    poly,
    quad,
    spline,
    stroke,
    superellipse,
)
from chalicelib.render._spec import AvatarSpec

WHITE: RGB = (255, 255, 255)


@dataclass(frozen=True)
class Part:
    """One painted layer. ``role`` tells techniques what it is (skin, hair, cloth, line...)."""

    name: str
    role: str
    color: RGB
    shapes: tuple[Shape, ...]
    outline: bool = False  # a silhouette edge that inked techniques trace
    shade: bool = False  # a volume that shaded techniques light
    clip: str | None = None  # paint only inside this earlier part
    alpha: float = 1.0
    soft: float = 0.0  # edge blur radius in unit coordinates (soft shadows, blush)


@dataclass(frozen=True)
class Features:
    """Technique-specific proportions applied on top of the seeded spec."""

    eye_kind: str = "realistic"  # dot | realistic | anime | glossy
    nose_kind: str = "line"  # line | soft | button | tiny | dots
    lips: bool = False
    head_scale: float = 1.0
    chin_taper: float | None = None
    eye_scale: float = 1.0
    line_scale: float = 1.0
    brow_scale: float = 1.0
    mouth_scale: float = 1.0
    ink: RGB | None = None
    cel_shadows: bool = False
    soft_shadows: bool = False
    hair_shine: bool = False
    hair_strands: bool = False


@dataclass(frozen=True)
class Layout:
    cx: float
    cy: float
    hw: float
    hh: float
    eye_y: float
    eye_dx: float
    brow_y: float
    nose_y: float
    mouth_y: float
    ear_y: float
    neck_w: float
    shoulder_y: float
    face: tuple[Pt, ...]


@dataclass
class Scene:
    parts: list[Part] = field(default_factory=list)
    layout: Layout | None = None

    def add(self, name: str, role: str, color: RGB, *shapes: Shape, **kw: object) -> None:
        self.parts.append(Part(name, role, color, tuple(shapes), **kw))  # type: ignore[arg-type]

    def names(self) -> set[str]:
        return {p.name for p in self.parts}

    @property
    def lay(self) -> Layout:
        if self.layout is None:
            raise RuntimeError("scene has no layout yet")
        return self.layout


@dataclass(frozen=True)
class Palette:
    skin: RGB
    skin_shadow: RGB
    skin_deep: RGB
    lip: RGB
    mouth: RGB
    hair: RGB
    hair_shadow: RGB
    hair_light: RGB
    brow: RGB
    ink: RGB
    cloth: RGB
    cloth_shadow: RGB
    cloth_alt: RGB
    accent: RGB
    iris: RGB
    metal: RGB


# The side-swept fringe (a swept cut, and a ponytail's front), from temple to temple.
SWEPT_FRINGE = [
    (1.02, 0.05),
    (0.88, -0.45),
    (0.45, -0.6),
    (-0.1, -0.42),
    (-0.55, -0.22),
    (-0.88, -0.02),
    (-1.04, 0.14),
]


def make_palette(spec: AvatarSpec, feats: Features) -> Palette:
    skin = spec.skin
    hair = spec.hair
    ink = feats.ink or mix(darken(hair, 0.55), (40, 24, 20), 0.5)
    brow = darken(hair, 0.12) if luminance(hair) < 0.55 else mix(hair, (90, 64, 44), 0.45)
    return Palette(
        skin=skin,
        skin_shadow=shade(skin, -0.09, -0.012, 1.08),
        skin_deep=shade(skin, -0.22, -0.02, 1.1),
        lip=mix(shade(skin, -0.08), (196, 78, 86), 0.42),
        mouth=mix(darken(skin, 0.62), (110, 20, 30), 0.4),
        hair=hair,
        hair_shadow=shade(hair, -0.1 if luminance(hair) > 0.15 else 0.04, 0, 1.05),
        hair_light=shade(hair, 0.14 if luminance(hair) < 0.8 else -0.08, 0.0, 1.0),
        brow=brow,
        ink=ink,
        cloth=spec.cloth,
        cloth_shadow=shade(spec.cloth, -0.1),
        cloth_alt=spec.cloth_alt,
        accent=spec.accent,
        iris=spec.iris,
        metal=(226, 182, 84),
    )


def _taper(pts: list[Pt], w0: float, w1: float) -> Poly:
    """A stroke whose width runs from ``w0`` to ``w1``: brows and lashes look inked, not piped."""
    left: list[Pt] = []
    right: list[Pt] = []
    n = len(pts)
    for i, (x, y) in enumerate(pts):
        a = pts[max(0, i - 1)]
        b = pts[min(n - 1, i + 1)]
        dx, dy = b[0] - a[0], b[1] - a[1]
        d = math.hypot(dx, dy) or 1.0
        w = (w0 + (w1 - w0) * i / max(1, n - 1)) / 2
        nx, ny = -dy / d * w, dx / d * w
        left.append((x + nx, y + ny))
        right.append((x - nx, y - ny))
    return Poly(tuple(left + right[::-1]))


def face_contour(c: Pt, half: Pt, shape: str, taper: float | None) -> list[Pt]:
    """Head outline: full cranium on top, a jaw that narrows to the chin below."""
    cx, cy = c
    hw, hh = half
    t = {"oval": 0.2, "round": 0.08, "heart": 0.32, "square": 0.1}[shape] if taper is None else taper
    jaw = 0.6 if shape == "square" else 1.0
    pts: list[Pt] = []
    n = 96
    for i in range(n):
        a = 2 * math.pi * i / n
        co, si = math.cos(a), math.sin(a)
        if si > 0:
            x = math.copysign(abs(co) ** jaw, co) * (1 - t * si**1.6)
            y = si
        else:
            x, y = co, si * 1.02
        pts.append((cx + hw * x, cy + hh * y))
    return pts


def build_scene(spec: AvatarSpec, feats: Features) -> Scene:
    """Lay out every part back to front."""
    rng = random.Random(spec.detail_seed)
    pal = make_palette(spec, feats)
    sc = Scene()
    cx = 0.5
    hs = feats.head_scale
    hw = 0.168 * spec.head_w * hs
    hh = 0.205 * hs
    cy = 0.445 - (hs - 1) * 0.05
    eye_y = cy + hh * 0.1
    lay = Layout(
        cx=cx,
        cy=cy,
        hw=hw,
        hh=hh,
        eye_y=eye_y,
        eye_dx=hw * 0.43 * spec.eye_gap,
        brow_y=eye_y - hh * 0.21,
        nose_y=cy + hh * 0.4,
        mouth_y=cy + hh * 0.62,
        ear_y=eye_y + hh * 0.1,
        neck_w=0.168 * hs * 0.42,
        shoulder_y=cy + hh + 0.1,
        face=tuple(face_contour((cx, cy), (hw, hh), spec.face_shape, feats.chin_taper)),
    )
    sc.layout = lay
    back, front, locks = _hair(spec, lay)
    if back:
        sc.add("hair_back", "hair", pal.hair, *back, outline=True, shade=True)
    _body(sc, spec, pal, lay)
    if locks:
        sc.add("hair_locks", "hair", pal.hair, *locks, outline=True, shade=True)
    _head(sc, spec, feats, pal, lay, hair_front=front)
    _face(sc, spec, feats, pal, lay, rng=rng)
    if front:
        sc.add(
            "hair_front",
            "hair",
            pal.hair,
            *front,
            outline=True,
            shade=True,
            alpha=0.8 if spec.hair_style == "buzz" else 1.0,
        )
        if feats.hair_strands:
            _hair_strands(sc, pal, lay, spec.hair_style, -1 if spec.mirror else 1)
        if feats.hair_shine and spec.hair_style not in ("buzz", "afro", "curly"):
            _hair_shine(sc, pal, lay, 0.0 if feats.cel_shadows else 0.012)
    _accessories(sc, spec, feats, pal, lay)
    return _zoom(sc, ZOOM, 0.5, 0.47)


# The layout above was designed in a roomy frame; zooming in makes the face fill a round crop.
ZOOM = 1.2


def _zoom_shape(sh: Shape, k: float, ox: float, oy: float) -> Shape:
    if isinstance(sh, Ellipse):
        return Ellipse(ox + (sh.cx - ox) * k, oy + (sh.cy - oy) * k, sh.rx * k, sh.ry * k)
    pts = tuple((ox + (x - ox) * k, oy + (y - oy) * k) for x, y in sh.pts)
    if isinstance(sh, Poly):
        return Poly(pts)
    return Stroke(pts, sh.width * k)


def _zoom(sc: Scene, k: float, ox: float, oy: float) -> Scene:
    lay = sc.lay

    def zx(v: float) -> float:
        return ox + (v - ox) * k

    def zy(v: float) -> float:
        return oy + (v - oy) * k

    out = Scene(
        layout=Layout(
            cx=zx(lay.cx),
            cy=zy(lay.cy),
            hw=lay.hw * k,
            hh=lay.hh * k,
            eye_y=zy(lay.eye_y),
            eye_dx=lay.eye_dx * k,
            brow_y=zy(lay.brow_y),
            nose_y=zy(lay.nose_y),
            mouth_y=zy(lay.mouth_y),
            ear_y=zy(lay.ear_y),
            neck_w=lay.neck_w * k,
            shoulder_y=zy(lay.shoulder_y),
            face=tuple((zx(x), zy(y)) for x, y in lay.face),
        )
    )
    for p in sc.parts:
        out.parts.append(
            replace(p, shapes=tuple(_zoom_shape(s, k, ox, oy) for s in p.shapes), soft=p.soft * k)
        )
    return out


def _hair_shine(sc: Scene, pal: Palette, lay: Layout, soft: float) -> None:
    """The glossy crescent on the crown that cartoon and anime hair get."""
    cx, cy, hw, hh = lay.cx, lay.cy, lay.hw, lay.hh
    top = arc((cx, cy - hh * 0.1), (hw * 0.86, hh * 0.92), 200, 300, 20)
    bot = arc((cx + hw * 0.02, cy - hh * 0.04), (hw * 0.78, hh * 0.76), 300, 200, 20)
    sc.add(
        "hair_shine",
        "shine",
        mix(pal.hair_light, WHITE, 0.3),
        poly(top + bot),
        clip="hair_front",
        alpha=0.45,
        soft=soft,
    )


def _hair_strands(sc: Scene, pal: Palette, lay: Layout, style: str, flip: int) -> None:
    """Thin darker strokes fanning from the crown: hair reads as hair, not a helmet."""
    if style in ("curly", "afro", "buzz"):
        return
    cx, cy, hw, hh = lay.cx, lay.cy, lay.hw, lay.hh
    part_x = cx + flip * hw * 0.25
    strands: list[Shape] = []
    for i in range(9):
        k = -1.0 + 2.0 * i / 8
        end = (cx + hw * k * 0.98, cy - hh * (0.32 - abs(k) * 0.42))
        ctrl = (cx + hw * k * 1.05, cy - hh * 1.0)
        strands.append(stroke(quad((part_x + k * hw * 0.08, cy - hh * 1.12), ctrl, end, 10), 0.0032))
    sc.add("hair_strands", "line", pal.hair_shadow, *strands, clip="hair_front", alpha=0.45)


# --------------------------------------------------------------------------------------------- body


def _body(sc: Scene, spec: AvatarSpec, pal: Palette, lay: Layout) -> None:
    cx, nw, sy = lay.cx, lay.neck_w, lay.shoulder_y
    outfit = spec.outfit
    torso = superellipse((cx, sy + 0.34), (0.41, 0.34), 3.2, 120)
    body_col = pal.cloth
    if outfit == "blazer":
        shirt = (246, 246, 244) if luminance(pal.cloth_alt) < 0.6 else pal.cloth_alt
        sc.add("body", "cloth", body_col, poly(torso), outline=True, shade=True)
        sc.add(
            "shirt",
            "cloth2",
            shirt,
            poly([(cx - nw * 1.75, sy - 0.005), (cx, sy + 0.23), (cx + nw * 1.75, sy - 0.005)]),
            outline=True,
        )
    else:
        sc.add("body", "cloth", body_col, poly(torso), outline=True, shade=True)

    # The neck polygon continues into the neckline so the skin shows through the clothes.
    top_y = lay.cy + lay.hh * 0.35
    left = [(cx - nw, top_y), (cx - nw * 1.02, sy - 0.035)]
    right = [(cx + nw * 1.02, sy - 0.035), (cx + nw, top_y)]
    if outfit in ("crew", "hoodie"):
        neckline = quad((cx - nw * 1.55, sy + 0.004), (cx, sy + 0.085), (cx + nw * 1.55, sy + 0.004))
    elif outfit in ("vneck", "blazer", "collar"):
        # Shirt collars close over the neckline, so it stays shallow enough to hide under them.
        depth = {"vneck": 0.1, "blazer": 0.05, "collar": 0.045}[outfit]
        neckline = [
            (cx - nw * 1.45, sy + 0.0),
            *quad((cx - nw * 0.5, sy + depth * 0.6), (cx, sy + depth), (cx + nw * 0.5, sy + depth * 0.6), 6),
            (cx + nw * 1.45, sy),
        ]
    else:  # turtleneck: the collar hides the neck base
        neckline = quad((cx - nw * 1.1, sy - 0.02), (cx, sy), (cx + nw * 1.1, sy - 0.02))
    sc.add("neck", "skin", pal.skin, poly(left + neckline + right), outline=True, shade=True)
    # Chin shadow on the neck: the head drawn later covers its top, so its visible edge
    # follows the jaw line automatically.
    chin = lay.cy + lay.hh
    sc.add(
        "neck_shadow",
        "shadow",
        pal.skin_shadow,
        poly(
            [
                (cx - nw * 1.1, top_y),
                (cx + nw * 1.1, top_y),
                *quad((cx + nw * 1.1, chin - 0.03), (cx, chin + 0.075), (cx - nw * 1.1, chin - 0.03)),
            ]
        ),
        clip="neck",
        soft=0.01,
    )

    dark = pal.cloth_shadow
    if outfit == "crew":
        sc.add(
            "collar",
            "cloth",
            dark,
            stroke(quad((cx - nw * 1.6, sy + 0.002), (cx, sy + 0.09), (cx + nw * 1.6, sy + 0.002)), 0.016),
        )
    elif outfit == "vneck":
        sc.add(
            "collar",
            "cloth",
            dark,
            stroke(
                [
                    (cx - nw * 1.5, sy - 0.002),
                    *quad((cx - nw * 0.5, sy + 0.062), (cx, sy + 0.104), (cx + nw * 0.5, sy + 0.062), 6),
                    (cx + nw * 1.5, sy - 0.002),
                ],
                0.012,
            ),
        )
    elif outfit == "hoodie":
        sc.add(
            "hood",
            "cloth",
            shade(pal.cloth, 0.04),
            stroke(quad((cx - nw * 2.35, sy + 0.0), (cx, sy + 0.16), (cx + nw * 2.35, sy + 0.0), 20), 0.04),
            outline=True,
        )
        for s in (-1, 1):
            sc.add(
                f"string_{s}",
                "cloth2",
                lighten(pal.cloth, 0.55),
                stroke([(cx + s * nw * 0.55, sy + 0.1), (cx + s * nw * 0.65, sy + 0.2)], 0.008),
            )
            sc.add(f"aglet_{s}", "metal", pal.metal, Ellipse(cx + s * nw * 0.66, sy + 0.205, 0.006, 0.009))
    elif outfit == "turtleneck":
        tn = superellipse((cx, sy - 0.012), (nw * 1.32, 0.042), 3.0, 48)
        sc.add("turtle", "cloth", shade(pal.cloth, 0.03), poly(tn), outline=True, shade=True)
        for k in (-0.5, 0.5):
            sc.add(
                f"fold_{k}",
                "line",
                dark,
                stroke(
                    quad(
                        (cx - nw * 1.1, sy - 0.016 + k * 0.04),
                        (cx, sy - 0.008 + k * 0.04),
                        (cx + nw * 1.1, sy - 0.016 + k * 0.04),
                    ),
                    0.004,
                ),
                alpha=0.5,
            )
    elif outfit in ("collar", "blazer"):
        collar_col = (248, 248, 246) if outfit == "blazer" else lighten(pal.cloth, 0.12)
        for s in (-1, 1):
            wing = [
                (cx + s * nw * 1.0, sy - 0.04),
                (cx + s * nw * 1.75, sy + 0.035),
                (cx + s * nw * 0.12, sy + 0.075),
            ]
            sc.add(f"collar_{s}", "cloth2", collar_col, poly(wing), outline=True)
        if outfit == "blazer":
            for s in (-1, 1):
                lapel = [
                    (cx + s * nw * 1.75, sy - 0.003),
                    (cx + s * nw * 2.3, sy + 0.09),
                    (cx + s * nw * 1.75, sy + 0.11),
                    (cx + s * nw * 0.25, sy + 0.25),
                    (cx + s * nw * 1.05, sy + 0.24),
                ]
                sc.add(f"lapel_{s}", "cloth", shade(pal.cloth, 0.05), poly(lapel), outline=True)
                sc.add(
                    f"lapel_edge_{s}", "line", shade(pal.cloth, -0.12), stroke(lapel[2:], 0.004), alpha=0.8
                )
            if spec.detail_seed % 3:
                tie = [
                    (cx - 0.012, sy + 0.07),
                    (cx + 0.012, sy + 0.07),
                    (cx + 0.024, sy + 0.2),
                    (cx, sy + 0.24),
                    (cx - 0.024, sy + 0.2),
                ]
                sc.add(
                    "tie",
                    "accent",
                    pal.accent if pal.accent != pal.cloth else pal.cloth_alt,
                    poly(tie),
                    outline=True,
                )
                sc.add(
                    "tie_knot",
                    "accent",
                    shade(pal.accent, -0.06),
                    poly(
                        [
                            (cx - 0.016, sy + 0.055),
                            (cx + 0.016, sy + 0.055),
                            (cx + 0.011, sy + 0.08),
                            (cx - 0.011, sy + 0.08),
                        ]
                    ),
                    outline=True,
                )


# --------------------------------------------------------------------------------------------- head


def _head(
    sc: Scene, spec: AvatarSpec, feats: Features, pal: Palette, lay: Layout, *, hair_front: list[Shape]
) -> None:
    cx, hw = lay.cx, lay.hw
    for s in (-1, 1):
        ex = cx + s * hw * 0.97
        sc.add(
            f"ear_{s}",
            "skin",
            pal.skin,
            Ellipse(ex, lay.ear_y, hw * 0.17, lay.hh * 0.2),
            outline=True,
            shade=True,
        )
        sc.add(
            f"ear_in_{s}",
            "shadow",
            pal.skin_shadow,
            stroke(
                arc(
                    (ex + s * hw * 0.01, lay.ear_y),
                    (hw * 0.08, lay.hh * 0.1),
                    250 if s > 0 else -70,
                    440 if s > 0 else 120,
                    10,
                ),
                0.006 * feats.line_scale,
            ),
            alpha=0.8,
        )
        if spec.earrings != "none":
            lobe = (ex + s * hw * 0.02, lay.ear_y + lay.hh * 0.17)
            if spec.earrings == "stud":
                sc.add(
                    f"earring_{s}", "metal", pal.metal, Ellipse(lobe[0], lobe[1], 0.009, 0.009), outline=True
                )
            else:
                ring = arc((lobe[0], lobe[1] + 0.02), (0.016, 0.02), -80, 265, 24)
                sc.add(f"earring_{s}", "metal", pal.metal, stroke(ring, 0.0055))
    sc.add("head", "skin", pal.skin, poly(lay.face), outline=True, shade=True)
    if hair_front and (feats.cel_shadows or feats.soft_shadows) and spec.hair_style != "buzz":
        # The fringe casts a shadow onto the forehead: same shape, nudged down.
        drop = lay.hh * (0.06 if feats.cel_shadows else 0.08)
        shadow = [
            Poly(tuple((x, y + drop) for x, y in sh.pts))
            if isinstance(sh, Poly)
            else Ellipse(sh.cx, sh.cy + drop, sh.rx, sh.ry)
            if isinstance(sh, Ellipse)
            else sh
            for sh in hair_front
        ]
        sc.add(
            "hair_cast",
            "shadow",
            pal.skin_shadow,
            *shadow,
            clip="head",
            soft=0.0 if feats.cel_shadows else 0.018,
            alpha=1.0 if feats.cel_shadows else 0.8,
        )


# --------------------------------------------------------------------------------------------- face


def _face(
    sc: Scene, spec: AvatarSpec, feats: Features, pal: Palette, lay: Layout, *, rng: random.Random
) -> None:
    cx = lay.cx
    lw = feats.line_scale
    if spec.blush:
        for s in (-1, 1):
            sc.add(
                f"blush_{s}",
                "blush",
                shade(mix(pal.skin, (240, 110, 120), 0.45), 0.04),
                Ellipse(cx + s * lay.eye_dx * 1.15, lay.eye_y + lay.hh * 0.33, lay.hw * 0.2, lay.hh * 0.08),
                alpha=0.5,
                soft=0.012,
            )
    if spec.freckles:
        dots: list[Shape] = []
        for s in (-1, 1):
            for _ in range(6):
                fx = cx + s * lay.eye_dx * rng.uniform(0.55, 1.3)
                fy = lay.eye_y + lay.hh * rng.uniform(0.2, 0.36)
                r = rng.uniform(0.0017, 0.0027)
                dots.append(Ellipse(fx, fy, r, r))
        sc.add("freckles", "shadow", mix(pal.skin_deep, pal.skin, 0.25), *dots, alpha=0.6)

    mw = 0.034 * spec.mouth_w * feats.mouth_scale
    my = lay.mouth_y
    if spec.facial_hair in ("beard", "stubble"):
        lower = [p for p in lay.face if p[1] > lay.cy + lay.hh * 0.05]
        lower.sort(key=lambda p: -math.atan2(p[1] - lay.cy, p[0] - cx))
        outer = [(cx + (x - cx) * 1.02, lay.cy + (y - lay.cy) * 1.045) for x, y in lower]
        inner = spline(
            [
                (cx + lay.hw * 0.94, lay.cy + lay.hh * 0.12),
                (cx + lay.hw * 0.72, lay.cy + lay.hh * 0.5),
                (cx + mw * 1.45, my + 0.004),
                (cx + mw * 0.55, my - 0.026),
                (cx - mw * 0.55, my - 0.026),
                (cx - mw * 1.45, my + 0.004),
                (cx - lay.hw * 0.72, lay.cy + lay.hh * 0.5),
                (cx - lay.hw * 0.94, lay.cy + lay.hh * 0.12),
            ],
            5,
        )
        beard_col = pal.hair if luminance(pal.hair) < 0.7 else pal.brow
        if luminance(beard_col) < 0.12:
            beard_col = mix(beard_col, pal.skin, 0.12)  # jet-black beards read as a mask
        sc.add(
            "beard",
            "hair",
            beard_col,
            poly(outer + inner),
            outline=spec.facial_hair == "beard",
            shade=True,
            alpha=1.0 if spec.facial_hair == "beard" else 0.28,
        )

    _nose(sc, spec, feats, pal, lay)
    _mouth(sc, spec, feats, pal, lay, mw=mw)
    if spec.facial_hair == "mustache":
        tache = spline(
            [
                (cx - mw * 1.15, my + 0.003),
                (cx - mw * 0.6, my - 0.02),
                (cx, my - 0.021),
                (cx + mw * 0.6, my - 0.02),
                (cx + mw * 1.15, my + 0.003),
                (cx + mw * 0.5, my - 0.008),
                (cx, my - 0.011),
                (cx - mw * 0.5, my - 0.008),
            ],
            5,
            closed=True,
        )
        sc.add("mustache", "hair", pal.brow, poly(tache), outline=True)
    _eyes(sc, spec, feats, pal, lay)
    # Brows: tapered strokes, inner end thicker, mirrored per side.
    shapes = {
        "soft": (0.0, -0.009, 0.003),
        "raised": (-0.01, -0.018, -0.004),
        "flat": (0.001, -0.004, 0.001),
        "arched": (0.004, -0.015, 0.006),
    }[spec.brows]
    if spec.mouth == "open":
        shapes = (shapes[0] - 0.006, shapes[1] - 0.006, shapes[2] - 0.004)
    bw = 0.011 * feats.brow_scale * lw
    ew = 0.032 * feats.eye_scale
    for s in (-1, 1):
        ex = cx + s * lay.eye_dx
        b_in = (ex - s * ew * 0.85, lay.brow_y + shapes[0])
        b_mid = (ex + s * ew * 0.1, lay.brow_y + shapes[1])
        b_out = (ex + s * ew * 1.2, lay.brow_y + shapes[2])
        sc.add(f"brow_{s}", "brow", pal.brow, _taper(quad(b_in, b_mid, b_out, 10), bw, bw * 0.45))


def _nose(sc: Scene, spec: AvatarSpec, feats: Features, pal: Palette, lay: Layout) -> None:
    cx, ny = lay.cx, lay.nose_y
    lw = feats.line_scale
    kind = feats.nose_kind
    flip = -1 if spec.mirror else 1
    if kind in ("line", "soft"):
        hook = quad(
            (cx + flip * 0.004, ny - 0.04), (cx + flip * 0.017, ny - 0.004), (cx - flip * 0.002, ny + 0.008)
        )
        if kind == "soft":
            sc.add(
                "nose_shade",
                "shadow",
                pal.skin_shadow,
                poly(
                    [
                        (cx + flip * 0.008, ny - 0.03),
                        (cx + flip * 0.016, ny - 0.008),
                        (cx + flip * 0.02, ny + 0.006),
                        (cx - flip * 0.004, ny + 0.01),
                    ]
                ),
                soft=0.007,
                alpha=0.7,
            )
            for s in (-1, 1):
                sc.add(
                    f"nostril_{s}",
                    "line",
                    pal.skin_deep,
                    Ellipse(cx + s * 0.01, ny + 0.004, 0.0055, 0.0032),
                    alpha=0.75,
                    soft=0.002,
                )
            sc.add(
                "nose_tip",
                "shine",
                lighten(pal.skin, 0.35),
                Ellipse(cx - flip * 0.002, ny - 0.008, 0.006, 0.004),
                alpha=0.45,
                soft=0.004,
            )
        else:
            sc.add("nose", "line", pal.skin_deep, stroke(hook, 0.005 * lw), alpha=0.9)
    elif kind == "button":
        sc.add("nose", "skin", pal.skin_shadow, Ellipse(cx, ny, 0.02, 0.015), shade=True)
        sc.add("nose_shine", "shine", WHITE, Ellipse(cx - 0.006, ny - 0.005, 0.006, 0.0038), alpha=0.6)
    elif kind == "tiny":
        sc.add(
            "nose",
            "line",
            pal.skin_deep,
            stroke(
                [(cx + flip * 0.001, ny - 0.004), (cx + flip * 0.006, ny + 0.004), (cx, ny + 0.006)],
                0.004 * lw,
            ),
        )
    else:
        for s in (-1, 1):
            sc.add(f"nostril_{s}", "line", pal.skin_deep, Ellipse(cx + s * 0.008, ny + 0.002, 0.0045, 0.0035))


def _mouth(sc: Scene, spec: AvatarSpec, feats: Features, pal: Palette, lay: Layout, *, mw: float) -> None:
    cx, my = lay.cx, lay.mouth_y
    lw = feats.line_scale
    kind = spec.mouth
    line_col = mix(pal.mouth, pal.lip, 0.25)
    if kind == "grin":
        top = quad((cx - mw * 1.05, my - 0.008), (cx, my + 0.0), (cx + mw * 1.05, my - 0.008))
        bot = quad((cx + mw * 1.05, my - 0.008), (cx, my + 0.05), (cx - mw * 1.05, my - 0.008))
        sc.add("mouth", "mouth", pal.mouth, poly(top + bot), outline=True)
        sc.add("teeth", "teeth", (252, 250, 246), Ellipse(cx, my - 0.012, mw * 0.95, 0.016), clip="mouth")
        sc.add("tongue", "tongue", (232, 106, 116), Ellipse(cx, my + 0.042, mw * 0.6, 0.02), clip="mouth")
        if feats.lips:
            sc.add(
                "lip_low",
                "lip",
                pal.lip,
                stroke(quad((cx + mw * 0.7, my + 0.03), (cx, my + 0.064), (cx - mw * 0.7, my + 0.03)), 0.006),
                alpha=0.55,
            )
    elif kind == "open":
        top = quad((cx - mw * 0.62, my - 0.002), (cx, my + 0.004), (cx + mw * 0.62, my - 0.002))
        bot = quad((cx + mw * 0.62, my - 0.002), (cx, my + 0.042), (cx - mw * 0.62, my - 0.002))
        sc.add("mouth", "mouth", pal.mouth, poly(top + bot), outline=True)
        sc.add("tongue", "tongue", (232, 106, 116), Ellipse(cx, my + 0.032, mw * 0.42, 0.014), clip="mouth")
    else:
        if kind == "smile":
            pts = quad((cx - mw, my - 0.006), (cx, my + 0.02), (cx + mw, my - 0.006))
        elif kind == "smirk":
            flip = -1 if spec.mirror else 1
            pts = quad(
                (cx - flip * mw * 0.85, my + 0.004),
                (cx + flip * mw * 0.1, my + 0.012),
                (cx + flip * mw * 1.0, my - 0.01),
            )
        else:
            pts = quad((cx - mw * 0.8, my + 0.001), (cx, my + 0.009), (cx + mw * 0.8, my + 0.001))
        if feats.lips:
            lo = quad(pts[-1], (cx, my + 0.045), pts[0])
            sc.add("lip_low", "lip", pal.lip, poly(pts + lo), shade=True)
            bow = [
                pts[0],
                (cx - mw * 0.45, my - 0.016),
                (cx, my - 0.01),
                (cx + mw * 0.45, my - 0.016),
                pts[-1],
            ]
            sc.add("lip_up", "lip", shade(pal.lip, -0.06), poly(spline(bow, 4) + pts[::-1]))
        sc.add("mouth", "mouth", line_col, stroke(pts, 0.0065 * lw))


def _eyes(sc: Scene, spec: AvatarSpec, feats: Features, pal: Palette, lay: Layout) -> None:
    lw = feats.line_scale
    es = feats.eye_scale
    kind = feats.eye_kind
    ink = pal.ink
    for s in (-1, 1):
        ex, ey = lay.cx + s * lay.eye_dx, lay.eye_y
        closed = spec.eyes == "happy" or (spec.eyes == "wink" and s == (-1 if spec.mirror else 1))
        ew = 0.032 * es * (1.15 if kind == "anime" else 1.0)
        if closed:
            pts = quad((ex - ew, ey + 0.004), (ex, ey - 0.02 * es), (ex + ew, ey + 0.004))
            sc.add(f"eye_{s}", "line", ink, stroke(pts, 0.0075 * lw * (1.3 if kind == "anime" else 1.0)))
            if spec.lashes:
                tip = (ex + s * ew * 1.3, ey - 0.004)
                sc.add(f"lash_{s}", "line", ink, _taper([pts[-1 if s > 0 else 0], tip], 0.006 * lw, 0.001))
            continue
        name = f"eye_{s}"
        if kind == "dot":
            sc.add(name, "pupil", ink, Ellipse(ex, ey, 0.0135 * es, 0.017 * es))
            sc.add(
                f"shine_{s}",
                "shine",
                WHITE,
                Ellipse(ex + 0.004 * es, ey - 0.006 * es, 0.0042 * es, 0.0042 * es),
            )
            lid_top = ey - 0.017 * es
        elif kind == "glossy":
            sc.add(name, "eye_white", WHITE, Ellipse(ex, ey, ew * 0.95, ew * 1.08), outline=True)
            sc.add(
                f"iris_{s}",
                "iris",
                pal.iris,
                Ellipse(ex + s * 0.002, ey + 0.004, ew * 0.66, ew * 0.72),
                clip=name,
            )
            sc.add(
                f"pupil_{s}",
                "pupil",
                (24, 18, 22),
                Ellipse(ex + s * 0.002, ey + 0.005, ew * 0.34, ew * 0.38),
                clip=name,
            )
            sc.add(f"shine_{s}", "shine", WHITE, Ellipse(ex - ew * 0.25, ey - ew * 0.25, ew * 0.2, ew * 0.2))
            sc.add(
                f"shine2_{s}", "shine", WHITE, Ellipse(ex + ew * 0.3, ey + ew * 0.35, ew * 0.09, ew * 0.09)
            )
            sc.add(
                f"lid_{s}",
                "line",
                ink,
                stroke(arc((ex, ey), (ew * 0.98, ew * 1.1), 200, 340, 16), 0.0045 * lw),
            )
            lid_top = ey - ew * 1.08
        elif kind == "anime":
            up = cubic(
                (ex - ew, ey - 0.004),
                (ex - ew * 0.55, ey - 0.036 * es),
                (ex + ew * 0.5, ey - 0.038 * es),
                (ex + ew, ey - 0.016 * es),
            )
            if s < 0:
                up = mirror(up[::-1], ex)
            bottom = quad(up[-1], (ex, ey + 0.042 * es), up[0])
            white = up + bottom
            sc.add(name, "eye_white", WHITE, poly(white))
            sc.add(f"iris_{s}", "iris", pal.iris, Ellipse(ex, ey + 0.002, ew * 0.62, 0.031 * es), clip=name)
            sc.add(
                f"iris_dark_{s}",
                "shadow",
                darken(pal.iris, 0.45),
                Ellipse(ex, ey - 0.02 * es, ew * 0.7, 0.022 * es),
                clip=f"iris_{s}",
            )
            sc.add(
                f"iris_glow_{s}",
                "shine",
                lighten(pal.iris, 0.45),
                Ellipse(ex, ey + 0.022 * es, ew * 0.42, 0.01 * es),
                clip=f"iris_{s}",
                alpha=0.9,
            )
            sc.add(
                f"pupil_{s}",
                "pupil",
                darken(pal.iris, 0.75),
                Ellipse(ex, ey + 0.004, ew * 0.27, 0.016 * es),
                clip=f"iris_{s}",
            )
            sc.add(
                f"shine_{s}",
                "shine",
                WHITE,
                Ellipse(ex + s * ew * 0.28, ey - 0.011 * es, 0.0085 * es, 0.0105 * es),
            )
            sc.add(
                f"shine2_{s}",
                "shine",
                WHITE,
                Ellipse(ex - s * ew * 0.22, ey + 0.011 * es, 0.0035 * es, 0.0035 * es),
                clip=name,
            )
            lash = list(up)
            if s > 0:
                lash.append((ex + ew * 1.28, ey - 0.03 * es))
            else:
                lash.insert(0, (ex - ew * 1.28, ey - 0.03 * es))
            sc.add(f"lid_{s}", "line", ink, _taper(lash, 0.008 * lw, 0.008 * lw))
            # The lower lash hugs the outer third of the eye's lower rim.
            outer_rim = bottom[1:6] if s > 0 else bottom[-6:-1]
            sc.add(f"lash_low_{s}", "line", ink, stroke(outer_rim, 0.0032 * lw), alpha=0.85)
            lid_top = ey - 0.038 * es
        else:  # realistic almond
            ewr = ew * 0.98
            lift = 0.003
            upper = cubic(
                (ex - s * ewr, ey + 0.001),
                (ex - s * ewr * 0.45, ey - 0.023 * es),
                (ex + s * ewr * 0.45, ey - 0.024 * es),
                (ex + s * ewr, ey - lift),
            )
            lower = cubic(
                (ex + s * ewr, ey - lift),
                (ex + s * ewr * 0.5, ey + 0.016 * es),
                (ex - s * ewr * 0.45, ey + 0.016 * es),
                (ex - s * ewr, ey + 0.001),
            )
            sc.add(name, "eye_white", (246, 243, 240), poly(upper + lower))
            r = ewr * 0.5
            sc.add(f"iris_{s}", "iris", pal.iris, Ellipse(ex, ey - 0.002, r, r), clip=name)
            sc.add(
                f"iris_dark_{s}",
                "shadow",
                darken(pal.iris, 0.35),
                Ellipse(ex, ey - r * 0.9, r, r * 0.6),
                clip=f"iris_{s}",
                alpha=0.8,
            )
            sc.add(
                f"pupil_{s}", "pupil", (20, 16, 18), Ellipse(ex, ey - 0.002, r * 0.45, r * 0.45), clip=name
            )
            sc.add(f"shine_{s}", "shine", WHITE, Ellipse(ex + r * 0.35, ey - r * 0.45, r * 0.24, r * 0.24))
            sc.add(f"lid_{s}", "line", ink, _taper(upper, 0.0065 * lw, 0.0035 * lw))
            sc.add(
                f"crease_{s}",
                "line",
                pal.skin_deep,
                stroke(
                    quad(
                        (ex - s * ewr * 0.7, ey - 0.02 * es),
                        (ex, ey - 0.036 * es),
                        (ex + s * ewr * 0.9, ey - 0.02 * es),
                    ),
                    0.003 * lw,
                ),
                alpha=0.5,
            )
            if spec.lashes:
                o = upper[-1]
                sc.add(
                    f"lash_{s}", "line", ink, _taper([o, (o[0] + s * 0.009, o[1] - 0.009)], 0.005 * lw, 0.001)
                )
            lid_top = ey - 0.024 * es
        if spec.eyes == "sleepy":
            sc.add(
                f"eyelid_{s}",
                "skin",
                pal.skin_shadow,
                poly(
                    [
                        (ex - ew * 1.5, lid_top - 0.02),
                        (ex + ew * 1.5, lid_top - 0.02),
                        *quad((ex + ew * 1.5, ey - 0.001), (ex, ey + 0.003), (ex - ew * 1.5, ey - 0.001)),
                    ]
                ),
                clip=name,
            )
            sc.add(
                f"eyelid_line_{s}",
                "line",
                ink,
                stroke(
                    quad((ex - ew * 1.0, ey - 0.001), (ex, ey + 0.004), (ex + ew * 1.0, ey - 0.001)),
                    0.005 * lw,
                ),
            )


# --------------------------------------------------------------------------------------------- hair


def _cap(
    lay: Layout, k: Pt, lift: float, span: Pt = (172, 368), *, bump: float = 0.0, bump_at: float = 250
) -> list[Pt]:
    """The crown outline from the left temple over the top to the right temple.

    ``k`` scales the head's half-width/height; ``bump`` swells it into a quiff near ``bump_at``.
    """
    kx, ky = k
    a0, a1 = span
    out: list[Pt] = []
    n = 44
    for i in range(n + 1):
        a = a0 + (a1 - a0) * i / n
        swell = 1 + bump * math.exp(-(((a - bump_at) / 40) ** 2))
        r = math.radians(a)
        out.append(
            (
                lay.cx + lay.hw * kx * swell * math.cos(r),
                lay.cy - lay.hh * lift + lay.hh * ky * swell * math.sin(r),
            )
        )
    return out


def _bumps(c: Pt, r: Pt, span: Pt, n: int, size: float) -> list[Shape]:
    """``n`` circles of radius ``size`` along an arc: curls."""
    return [Ellipse(x, y, size, size) for x, y in arc(c, r, span[0], span[1], n)]


def _hair(spec: AvatarSpec, lay: Layout) -> tuple[list[Shape], list[Shape], list[Shape]]:
    """Back hair (behind the head), front hair (over the forehead) and locks (over the shoulders)."""
    cx, cy, hw, hh = lay.cx, lay.cy, lay.hw, lay.hh
    style = spec.hair_style
    back: list[Shape] = []
    front: list[Shape] = []
    locks: list[Shape] = []

    def hp(kx: float, ky: float) -> Pt:
        return cx + hw * kx, cy + hh * ky

    def fringe(ctrl: list[tuple[float, float]]) -> list[Pt]:
        return spline([hp(kx, ky) for kx, ky in ctrl], 6)

    if style == "crop":
        front.append(
            poly(
                _cap(lay, (1.06, 1.1), 0.05)
                + fringe(
                    [(1.0, 0.02), (0.9, -0.42), (0.4, -0.64), (-0.15, -0.62), (-0.7, -0.5), (-1.0, 0.02)]
                )
            )
        )
    elif style == "swept":
        front.append(poly(_cap(lay, (1.1, 1.16), 0.06) + fringe(SWEPT_FRINGE)))
    elif style == "quiff":
        front.append(
            poly(
                _cap(lay, (1.07, 1.1), 0.05, bump=0.13, bump_at=250)
                + fringe(
                    [
                        (1.0, 0.0),
                        (0.88, -0.48),
                        (0.35, -0.66),
                        (-0.35, -0.66),
                        (-0.65, -0.62),
                        (-0.85, -0.45),
                        (-1.0, 0.0),
                    ]
                )
            )
        )
    elif style == "spiky":
        outer: list[Pt] = []
        n = 13
        for i in range(n + 1):
            a = 172 + 196 * i / n
            k = 1.1 if i % 2 == 0 else 1.34 + 0.06 * math.sin(i * 1.7)
            r = math.radians(a + (5 if i % 2 else 0))
            outer.append((cx + hw * k * math.cos(r), cy - hh * 0.05 + hh * k * 1.05 * math.sin(r)))
        zig = [
            (1.02, 0.05),
            (0.9, -0.2),
            (0.75, -0.5),
            (0.5, -0.18),
            (0.25, -0.55),
            (-0.05, -0.2),
            (-0.25, -0.58),
            (-0.55, -0.22),
            (-0.72, -0.5),
            (-0.9, -0.15),
            (-1.02, 0.05),
        ]
        front.append(poly(outer + [hp(kx, ky) for kx, ky in zig]))
    elif style == "bob":
        back.append(
            poly(
                _cap(lay, (1.24, 1.2), 0.05, (180, 360))
                + spline(
                    [
                        hp(1.3, 0.2),
                        hp(1.32, 0.78),
                        hp(1.1, 0.95),
                        hp(0.0, 0.98),
                        hp(-1.1, 0.95),
                        hp(-1.32, 0.78),
                        hp(-1.3, 0.2),
                    ],
                    5,
                )
            )
        )
        front.append(
            poly(
                [
                    hp(-1.28, 0.72),
                    *_cap(lay, (1.22, 1.2), 0.05, (178, 362)),
                    hp(1.28, 0.72),
                    *fringe(
                        [
                            (1.22, 0.8),
                            (1.02, 0.3),
                            (0.95, -0.3),
                            (0.5, -0.33),
                            (0.0, -0.3),
                            (-0.5, -0.33),
                            (-0.95, -0.3),
                            (-1.02, 0.3),
                            (-1.22, 0.8),
                        ]
                    ),
                ]
            )
        )
    elif style in ("long", "wavy"):
        wav = 0.03 if style == "wavy" else 0.0
        side = [hp(1.2, 0.1), hp(1.3 + wav * 3, 0.8), hp(1.38, 1.4)]
        back.append(
            poly(
                _cap(lay, (1.14, 1.14), 0.05, (180, 360))
                + spline(
                    side
                    + [(cx + hw * 1.3, 0.95), (cx - hw * 1.3, 0.95)]
                    + [(cx - (x - cx), y) for x, y in side[::-1]],
                    6,
                )
            )
        )
        for s in (-1, 1):
            ctrl = [
                hp(s * 1.15, -0.1),
                hp(s * (1.2 + wav), 0.6),
                hp(s * (1.26 - wav), 1.2),
                (cx + s * hw * 1.32, 0.84),
                (cx + s * hw * 1.18, 0.88),
                (cx + s * hw * 1.04, 0.83),
                hp(s * (1.0 + wav), 1.05),
                hp(s * 0.92, 0.45),
                hp(s * 0.92, -0.1),
            ]
            locks.append(poly(spline(ctrl, 5, closed=True)))
        if style == "long":
            fr = [
                (1.06, 0.35),
                (0.94, -0.15),
                (0.6, -0.5),
                (0.12, -0.7),
                (0.0, -0.62),
                (-0.12, -0.7),
                (-0.6, -0.5),
                (-0.94, -0.15),
                (-1.06, 0.35),
            ]
        else:
            fr = [
                (1.06, 0.35),
                (0.92, -0.2),
                (0.6, -0.55),
                (0.1, -0.58),
                (-0.35, -0.4),
                (-0.7, -0.1),
                (-0.95, 0.25),
                (-1.06, 0.4),
            ]
        front.append(
            poly([hp(-1.17, 0.4), *_cap(lay, (1.16, 1.16), 0.05, (178, 362)), hp(1.17, 0.4), *fringe(fr)])
        )
    elif style == "curly":
        back.extend(_bumps((cx, cy - hh * 0.1), (hw * 1.12, hh * 1.05), (160, 380), 13, hw * 0.3))
        for s in (-1, 1):
            back.extend(Ellipse(cx + s * hw * 1.12, cy + hh * k, hw * 0.28, hw * 0.28) for k in (0.25, 0.55))
        front.append(
            poly(
                _cap(lay, (1.05, 1.08), 0.06, (175, 365))
                + fringe([(1.0, 0.0), (0.85, -0.4), (0.3, -0.58), (-0.3, -0.58), (-0.85, -0.4), (-1.0, 0.0)])
            )
        )
        front.extend(_bumps((cx, cy - hh * 0.42), (hw * 0.78, hh * 0.28), (190, 350), 6, hw * 0.21))
        front.extend(_bumps((cx, cy - hh * 0.2), (hw * 1.05, hh * 0.95), (185, 355), 9, hw * 0.22))
    elif style == "afro":
        back.append(Ellipse(cx, cy - hh * 0.28, hw * 1.7, hh * 1.28))
        back.extend(_bumps((cx, cy - hh * 0.28), (hw * 1.62, hh * 1.2), (150, 390), 16, hw * 0.3))
        front.append(
            poly(
                _cap(lay, (1.06, 1.1), 0.06, (175, 365))
                + fringe(
                    [(1.0, 0.05), (0.85, -0.45), (0.3, -0.58), (-0.3, -0.58), (-0.85, -0.45), (-1.0, 0.05)]
                )
            )
        )
    elif style == "bun":
        back.append(Ellipse(cx, cy - hh * 1.18, hw * 0.46, hh * 0.34))
        front.append(
            poly(
                _cap(lay, (1.06, 1.1), 0.05)
                + fringe(
                    [
                        (1.0, 0.08),
                        (0.8, -0.45),
                        (0.25, -0.66),
                        (0.0, -0.6),
                        (-0.25, -0.66),
                        (-0.8, -0.45),
                        (-1.0, 0.08),
                    ]
                )
            )
        )
    elif style == "ponytail":
        tail = spline(
            [
                hp(0.4, -0.9),
                hp(1.25, -0.55),
                hp(1.5, 0.2),
                hp(1.45, 0.9),
                (cx + hw * 1.25, 0.8),
                hp(1.05, 0.75),
                hp(1.08, 0.1),
                hp(0.8, -0.5),
            ],
            6,
            closed=True,
        )
        back.append(poly(tail))
        front.append(poly(_cap(lay, (1.08, 1.12), 0.05) + fringe(SWEPT_FRINGE)))
    else:  # buzz: a close crop that reads as texture rather than volume
        front.append(
            poly(
                _cap(lay, (1.02, 1.04), 0.02)
                + fringe(
                    [
                        (0.99, -0.05),
                        (0.85, -0.55),
                        (0.3, -0.72),
                        (-0.3, -0.72),
                        (-0.85, -0.55),
                        (-0.99, -0.05),
                    ]
                )
            )
        )

    if spec.mirror:
        back = [mirror_shape(s, cx) for s in back]
        front = [mirror_shape(s, cx) for s in front]
        locks = [mirror_shape(s, cx) for s in locks]
    return back, front, locks


# --------------------------------------------------------------------------------------------- accessories


def _accessories(sc: Scene, spec: AvatarSpec, feats: Features, pal: Palette, lay: Layout) -> None:
    cx, cy, hw, hh = lay.cx, lay.cy, lay.hw, lay.hh
    lw = feats.line_scale
    frame = (30, 30, 34) if spec.detail_seed % 2 else darken(pal.accent, 0.2)
    if spec.glasses != "none":
        es = feats.eye_scale * (1.15 if feats.eye_kind == "anime" else 1.0)
        rx, ry = 0.045 * es, 0.037 * es
        for s in (-1, 1):
            ex = cx + s * lay.eye_dx
            ey = lay.eye_y - 0.001
            if spec.glasses == "round":
                rim = arc((ex, ey), (rx * 0.95, rx * 0.95), 0, 360, 40)
            else:
                rim = superellipse((ex, ey), (rx, ry), 4.0, 40)
            if spec.glasses == "sun":
                lens = superellipse((ex, ey + 0.002), (rx * 1.02, ry * 1.02), 3.0, 40)
                sc.add(f"lens_{s}", "lens", (28, 30, 40), poly(lens), outline=True)
                sc.add(
                    f"lens_glare_{s}",
                    "shine",
                    WHITE,
                    stroke([(ex - rx * 0.5, ey - ry * 0.2), (ex - rx * 0.1, ey - ry * 0.6)], 0.006),
                    alpha=0.55,
                )
            else:
                sc.add(f"lens_{s}", "lens", (220, 236, 255), poly(rim), alpha=0.18)
                sc.add(f"rim_{s}", "frame", frame, stroke([*rim, rim[0], rim[1]], 0.0065 * lw))
            sc.add(
                f"temple_{s}",
                "frame",
                frame,
                stroke([(ex + s * rx, ey - 0.006), (cx + s * hw * 0.99, ey - 0.012)], 0.006 * lw),
            )
        gap = lay.eye_dx - rx
        sc.add(
            "bridge",
            "frame",
            frame if spec.glasses != "sun" else (28, 30, 40),
            stroke(
                quad((cx - gap, lay.eye_y - 0.006), (cx, lay.eye_y - 0.016), (cx + gap, lay.eye_y - 0.006)),
                0.006 * lw,
            ),
        )

    hat_col = pal.accent if pal.accent != pal.cloth else pal.cloth_alt
    if abs(luminance(hat_col) - luminance(pal.hair)) < 0.08:
        hat_col = pal.cloth_alt if pal.cloth_alt != hat_col else shade(hat_col, 0.25)
    if spec.hat == "beanie":
        dome = arc((cx, cy - hh * 0.3), (hw * 1.16, hh * 0.98), 180, 360, 40)
        sc.add("hat", "hat", hat_col, poly(dome), outline=True, shade=True)
        band = superellipse((cx, cy - hh * 0.36), (hw * 1.2, hh * 0.15), 4.0, 48)
        sc.add("hat_band", "hat", shade(hat_col, -0.07), poly(band), outline=True)
        for i in range(-5, 6):
            x = cx + i * hw * 0.19
            sc.add(
                f"rib_{i}",
                "line",
                shade(hat_col, -0.16),
                stroke([(x, cy - hh * 0.46), (x, cy - hh * 0.26)], 0.004 * lw),
                alpha=0.7,
            )
        if spec.detail_seed % 3 != 1:
            sc.add(
                "pompom",
                "hat",
                lighten(hat_col, 0.5),
                Ellipse(cx, cy - hh * 1.3, hw * 0.22, hw * 0.22),
                outline=True,
                shade=True,
            )
    elif spec.hat == "cap":
        dome = arc((cx, cy - hh * 0.32), (hw * 1.1, hh * 0.92), 180, 360, 40)
        sc.add("hat", "hat", hat_col, poly(dome), outline=True, shade=True)
        # Seen from the front the bill is a band that dips towards the viewer in the middle.
        visor = quad(
            (cx - hw * 1.14, cy - hh * 0.34), (cx, cy - hh * 0.42), (cx + hw * 1.14, cy - hh * 0.34)
        ) + quad((cx + hw * 1.14, cy - hh * 0.34), (cx, cy - hh * 0.02), (cx - hw * 1.14, cy - hh * 0.34))
        sc.add("visor", "hat", shade(hat_col, -0.1), poly(visor), outline=True)
        sc.add("hat_button", "hat", shade(hat_col, -0.12), Ellipse(cx, cy - hh * 1.23, hw * 0.08, hw * 0.05))
        sc.add(
            "hat_seam",
            "line",
            shade(hat_col, -0.15),
            stroke(
                quad((cx, cy - hh * 1.22), (cx + hw * 0.04, cy - hh * 0.8), (cx, cy - hh * 0.4)), 0.004 * lw
            ),
            alpha=0.7,
        )
    elif spec.hat == "headphones":
        band = arc((cx, cy - hh * 0.08), (hw * 1.2, hh * 1.28), 192, 348, 36)
        sc.add("phones_band", "hat", (40, 40, 46), stroke(band, 0.026), outline=True)
        for s in (-1, 1):
            cup = superellipse((cx + s * hw * 1.08, lay.ear_y - hh * 0.05), (hw * 0.2, hh * 0.3), 3.0, 40)
            sc.add(f"cup_{s}", "hat", hat_col, poly(cup), outline=True, shade=True)
            sc.add(
                f"cup_in_{s}",
                "hat",
                shade(hat_col, -0.15),
                Ellipse(cx + s * hw * 1.04, lay.ear_y - hh * 0.05, hw * 0.09, hh * 0.18),
            )
