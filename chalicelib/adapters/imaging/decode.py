"""Untrusted bytes (or an image made in-process) to a verified, oriented, square, sRGB RGB picture.

Verify: size limits, a format whitelist (PNG, JPEG, WebP, GIF - first frame only), a pixel-count
guard read from the header *before* any pixel is decoded, Pillow's ``verify()`` on one open and
the decode from a fresh open (``verify()`` leaves the image unusable). Every way the input can be
unacceptable ends in :class:`ImageRejected` with a short machine ``reason``: ``too_large``,
``not_an_image``, ``unsupported_format``, ``too_many_pixels``, ``corrupt`` or ``too_small``.
Then EXIF orientation applied, an embedded ICC profile converted to sRGB, alpha flattened onto
white; the square starts about 10% from the top for a portrait (faces sit in its upper part).

Pillow is imported inside the functions only: this module sits on the Lambda cold-start path.
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING

from chalicelib.ports.images import ImageRejected

if TYPE_CHECKING:
    from PIL import Image

# The formats accepted from bytes. Pillow names a JPEG carrying a multi-picture index (many
# phone cameras write them) "MPO"; its first frame is an ordinary JPEG.
_ACCEPTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF")
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})
_MIN_SOURCE_SIDE = 64
# Portrait crops start this fraction of the height from the top (then clamped).
_PORTRAIT_TOP_FRACTION = 0.10
_WHITE = (255, 255, 255)

# What Pillow raises on malformed input while parsing or decoding untrusted bytes.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
)

# Magic numbers of image formats that are recognised but not accepted, so that a BMP gets
# "unsupported_format" rather than "not_an_image". Only the accepted formats' parsers ever see
# the bytes; these are compared, never parsed.
_UNSUPPORTED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xffO\xffQ", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\n", "JPEG XL"),
    (b"qoif", "QOI"),
    (b"DDS ", "DDS"),
    (b"v/1\x01", "OpenEXR"),
    (b"#?RADIANCE", "HDR"),
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
)
_ACCEPTED_MAGIC: tuple[bytes, ...] = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def _check_dimensions(width: int, height: int, *, max_pixels: int) -> None:
    from PIL import Image

    # Pillow's own bomb limit caps the caller's: refused here, from the header, before any
    # decoding, so Pillow's warning (process-wide state) never needs to be turned into an error.
    max_pixels = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    if width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels", f"the image is {width}x{height}, more than {max_pixels} pixels"
        )
    if min(width, height) < _MIN_SOURCE_SIDE:
        raise ImageRejected(
            "too_small",
            f"the image is {width}x{height}; both sides must be at least {_MIN_SOURCE_SIDE} pixels",
        )


def _sniff_rejected_format(data: bytes) -> ImageRejected:
    """Why bytes that no accepted format's parser would open are refused."""
    for magic in _ACCEPTED_MAGIC:
        if data.startswith(magic):
            return ImageRejected("corrupt", "the image header is damaged")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageRejected("corrupt", "the image header is damaged")
    for magic, name in _UNSUPPORTED_MAGIC:
        if data.startswith(magic):
            return _unsupported(name)
    if data[4:8] == b"ftyp":  # ISO-BMFF: HEIC, AVIF (and video)
        brand = data[8:12].decode("ascii", "replace").strip()
        return _unsupported(f"ISO-BMFF ({brand})")
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return _unsupported("SVG")
    if len(data) > 2 and data[:1] == b"P" and data[1:2] in b"1234567" and data[2:3].isspace():
        return _unsupported("PNM")
    return ImageRejected("not_an_image", "the data is not an image")


def _unsupported(name: str) -> ImageRejected:
    accepted = ", ".join(_ACCEPTED_FORMATS)
    return ImageRejected("unsupported_format", f"{name} images are not accepted (use {accepted})")


# --- decoding ------------------------------------------------------------------------------


