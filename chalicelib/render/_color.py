"""Small colour helpers shared by the procedural renderer (plain RGB tuples, no numpy)."""

from __future__ import annotations

import colorsys

RGB = tuple[int, int, int]


def hex_rgb(value: str) -> RGB:
    """Parse ``#rrggbb`` (or ``rrggbb``) into an RGB tuple."""
    v = value.lstrip("#")
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


def _clamp(v: float) -> int:
    return max(0, min(255, round(v)))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend from ``a`` (t=0) to ``b`` (t=1)."""
    return (
        _clamp(a[0] + (b[0] - a[0]) * t),
        _clamp(a[1] + (b[1] - a[1]) * t),
        _clamp(a[2] + (b[2] - a[2]) * t),
    )


def darken(c: RGB, amount: float) -> RGB:
    """Move towards black; hue-preserving multiply keeps skin shadows warm rather than grey."""
    return mix(c, (0, 0, 0), amount)


def lighten(c: RGB, amount: float) -> RGB:
    return mix(c, (255, 255, 255), amount)


def shade(c: RGB, amount: float, hue_shift: float = 0.0, sat: float = 1.0) -> RGB:
    """Painterly shading: change lightness in HLS and optionally shift hue/saturation.

    Shadows drift a little towards red/purple and highlights towards yellow, which reads
    as lit skin instead of the muddy look a plain multiply gives.
    """
    h, lum, s = colorsys.rgb_to_hls(c[0] / 255, c[1] / 255, c[2] / 255)
    lum = max(0.0, min(1.0, lum + amount))
    h = (h + hue_shift) % 1.0
    s = max(0.0, min(1.0, s * sat))
    r, g, b = colorsys.hls_to_rgb(h, lum, s)
    return _clamp(r * 255), _clamp(g * 255), _clamp(b * 255)


def luminance(c: RGB) -> float:
    """Perceived brightness in 0..1 (Rec. 601 weights are plenty for contrast decisions)."""
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255


def grey(c: RGB) -> RGB:
    v = _clamp(luminance(c) * 255)
    return v, v, v


def saturate(c: RGB, factor: float) -> RGB:
    return shade(c, 0.0, 0.0, factor)
