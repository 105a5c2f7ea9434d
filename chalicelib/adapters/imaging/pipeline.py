"""The image pipeline: untrusted bytes in, content-addressed square WebP renditions out.

``process_image`` turns a provider's (or a source's) picture into one WebP per requested size:

1. **Verify and normalise** (``decode.py``): limits, format whitelist, bomb guard, EXIF
   orientation, sRGB, alpha flattened, square crop. No metadata survives: the WebP carries no
   EXIF, XMP or ICC.
2. **Resize**, cheaply: JPEGs are decoded at a reduced DCT scale (``draft``) that still covers the
   largest size; the largest size is resized from the source (``reducing_gap`` lets Pillow
   ``reduce()`` by an integer factor first) and each smaller size from the previous, smaller,
   result. Sources smaller than a requested size are upscaled (every advertised size exists).
3. **Encode** WebP with a ``method`` measured for speed (see ``bench/images.py``); the object
   key is derived from the bytes, so the same input always yields the same keys.

Pillow is imported inside the functions only: this module sits on the Lambda cold-start path.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.imaging.decode import decode_bytes, prepare_given
from chalicelib.ports.images import ImageRejected, Rendition

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["GALLERY_SIZES", "ImageRejected", "PillowPipeline", "Rendition", "process_image"]

GALLERY_SIZES: tuple[int, ...] = (128, 256, 512)
_MAX_RENDITION_SIZE = 4096
# Pillow's reducing_gap: ``reduce()`` by an integer factor first while the remaining LANCZOS
# step still downscales by at least this much (Pillow's own default for thumbnails).
_REDUCING_GAP = 2.0
# WebP ``method`` (0 = fastest .. 6 = smallest). Measured with bench/images.py on a 1024x1024
# photo-like picture at quality 82: method 3-4 cost ~2.3x method 2 for ~4% fewer bytes at the
# same PSNR, method 6 ~7x; so 2 for the large sizes and 4 where it is nearly free.
_WEBP_METHOD_LARGE = 2
_WEBP_METHOD_SMALL = 4
_WEBP_SMALL_MAX_SIDE = 256


def process_image(
    source: bytes | Image.Image,
    sizes: Sequence[int],
    *,
    max_bytes: int = 20 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    quality: int = 82,
) -> list[Rendition]:
    """Verify, guard against bombs, strip metadata, square-crop, resize to each size, encode WebP.

    ``source`` is untrusted bytes, or a Pillow image the caller made (which is not modified).
    Returns one :class:`Rendition` per entry of ``sizes``, in the order given. Raises
    :class:`ImageRejected` for unacceptable input and ``ValueError`` for bad arguments.
    """
    from PIL import Image

    wanted = _check_sizes(sizes)
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be 0..100, got {quality!r}")

    if isinstance(source, bytes | bytearray | memoryview):
        square = decode_bytes(bytes(source), largest=wanted[0], max_bytes=max_bytes, max_pixels=max_pixels)
    elif isinstance(source, Image.Image):
        square = prepare_given(source, max_pixels=max_pixels)
    else:
        raise TypeError(f"source must be bytes or a PIL.Image.Image, not {type(source).__name__}")

    by_size = _render_all(square, wanted, quality=quality)
    return [by_size[size] for size in sizes]


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    """The distinct sizes, largest first; ``ValueError`` for anything that is not a sane side."""
    if isinstance(sizes, str | bytes) or not sizes:
        raise ValueError("sizes must be a non-empty sequence of ints")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= _MAX_RENDITION_SIZE:
            raise ValueError(f"each size must be an int in 1..{_MAX_RENDITION_SIZE}, got {size!r}")
    return sorted(set(sizes), reverse=True)


def _render_all(square: Image.Image, wanted: list[int], *, quality: int) -> dict[int, Rendition]:
    """One rendition per size (``wanted`` is largest first), each resized from the smallest
    image already at hand that is at least as large: the source for the largest size (and for
    any upscale), then the previous rendition."""
    from PIL import Image

    base = square
    renditions: dict[int, Rendition] = {}
    for size in wanted:
        if size == base.width:
            picture = base
        else:
            picture = base.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
        if size < base.width:
            base = picture
        renditions[size] = _encode(picture, size, quality=quality)
    return renditions


def _encode(picture: Image.Image, size: int, *, quality: int) -> Rendition:
    method = _WEBP_METHOD_SMALL if size <= _WEBP_SMALL_MAX_SIDE else _WEBP_METHOD_LARGE
    buffer = io.BytesIO()
    # No metadata: Pillow's WebP writer only embeds what is passed here, and nothing is.
    picture.save(buffer, "WEBP", quality=quality, method=method, icc_profile="", exif=b"", xmp=b"")
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:40]
    return Rendition(size=size, key=f"img/{digest}.webp", data=data)


class PillowPipeline:
    """:class:`chalicelib.ports.ImagePipeline` on Pillow."""

    def renditions(self, picture: bytes | Any, sizes: Sequence[int]) -> list[Rendition]:
        return process_image(picture, sizes)
