"""An uploaded photo's bytes to a clean picture: decoded within limits with the decode guards of
:mod:`chalicelib.adapters.imaging.decode`, its EXIF orientation applied, and re-encoded with no
metadata at all (no EXIF, so no GPS; no XMP, no ICC profile, no comments).

The whole photo is kept (not square-cropped: the face may be anywhere), about 1000 and at most
:data:`KEPT_SIDE` pixels on its long side: plenty for a 1024 px avatar of the face, and quick to check.
Pillow is imported inside the functions only.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from chalicelib.adapters.imaging.decode import (
    _ACCEPTED_FORMATS,
    _DECODE_ERRORS,
    _JPEG_FORMATS,
    _check_dimensions,
    _open,
    _oriented,
    _to_srgb_rgb,
    _unsupported,
)
from chalicelib.ports.images import ImageRejected

if TYPE_CHECKING:
    from PIL import Image

KEPT_SIDE = 1280  # the long side of the photo as kept and sent to a provider, at most
DRAFT_SIDE = 960  # a JPEG is decoded at the smallest 1/2^n scale still this long (libjpeg's draft)
KEPT_QUALITY = 90

# The upload formats (the contract's content types): GIF is an avatar source, not a photo.
_PHOTO_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})


def decode_photo(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """The photo as it is meant to be seen: verified, decoded, oriented, sRGB RGB, no metadata,
    at most :data:`KEPT_SIDE` on its long side. Raises :class:`ImageRejected`."""
    from PIL import Image

    if not data:
        raise ImageRejected("not_an_image", "the data is empty")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"the image is {len(data)} bytes, more than {max_bytes}")
    try:
        with _open(data) as probe:
            fmt = probe.format or ""
            if fmt not in _PHOTO_FORMATS or fmt not in (*_ACCEPTED_FORMATS, *_JPEG_FORMATS):
                raise _unsupported(fmt or "this")
            width, height = probe.size
            _check_dimensions(width, height, max_pixels=max_pixels)
            try:
                probe.verify()
            except _DECODE_ERRORS as exc:
                raise ImageRejected("corrupt", f"the {fmt} file is damaged or truncated") from exc
        image = _open(data)
        try:
            if fmt in _JPEG_FORMATS:
                # libjpeg decodes at 1/2, 1/4 or 1/8 scale while the result still covers DRAFT_SIDE:
                # a 12 MP photo (4000 x 3000) is decoded at 1000 x 750, a sixteenth of the work.
                scale = min(1.0, DRAFT_SIDE / max(width, height))
                image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
            image.load()
        except _DECODE_ERRORS as exc:
            image.close()
            raise ImageRejected("corrupt", f"the {fmt} file is damaged or truncated") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels", f"the image has too many pixels: {exc}") from exc

    icc = image.info.get("icc_profile")
    oriented = _oriented(image, owned=True)
    if max(oriented.size) > KEPT_SIDE:
        oriented.thumbnail((KEPT_SIDE, KEPT_SIDE), Image.Resampling.LANCZOS)
    clean = _to_srgb_rgb(oriented, icc if isinstance(icc, bytes) else None)
    clean.info = {}
    return clean


def encode_clean_jpeg(image: Image.Image) -> bytes:
    """JPEG bytes with no metadata block: Pillow writes EXIF, ICC, XMP or comments only when
    asked, and the image's ``info`` was emptied by :func:`decode_photo`."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=KEPT_QUALITY, optimize=False, exif=b"", icc_profile=None)
    return out.getvalue()


class PillowPhotoCodec:
    """:class:`chalicelib.ports.photos.PhotoCodec` with Pillow: :func:`decode_photo` and
    :func:`encode_clean_jpeg`."""

    def decode(self, data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
        return decode_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)

    def clean_jpeg(self, image: Image.Image) -> bytes:
        return encode_clean_jpeg(image)
