"""What to draw: every seeded choice for one avatar, independent of the drawing technique."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from chalicelib.domain.styles import StyleLook
from chalicelib.render._color import RGB, hex_rgb, luminance

HAIR_STYLES: tuple[str, ...] = (
    "crop",
    "swept",
    "quiff",
    "spiky",
    "bob",
    "long",
    "curly",
    "afro",
    "bun",
    "ponytail",
    "buzz",
    "wavy",
)
_SHORT_HAIR = ("crop", "swept", "quiff", "spiky", "buzz", "curly")
_LONG_HAIR = ("bob", "long", "bun", "ponytail", "wavy", "curly", "afro")
# Tall or wide hair shapes would poke through a hat; these stay hat-compatible.
_HAT_HAIR = ("crop", "swept", "bob", "long", "ponytail", "wavy", "buzz", "curly")

_NATURAL_IRIS = ("#5b3a1e", "#3b6ea5", "#4f7a3a", "#7a5a2e", "#2e2a28", "#6b8fa8")


@dataclass(frozen=True)
class AvatarSpec:
    """Seeded choices; colours are already resolved from the style palettes."""

    technique: str
    bg: RGB
    bg_alt: RGB
    skin: RGB
    hair: RGB
    iris: RGB
    cloth: RGB
    cloth_alt: RGB
    accent: RGB
    face_shape: str
    hair_style: str
    eyes: str
    brows: str
    mouth: str
    outfit: str
    glasses: str
    earrings: str
    hat: str
    facial_hair: str
    blush: bool
    freckles: bool
    lashes: bool
    mirror: bool
    head_w: float
    eye_gap: float
    mouth_w: float
    detail_seed: int


# Prompt keywords that steer the seeded choices, so "red hair, glasses" looks like it.
_HAIR_COLOUR_WORDS: tuple[tuple[str, str], ...] = (
    (r"\b(blonde?|golden hair)\b", "#e0bd62"),
    (r"\b(red ?head|ginger|red hair|auburn)\b", "#b5542d"),
    (r"\b(black hair|dark hair)\b", "#1c1c1c"),
    (r"\b(brown hair|brunette)\b", "#5a3825"),
    (
        r"\b(grey|gray|white|silver) hair\b|\b(old|elderly|grandma|grandpa|grandmother|grandfather)\b",
        "#b9b9b9",
    ),
    (r"\bpink hair\b", "#ff6fae"),
    (r"\bblue hair\b", "#3f7cff"),
    (r"\bpurple hair\b", "#8a4fe0"),
    (r"\bgreen hair\b", "#35c27a"),
)
_HAIR_STYLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\bbald\b", ("buzz",)),
    (r"\bafro\b", ("afro",)),
    (r"\bcurly\b|\bcurls\b", ("curly",)),
    (r"\bponytail\b", ("ponytail",)),
    (r"\bbun\b", ("bun",)),
    (r"\bbob\b", ("bob",)),
    (r"\bspiky\b", ("spiky",)),
    (r"\blong hair\b", ("long", "wavy")),
    (r"\bshort hair\b", ("crop", "swept", "quiff")),
)
_FEMININE = r"\b(woman|women|girl|she|her|female|lady|mother|mom|grandma|grandmother|queen|princess)\b"
_MASCULINE = r"\b(man|men|boy|he|his|male|guy|gentleman|father|dad|grandpa|grandfather|king|prince)\b"


def _pick_distinct(rng: random.Random, options: tuple[str, ...], avoid: RGB, min_gap: float) -> RGB:
    """Pick a palette colour whose brightness differs from ``avoid`` so shapes don't vanish."""
    shuffled = list(options)
    rng.shuffle(shuffled)
    for hx in shuffled:
        c = hex_rgb(hx)
        if c != avoid and abs(luminance(c) - luminance(avoid)) >= min_gap:
            return c
    return hex_rgb(max(shuffled, key=lambda h: abs(luminance(hex_rgb(h)) - luminance(avoid))))


