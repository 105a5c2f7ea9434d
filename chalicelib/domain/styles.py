"""The avatar styles: a prompt template for AI providers and a look for the offline renderer."""

from __future__ import annotations

from dataclasses import dataclass

ALL_QUALITIES: tuple[str, ...] = ("fast", "standard", "pro")


@dataclass(frozen=True)
class StyleLook:
    """How the offline procedural renderer draws this style.

    ``technique`` selects the drawing routine; the palettes are hex colours picked from
    deterministically per (style, prompt, variation).
    """

    technique: str
    backgrounds: tuple[str, ...]
    skins: tuple[str, ...]
    hairs: tuple[str, ...]
    accents: tuple[str, ...]


@dataclass(frozen=True)
class Style:
    id: str
    name: str
    description: str
    prompt_template: str
    look: StyleLook
    qualities: tuple[str, ...] = ALL_QUALITIES

    def prompt_for(self, user_prompt: str) -> str:
        """The full provider prompt: the style's template around the user's (optional) words."""
        subject = user_prompt.strip() or "a friendly person"
        return self.prompt_template.format(subject=subject)


_SKINS = ("#f5d0b5", "#e8b796", "#d29b74", "#a86f4c", "#7a4b30", "#f1c7a5")
_HAIRS = ("#2b1b12", "#5a3825", "#a0522d", "#d8b45a", "#1c1c1c", "#8c8c8c", "#b5542d")

STYLES: tuple[Style, ...] = (
    Style(
        "professional",
        "Professional headshot",
        "A clean studio portrait for work profiles.",
        "professional corporate headshot of {subject}, studio lighting, neutral grey backdrop, "
        "sharp focus, 85mm lens, centered, shoulders visible",
        StyleLook(
            "studio",
            ("#d9dde3", "#c7ccd4", "#e6e2dc", "#b9c3cf"),
            _SKINS,
            _HAIRS,
            ("#2f3e55", "#44505f", "#1f2a38", "#5b6b7d"),
        ),
    ),
    Style(
        "anime",
        "Anime",
        "Big eyes and bold outlines, in the manner of Japanese animation.",
        "anime style portrait of {subject}, cel shading, large expressive eyes, clean line art, "
        "vibrant colors, centered headshot",
        StyleLook(
            "anime",
            ("#ffd6e8", "#cde7ff", "#fff1b8", "#d9f7d6"),
            _SKINS,
            ("#ff5fa2", "#3f7cff", "#7b3fe4", "#1c1c1c", "#ffb13b", "#35c2a0"),
            ("#ff4f81", "#4f7dff", "#ffa62b"),
        ),
    ),
    Style(
        "cartoon3d",
        "3D cartoon",
        "Soft, rounded shapes like an animated feature film.",
        "3d cartoon character portrait of {subject}, pixar style, soft global illumination, "
        "rounded features, subsurface scattering, centered",
        StyleLook(
            "cartoon3d",
            ("#8fd3fe", "#ffcf99", "#b8f2c8", "#d7c4ff"),
            _SKINS,
            _HAIRS,
            ("#ff7a59", "#2ec4b6", "#ffbf00", "#7c5cff"),
        ),
    ),
    Style(
        "watercolor",
        "Watercolor",
        "Loose washes of pigment on textured paper.",
        "watercolor painting portrait of {subject}, soft washes, paper texture, bleeding edges, "
        "pastel palette, centered",
        StyleLook(
            "watercolor",
            ("#fbf7ef", "#f6f0e6", "#f3f5f0"),
            _SKINS,
            _HAIRS,
            ("#7fb3d5", "#e59cae", "#9ccf9a", "#c7a1e0"),
        ),
    ),
    Style(
        "pixel",
        "Pixel art",
        "A retro 8-bit sprite, every pixel placed on a grid.",
        "pixel art portrait of {subject}, 32x32 sprite, limited palette, retro 8-bit game, "
        "crisp pixels, centered",
        StyleLook(
            "pixel",
            ("#1d2b53", "#7e2553", "#008751", "#5f574f"),
            ("#ffccaa", "#e4a672", "#ab5236", "#ffec27"),
            ("#000000", "#ab5236", "#ffa300", "#ff004d", "#29adff"),
            ("#ff004d", "#29adff", "#00e436", "#ffec27"),
        ),
    ),
    Style(
        "oil",
        "Oil painting",
        "Rich, layered brushwork like a classical portrait.",
        "classical oil painting portrait of {subject}, rembrandt lighting, visible brush strokes, "
        "rich dark background, museum quality",
        StyleLook(
            "oil",
            ("#2a1d14", "#1f2a24", "#33261b"),
            _SKINS,
            _HAIRS,
            ("#8b2e1f", "#b8860b", "#2e4a3b", "#4a2e5c"),
        ),
    ),
    Style(
        "flat",
        "Flat illustration",
        "Simple geometric shapes and flat colour, like a modern app avatar.",
        "flat vector illustration avatar of {subject}, geometric shapes, flat colors, "
        "minimal, no gradients, centered",
        StyleLook(
            "flat",
            ("#ffd166", "#06d6a0", "#118ab2", "#ef476f", "#8338ec"),
            _SKINS,
            _HAIRS,
            ("#073b4c", "#ffffff", "#ef476f", "#26547c"),
        ),
    ),
    Style(
        "cyberpunk",
        "Cyberpunk",
        "Neon light, chrome and night-city glow.",
        "cyberpunk portrait of {subject}, neon magenta and cyan rim light, futuristic city at "
        "night, chrome implants, cinematic",
        StyleLook(
            "cyberpunk",
            ("#0b0221", "#120458", "#1a0b2e"),
            _SKINS,
            ("#ff2a6d", "#05d9e8", "#d1f7ff", "#7700a6"),
            ("#ff2a6d", "#05d9e8", "#f9f871", "#01012b"),
        ),
    ),
    Style(
        "sketch",
        "Pencil sketch",
        "Graphite lines and cross-hatching on white paper.",
        "pencil sketch portrait of {subject}, graphite, cross hatching, white paper, hand drawn, centered",
        StyleLook(
            "sketch",
            ("#fafafa", "#f4f1ea"),
            ("#ffffff", "#f2f2f2"),
            ("#333333", "#555555", "#222222"),
            ("#444444", "#777777"),
        ),
    ),
    Style(
        "popart",
        "Pop art",
        "Halftone dots and loud colour blocks.",
        "pop art portrait of {subject}, roy lichtenstein style, halftone dots, bold black "
        "outlines, primary colors",
        StyleLook(
            "popart",
            ("#ffde00", "#00a8e8", "#ff3c38", "#8ac926"),
            _SKINS,
            ("#1c1c1c", "#ff3c38", "#ffde00", "#0057b8"),
            ("#ff3c38", "#00a8e8", "#ffde00", "#000000"),
        ),
    ),
)

STYLES_BY_ID: dict[str, Style] = {s.id: s for s in STYLES}


def get_style(style_id: str) -> Style | None:
    return STYLES_BY_ID.get(style_id)
