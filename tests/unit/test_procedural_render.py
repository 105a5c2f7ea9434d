"""The offline procedural renderer: deterministic, correctly sized, and visibly varied."""

from __future__ import annotations

import hashlib
import itertools
import random

import pytest
from PIL import Image, ImageChops, ImageStat

from chalicelib.domain.styles import STYLES, STYLES_BY_ID, Style
from chalicelib.render._spec import build_spec
from chalicelib.render.procedural import avatar_seed, normalize_prompt, render_avatar

SMALL = 96


def _mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute per-channel difference, 0..255."""
    stat = ImageStat.Stat(ImageChops.difference(a, b))
    return sum(stat.mean) / len(stat.mean)


@pytest.fixture(scope="module")
def small_renders() -> dict[str, Image.Image]:
    return {s.id: render_avatar(s, "", 0, SMALL) for s in STYLES}


def test_all_ten_styles_render_rgb_at_requested_size(small_renders: dict[str, Image.Image]) -> None:
    assert len(STYLES) == 10
    assert set(small_renders) == {s.id for s in STYLES}
    for style_id, img in small_renders.items():
        assert img.mode == "RGB", style_id
        assert img.size == (SMALL, SMALL), style_id
        # Not a blank canvas: a face has contrast.
        lo, hi = ImageStat.Stat(img.convert("L")).extrema[0]
        assert hi - lo > 60, style_id


@pytest.mark.parametrize("size", [1024, 256])
def test_output_mode_and_size(size: int) -> None:
    img = render_avatar(STYLES_BY_ID["flat"], "a friendly person", 1, size)
    assert img.mode == "RGB"
    assert img.size == (size, size)


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.id)
def test_deterministic_bytes(style: Style) -> None:
    first = render_avatar(style, "astronaut with glasses", 3, SMALL)
    second = render_avatar(style, "astronaut with glasses", 3, SMALL)
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.id)
def test_variation_changes_the_image(style: Style) -> None:
    images = [render_avatar(style, "", v, SMALL) for v in range(3)]
    for a, b in itertools.combinations(images, 2):
        assert _mean_abs_diff(a, b) > 4.0


def test_every_pair_of_styles_differs_clearly(small_renders: dict[str, Image.Image]) -> None:
    for (id_a, a), (id_b, b) in itertools.combinations(small_renders.items(), 2):
        assert _mean_abs_diff(a, b) > 12.0, (id_a, id_b)


@pytest.mark.parametrize("style_id", ["anime", "pixel", "sketch"])
def test_prompt_changes_the_image(style_id: str) -> None:
    style = STYLES_BY_ID[style_id]
    a = render_avatar(style, "a cat lover", 0, SMALL)
    b = render_avatar(style, "a mountain climber", 0, SMALL)
    assert _mean_abs_diff(a, b) > 4.0


def test_prompt_normalization() -> None:
    assert normalize_prompt(" A  Cat ") == "a cat"
    assert normalize_prompt("\tA\ncat  ") == "a cat"
    assert avatar_seed("flat", " A  Cat ", 2) == avatar_seed("flat", "a cat", 2)
    style = STYLES_BY_ID["cartoon3d"]
    assert (
        render_avatar(style, " A  Cat ", 2, SMALL).tobytes()
        == render_avatar(style, "a cat", 2, SMALL).tobytes()
    )


def test_seed_depends_on_every_input() -> None:
    base = avatar_seed("flat", "a cat", 0)
    assert avatar_seed("anime", "a cat", 0) != base
    assert avatar_seed("flat", "a dog", 0) != base
    assert avatar_seed("flat", "a cat", 1) != base


def test_pixel_style_is_on_a_coarse_grid() -> None:
    img = render_avatar(STYLES_BY_ID["pixel"], "", 0, 256)
    # 256 / 32 = 8: every 8x8 cell is a single flat colour.
    for cy in range(0, 256, 8):
        for cx in range(0, 256, 8):
            cell = img.crop((cx, cy, cx + 8, cy + 8))
            assert len(cell.getcolors(64) or []) == 1


def test_sketch_style_is_greyscale() -> None:
    img = render_avatar(STYLES_BY_ID["sketch"], "", 0, SMALL)
    r, g, b = (ImageStat.Stat(c).mean[0] for c in img.split())
    # Warm paper tint only: channels stay within a few levels of each other.
    assert max(r, g, b) - min(r, g, b) < 12


@pytest.mark.parametrize(
    ("prompt", "field", "expected"),
    [
        ("a woman with sunglasses", "glasses", "sun"),
        ("bearded man", "facial_hair", "beard"),
        ("kid in a beanie", "hat", "beanie"),
        ("ginger with a ponytail", "hair_style", "ponytail"),
    ],
)
def test_prompt_keywords_steer_the_avatar(prompt: str, field: str, expected: str) -> None:
    for variation in range(3):
        rng = random.Random(avatar_seed("flat", prompt, variation))
        spec = build_spec(STYLES_BY_ID["flat"].look, normalize_prompt(prompt), rng)
        assert getattr(spec, field) == expected


@pytest.mark.parametrize("size", [0, 8, 100_000])
def test_rejects_unreasonable_sizes(size: int) -> None:
    with pytest.raises(ValueError, match="size"):
        render_avatar(STYLES_BY_ID["flat"], "", 0, size)


def test_lone_surrogate_in_the_prompt_does_not_crash() -> None:
    # A JSON string may hold "\ud800"; the seed must still be computable (no UnicodeEncodeError)
    # and ordinary prompts keep the seeds they always had.
    assert avatar_seed("anime", "a\ud800b", 0) != avatar_seed("anime", "ab", 0)
    image = render_avatar(STYLES_BY_ID["anime"], "red hair \ud800", 0, size=32)
    assert image.size == (32, 32)
    expected = int.from_bytes(hashlib.sha256(b"anime\x1fred hair\x1f7").digest()[:16], "big")
    assert avatar_seed("anime", "Red  Hair", 7) == expected