def build_spec(look: StyleLook, prompt: str, rng: random.Random) -> AvatarSpec:
    """Draw every choice from ``rng`` in a fixed order (the order is part of determinism)."""
    bg = hex_rgb(rng.choice(look.backgrounds))
    bg_alt = hex_rgb(rng.choice(look.backgrounds))
    skin = hex_rgb(rng.choice(look.skins))
    hair = _pick_distinct(rng, look.hairs, skin, 0.06)
    cloth = _pick_distinct(rng, look.accents, bg, 0.12)
    cloth_alt = _pick_distinct(rng, look.accents, cloth, 0.2)
    accent = hex_rgb(rng.choice(look.accents))
    iris = hex_rgb(rng.choice(_NATURAL_IRIS))

    feminine = bool(re.search(_FEMININE, prompt))
    masculine = bool(re.search(_MASCULINE, prompt)) and not feminine
    if feminine:
        hair_style = rng.choice(_LONG_HAIR)
    elif masculine:
        hair_style = rng.choice(_SHORT_HAIR)
    else:
        hair_style = rng.choice(HAIR_STYLES)
    face_shape = rng.choice(("oval", "round", "heart", "square", "oval"))
    eyes = rng.choice(("open", "open", "open", "open", "happy", "wink", "sleepy"))
    brows = rng.choice(("soft", "raised", "flat", "arched", "soft"))
    mouth = rng.choice(("smile", "grin", "smile", "open", "smirk", "calm", "grin"))
    outfit = rng.choice(("crew", "vneck", "collar", "hoodie", "turtleneck", "blazer"))
    glasses = rng.choice(("none",) * 14 + ("round", "square", "round", "square", "sun"))
    earrings = rng.choice(("none", "none", "stud", "hoop"))
    hat = rng.choice(("none",) * 9 + ("beanie", "cap", "headphones"))
    facial_hair = rng.choice(("none", "none", "none", "beard", "mustache", "stubble"))
    blush = rng.random() < 0.5
    freckles = rng.random() < 0.2
    lashes = rng.random() < 0.5
    mirror = rng.random() < 0.5
    head_w = rng.uniform(0.95, 1.06)
    eye_gap = rng.uniform(0.95, 1.06)
    mouth_w = rng.uniform(0.85, 1.15)
    detail_seed = rng.getrandbits(32)

    # Keyword steering happens after all draws so a hint never shifts the other choices.
    for pattern, colour in _HAIR_COLOUR_WORDS:
        if re.search(pattern, prompt):
            hair = hex_rgb(colour)
            break
    for pattern, styles in _HAIR_STYLE_WORDS:
        if re.search(pattern, prompt):
            hair_style = styles[detail_seed % len(styles)]
            break
    if re.search(r"\bsunglasses\b|\bshades\b", prompt):
        glasses = "sun"
    elif re.search(r"\bglasses\b|\bspectacles\b|\bnerd\b", prompt):
        glasses = ("round", "square")[detail_seed % 2]
    if re.search(r"\bbeard(ed)?\b", prompt):
        facial_hair = "beard"
    elif re.search(r"\bmo?ustache\b", prompt):
        facial_hair = "mustache"
    if re.search(r"\bbeanie\b", prompt):
        hat = "beanie"
    elif re.search(r"\bcap\b|\bhat\b", prompt):
        hat = "cap"
    elif re.search(r"\bheadphones?\b|\bmusic|\bdj\b|\bgamer\b", prompt):
        hat = "headphones"
    if re.search(r"\b(smil\w*|happy|laugh\w*|cheerful|joy\w*)\b", prompt):
        mouth = "grin"
    elif re.search(r"\b(serious|professional|calm|stoic)\b", prompt):
        mouth = "calm" if mouth not in ("smile", "calm") else mouth
    if re.search(r"\b(suit|business|ceo|lawyer|formal)\b", prompt):
        outfit = "blazer"
    elif re.search(r"\bhoodie\b", prompt):
        outfit = "hoodie"
    if re.search(r"\bearrings?\b", prompt):
        earrings = "hoop"

    if feminine:
        facial_hair = "none"
        lashes = True
    if masculine:
        lashes = False
    if hat in ("beanie", "cap") and hair_style not in _HAT_HAIR:
        hair_style = _HAT_HAIR[detail_seed % len(_HAT_HAIR)]
    if hair_style in _LONG_HAIR and hair_style not in ("curly", "afro") and not masculine:
        facial_hair = "none"
    if facial_hair != "none":
        lashes = False
    return AvatarSpec(
        technique=look.technique,
        bg=bg,
        bg_alt=bg_alt,
        skin=skin,
        hair=hair,
        iris=iris,
        cloth=cloth,
        cloth_alt=cloth_alt,
        accent=accent,
        face_shape=face_shape,
        hair_style=hair_style,
        eyes=eyes,
        brows=brows,
        mouth=mouth,
        outfit=outfit,
        glasses=glasses,
        earrings=earrings,
        hat=hat,
        facial_hair=facial_hair,
        blush=blush,
        freckles=freckles,
        lashes=lashes,
        mirror=mirror,
        head_w=head_w,
        eye_gap=eye_gap,
        mouth_w=mouth_w,
        detail_seed=detail_seed,
    )
