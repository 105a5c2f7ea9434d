"""Offline procedural avatars: a deterministic, face-like profile picture for each style.

``render_avatar`` turns (style, prompt, variation) into a seed, draws every choice (hair,
colours, expression, clothes, accessories) from it, lays the avatar out as unit-space parts
and hands them to the style's drawing technique. Only Pillow is used.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from PIL import Image

from chalicelib.domain.styles import Style
from chalicelib.render import (
    _anime,
    _cartoon3d,
    _cyberpunk,
    _flat,
    _oil,
    _pixel,
    _popart,
    _sketch,
    _studio,
    _watercolor,
)
from chalicelib.render._spec import AvatarSpec, build_spec

Technique = Callable[[AvatarSpec, int, random.Random], Image.Image]

TECHNIQUES: dict[str, Technique] = {
    "flat": _flat.render,
    "studio": _studio.render,
    "cartoon3d": _cartoon3d.render,
    "anime": _anime.render,
    "popart": _popart.render,
    "cyberpunk": _cyberpunk.render,
    "sketch": _sketch.render,
    "watercolor": _watercolor.render,
    "oil": _oil.render,
    "pixel": _pixel.render,
}

MIN_SIZE = 16
MAX_SIZE = 4096


def normalize_prompt(prompt: str) -> str:
    """Strip, lowercase and collapse whitespace so trivially different prompts match."""
    return " ".join(prompt.split()).lower()


def avatar_seed(style_id: str, prompt: str, variation: int) -> int:
    """A stable 128-bit seed; sha256 rather than ``hash()``, which is salted per process."""
    key = "\x1f".join((style_id, normalize_prompt(prompt), str(int(variation))))
    # surrogatepass: a lone surrogate (valid in a JSON string) must not crash the renderer;
    # every other string encodes exactly as before, so no existing seed changes.
    return int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:16], "big")


def render_avatar(style: Style, prompt: str, variation: int, size: int = 1024) -> Image.Image:
    """Deterministic avatar for (style.id, prompt, variation); RGB, size x size."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}, got {size}")
    rng = random.Random(avatar_seed(style.id, prompt, variation))
    spec = build_spec(style.look, normalize_prompt(prompt), rng)
    # Textures get their own stream so adding a spec field never reshuffles the brushwork.
    texture_rng = random.Random(rng.getrandbits(64))
    technique = TECHNIQUES.get(style.look.technique, _flat.render)
    img = technique(spec, size, texture_rng)
    if img.mode != "RGB":
        img = img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img