def decode_bytes(data: bytes, *, largest: int, max_bytes: int, max_pixels: int) -> Image.Image:
    """Verified, decoded, oriented, square-cropped RGB image from untrusted bytes."""
    from PIL import Image

    if not data:
        raise ImageRejected("not_an_image", "the data is empty")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"the image is {len(data)} bytes, more than {max_bytes}")

    # The pixel limit is checked from the header before decoding (see _check_dimensions), so no
    # warnings.catch_warnings() is needed: it is process-wide and the worker runs threads.
    try:
        # Pass 1: header only (no pixels yet), then verify() the whole file.
        with _open(data) as probe:
            fmt = probe.format or ""
            if fmt not in _ACCEPTED_FORMATS and fmt not in _JPEG_FORMATS:
                raise _unsupported(fmt or "this")
            width, height = probe.size
            _check_dimensions(width, height, max_pixels=max_pixels)
            try:
                probe.verify()
            except _DECODE_ERRORS as exc:
                raise ImageRejected("corrupt", f"the {fmt} file is damaged or truncated") from exc

        # Pass 2: a fresh open (verify() invalidates the first) that decodes the pixels.
        image = _open(data)
        if image.size != (width, height):  # pragma: no cover - the same bytes, parsed again
            image.close()
            raise ImageRejected("corrupt", "the image header is inconsistent")
        try:
            if fmt in _JPEG_FORMATS:
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while the short side still
                # covers the largest rendition (scale = min(w // s, h // s), a power of two).
                image.draft("RGB", (largest, largest))
            image.load()
        except _DECODE_ERRORS as exc:
            image.close()
            raise ImageRejected("corrupt", f"the {fmt} file is damaged or truncated") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels", f"the image has too many pixels: {exc}") from exc

    icc = image.info.get("icc_profile")
    oriented = _oriented(image, owned=True)
    square = _square_crop(oriented)
    return _to_srgb_rgb(square, icc if isinstance(icc, bytes) else None)


def _open(data: bytes) -> Image.Image:
    """``Image.open`` restricted to the accepted formats; unidentified bytes are sniffed."""
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS)
    except UnidentifiedImageError as exc:
        raise _sniff_rejected_format(data) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except _DECODE_ERRORS as exc:
        raise ImageRejected("corrupt", "the image header is damaged") from exc


def prepare_given(image: Image.Image, *, max_pixels: int) -> Image.Image:
    """Oriented, square-cropped RGB copy of a caller's image (which is left as it was)."""
    width, height = image.size
    _check_dimensions(width, height, max_pixels=max_pixels)
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise ImageRejected("corrupt", "the image could not be decoded") from exc
    icc = image.info.get("icc_profile")
    oriented = _oriented(image, owned=False)
    square = _square_crop(oriented)
    return _to_srgb_rgb(square, icc if isinstance(icc, bytes) else None)


# --- normalising ---------------------------------------------------------------------------


def _oriented(image: Image.Image, *, owned: bool) -> Image.Image:
    """The image as it is meant to be seen (EXIF orientation applied); a damaged EXIF is ignored."""
    from PIL import ImageOps

    try:
        if owned:
            ImageOps.exif_transpose(image, in_place=True)
            return image
        return ImageOps.exif_transpose(image)
    except _DECODE_ERRORS:
        return image if owned else image.copy()


def _square_crop(image: Image.Image) -> Image.Image:
    """Centre square for landscape; for portrait, from ~10% below the top (faces are up there)."""
    width, height = image.size
    if width == height:
        return image
    side = min(width, height)
    if width > height:
        left = (width - side) // 2
        return image.crop((left, 0, left + side, side))
    top = min(round(height * _PORTRAIT_TOP_FRACTION), height - side)
    return image.crop((0, top, side, top + side))


def _to_srgb_rgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB in sRGB with alpha flattened onto white, and no ``info`` (no metadata to leak)."""
    from PIL import Image

    image = _normalise_mode(image)
    if icc and image.mode in ("RGB", "RGBA", "L", "CMYK"):
        image = _apply_icc(image, icc)
    if image.mode == "RGBA":
        flat = Image.new("RGB", image.size, _WHITE)
        flat.paste(image, (0, 0), image)
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.info = {}
    return image


def _normalise_mode(image: Image.Image) -> Image.Image:
    """One of RGB, RGBA, L or CMYK, keeping transparency and 16-bit greys' brightness."""
    mode = image.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        return image if mode == "RGBA" else image.convert("RGBA")
    if mode in ("RGB", "L", "CMYK"):
        return image
    if mode.startswith("I"):
        # 16-bit greys (PNG): scale to 8 bits instead of clipping everything to white.
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def _apply_icc(image: Image.Image, icc: bytes) -> Image.Image:
    """Pixels converted from the embedded profile to sRGB; an unusable profile is ignored."""
    try:
        from PIL import ImageCms
    except ImportError:  # pragma: no cover - a Pillow built without littleCMS
        return image

    out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    errors: tuple[type[Exception], ...] = (ImageCms.PyCMSError, *_DECODE_ERRORS)
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode=out_mode)
    except errors:
        return image
    return converted if converted is not None else image


# --- resizing and encoding -----------------------------------------------------------------
