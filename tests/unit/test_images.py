"""The image pipeline: verification, bomb guards, metadata stripping, crops, sizes, keys."""

from __future__ import annotations

import hashlib
import io
import random
import re
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageCms, TiffImagePlugin

from chalicelib.adapters.imaging.pipeline import GALLERY_SIZES, ImageRejected, Rendition, process_image

KEY_RE = re.compile(r"^img/[0-9a-f]{40}\.webp$")
ALL_SIZES = (128, 256, 512, 1024)
ROOT = Path(__file__).resolve().parents[2]

RED = (230, 20, 20)
BLUE = (20, 20, 230)
MAGENTA = (240, 0, 240)
GREEN = (20, 200, 20)


# --- helpers -------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo(size: tuple[int, int] = (1024, 1024), seed: int = 1) -> Image.Image:
    """A deterministic picture with gradients and texture (not a flat colour)."""
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.frombytes("L", (64, 64), random.Random(seed).randbytes(64 * 64)).resize(size)
    return Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def decode(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.data))
    assert image.format == "WEBP"
    image.load()
    return image


def webp_chunks(data: bytes) -> list[bytes]:
    """The FourCCs of the chunks in a WebP (RIFF) file."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        fourcc, length = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        chunks.append(fourcc)
        offset += 8 + length + (length & 1)
    return chunks


def assert_no_metadata(rendition: Rendition) -> None:
    chunks = webp_chunks(rendition.data)
    assert not {b"EXIF", b"XMP ", b"ICCP"} & set(chunks), chunks
    image = decode(rendition)
    assert not {"exif", "xmp", "icc_profile"} & set(image.info), image.info
    assert len(image.getexif()) == 0


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value


def colours(image: Image.Image) -> list[tuple[int, ...]]:
    found = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert found is not None
    return [colour for _, colour in found if isinstance(colour, tuple)]


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height``, with a tiny (wrong) IDAT: a bomb header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def rejected(source: bytes | Image.Image, **kwargs: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        process_image(source, (128,), **kwargs)
    return caught.value


@pytest.fixture(scope="module")
def big_photo() -> Image.Image:
    return photo()


# --- the happy path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {"quality": 90})],
)
def test_1024_source_yields_every_size_as_webp(
    big_photo: Image.Image, fmt: str, params: dict[str, object]
) -> None:
    renditions = process_image(encode(big_photo, fmt, **params), ALL_SIZES)

    assert [r.size for r in renditions] == list(ALL_SIZES)
    for rendition in renditions:
        assert rendition.content_type == "image/webp"
        assert KEY_RE.match(rendition.key), rendition.key
        assert rendition.key == f"img/{hashlib.sha256(rendition.data).hexdigest()[:40]}.webp"
        image = decode(rendition)
        assert image.size == (rendition.size, rendition.size)
        assert image.mode == "RGB"
    # Distinct sizes are distinct objects.
    assert len({r.key for r in renditions}) == len(ALL_SIZES)


def test_output_follows_the_order_given_and_repeats(big_photo: Image.Image) -> None:
    data = encode(big_photo, "JPEG", quality=90)
    renditions = process_image(data, (256, 1024, 128, 256))
    assert [r.size for r in renditions] == [256, 1024, 128, 256]
    assert renditions[0] == renditions[3]


def test_same_input_gives_same_keys_and_bytes(big_photo: Image.Image) -> None:
    data = encode(big_photo.resize((300, 300)), "PNG")
    first = process_image(data, GALLERY_SIZES)
    second = process_image(data, GALLERY_SIZES)
    assert first == second
    assert [r.key for r in first] == [r.key for r in second]
    assert all(KEY_RE.match(r.key) for r in first)
    # A different quality is a different object.
    assert process_image(data, GALLERY_SIZES, quality=50)[0].key != first[0].key


def test_renditions_resemble_the_source() -> None:
    left_right = Image.new("RGB", (512, 512), RED)
    left_right.paste(BLUE, (256, 0, 512, 512))
    (small,) = process_image(encode(left_right, "PNG"), (128,))
    image = decode(small)
    assert close(pixel(image, (20, 64)), RED)
    assert close(pixel(image, (108, 64)), BLUE)


def test_small_source_is_upscaled_to_every_size() -> None:
    data = encode(photo((100, 100)), "PNG")
    renditions = process_image(data, (1024, 512, 128, 64))
    assert [decode(r).size for r in renditions] == [(1024, 1024), (512, 512), (128, 128), (64, 64)]


def test_pillow_image_is_accepted_and_left_untouched() -> None:
    source = photo((400, 300)).convert("RGBA")
    source.info["comment"] = "kept"
    before = source.tobytes()

    renditions = process_image(source, (256, 128))

    assert [decode(r).size for r in renditions] == [(256, 256), (128, 128)]
    assert source.size == (400, 300) and source.mode == "RGBA"
    assert source.tobytes() == before and source.info == {"comment": "kept"}
    # Same pixels as bytes → same objects.
    assert renditions == process_image(encode(source, "PNG"), (256, 128))


# --- metadata, orientation, colour ---------------------------------------------------------


def test_exif_xmp_and_icc_are_stripped(big_photo: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x013B] = "Jane Secret Artist"  # Artist
    exif[0x010F] = "SpyCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">XmpSecretMarker</x:xmpmeta>'
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(big_photo.resize((256, 256)), "JPEG", quality=90, exif=exif, xmp=xmp, icc_profile=icc)
    source = Image.open(io.BytesIO(data))
    assert source.getexif()[0x013B] == "Jane Secret Artist"
    assert source.getexif().get_ifd(0x8825)  # the GPS block is really in the input
    assert "icc_profile" in source.info and "xmp" in source.info

    for rendition in process_image(data, (256, 128)):
        assert_no_metadata(rendition)
        for secret in (b"Jane Secret Artist", b"SpyCam", b"XmpSecretMarker", b"sRGB"):
            assert secret not in rendition.data


def test_icc_profile_is_applied_not_just_dropped() -> None:
    """An sRGB-tagged image keeps its colours (the profile is converted to sRGB, then dropped)."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.new("RGB", (128, 128), GREEN), "PNG", icc_profile=icc)
    (rendition,) = process_image(data, (64,))
    assert_no_metadata(rendition)
    assert close(pixel(decode(rendition), (32, 32)), GREEN, tolerance=12)


def test_a_broken_icc_profile_is_ignored() -> None:
    data = encode(Image.new("RGB", (128, 128), GREEN), "PNG", icc_profile=b"not a profile at all")
    (rendition,) = process_image(data, (64,))
    assert close(pixel(decode(rendition), (32, 32)), GREEN, tolerance=12)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_applied(fmt: str) -> None:
    # Stored: left half red, right half blue. Orientation 6 = "rotate 90° clockwise to view",
    # so the viewer sees red on top and blue at the bottom.
    stored = Image.new("RGB", (256, 256), RED)
    stored.paste(BLUE, (128, 0, 256, 256))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, fmt, exif=exif, **({"quality": 95} if fmt != "PNG" else {}))
    assert Image.open(io.BytesIO(data)).getexif()[0x0112] == 6

    (rendition,) = process_image(data, (128,))
    image = decode(rendition)
    assert close(pixel(image, (64, 10)), RED), pixel(image, (64, 10))
    assert close(pixel(image, (64, 118)), BLUE), pixel(image, (64, 118))
    assert_no_metadata(rendition)


def test_portrait_crop_keeps_the_top() -> None:
    # 400x1000: a centred square would be rows 300..700; ours starts 10% down: rows 100..500.
    portrait = Image.new("RGB", (400, 1000), GREEN)
    portrait.paste(MAGENTA, (0, 100, 400, 280))  # the "face": only a top-biased crop has it
    portrait.paste(BLUE, (0, 700, 400, 1000))  # the bottom: no square crop should have it
    (rendition,) = process_image(encode(portrait, "PNG"), (200,))
    image = decode(rendition)

    assert close(pixel(image, (100, 10)), MAGENTA)
    assert close(pixel(image, (100, 190)), GREEN)
    assert not any(close(c, BLUE, 60) for c in colours(image))


def test_short_portrait_crop_is_clamped_to_the_image() -> None:
    # 400x420: 10% from the top would be row 42, but the square must end at row 420 → row 20.
    portrait = Image.new("RGB", (400, 420), GREEN)
    portrait.paste(MAGENTA, (0, 0, 400, 20))  # cut off
    portrait.paste(BLUE, (0, 400, 400, 420))  # kept (the last rows)
    (rendition,) = process_image(encode(portrait, "PNG"), (400,))
    image = decode(rendition)
    assert close(pixel(image, (200, 396)), BLUE)
    assert close(pixel(image, (200, 3)), GREEN)


def test_landscape_crop_is_centred() -> None:
    landscape = Image.new("RGB", (1000, 400), GREEN)
    landscape.paste(RED, (0, 0, 300, 400))
    landscape.paste(BLUE, (700, 0, 1000, 400))
    (rendition,) = process_image(encode(landscape, "PNG"), (128,))
    image = decode(rendition)
    assert not any(close(c, RED, 60) or close(c, BLUE, 60) for c in colours(image))


def test_alpha_is_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (128, 128), (0, 0, 0, 0))  # transparent black
    rgba.paste((255, 0, 0, 128), (64, 0, 128, 128))  # half-transparent red
    (rendition,) = process_image(encode(rgba, "PNG"), (128,))
    image = decode(rendition)
    assert image.mode == "RGB"
    assert close(pixel(image, (20, 64)), (255, 255, 255), tolerance=6)
    assert close(pixel(image, (108, 64)), (255, 128, 128), tolerance=12)


def test_transparent_gif_first_frame_is_used_and_flattened() -> None:
    first = Image.new("P", (128, 128), 1)
    first.putpalette([0, 0, 0, *RED, *BLUE] + [0] * (256 * 3 - 9))
    first.paste(0, (0, 0, 64, 128))  # left half: index 0, transparent
    second = Image.new("P", (128, 128), 2)
    second.putpalette(first.getpalette() or [])
    data = encode(first, "GIF", save_all=True, append_images=[second], transparency=0, duration=100)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2

    (rendition,) = process_image(data, (128,))
    image = decode(rendition)
    assert close(pixel(image, (20, 64)), (255, 255, 255), tolerance=6)
    assert close(pixel(image, (108, 64)), RED)


def test_sixteen_bit_grey_png_keeps_its_brightness() -> None:
    grey = Image.new("I;16", (128, 128), 32768)  # 50% grey in 16 bits
    (rendition,) = process_image(encode(grey, "PNG"), (64,))
    assert close(pixel(decode(rendition), (32, 32)), (128, 128, 128), tolerance=6)


def test_mpo_jpeg_is_accepted(big_photo: Image.Image) -> None:
    small = big_photo.resize((256, 256))
    data = encode(small, "MPO", save_all=True, append_images=[small.rotate(90)])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    (rendition,) = process_image(data, (128,))
    assert decode(rendition).size == (128, 128)


def test_large_jpeg_is_drafted_and_still_exact(big_photo: Image.Image) -> None:
    data = encode(big_photo.resize((2048, 1536)), "JPEG", quality=85)
    renditions = process_image(data, GALLERY_SIZES)
    assert [decode(r).size for r in renditions] == [(s, s) for s in GALLERY_SIZES]


# --- rejections ----------------------------------------------------------------------------


def test_empty_bytes_are_rejected() -> None:
    assert rejected(b"").reason == "not_an_image"


def test_random_bytes_are_not_an_image() -> None:
    error = rejected(random.Random(3).randbytes(4096))
    assert error.reason == "not_an_image"
    assert error.message and str(error) == error.message


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_png_is_corrupt(big_photo: Image.Image, cut: float) -> None:
    data = encode(big_photo.resize((256, 256)), "PNG")
    assert rejected(data[: int(len(data) * cut)]).reason == "corrupt"


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "WEBP"])
@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_truncated_jpeg_gif_webp_are_corrupt(big_photo: Image.Image, fmt: str, keep: float) -> None:
    data = encode(big_photo.resize((256, 256)), fmt)
    assert rejected(data[: int(len(data) * keep)]).reason == "corrupt"


def test_damaged_png_header_is_corrupt(big_photo: Image.Image) -> None:
    data = bytearray(encode(big_photo.resize((128, 128)), "PNG"))
    data[12:16] = b"XXXX"  # the IHDR chunk type
    assert rejected(bytes(data)).reason == "corrupt"


def test_png_with_bad_crc_is_corrupt(big_photo: Image.Image) -> None:
    data = bytearray(encode(big_photo.resize((128, 128)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF  # flip a byte inside the compressed pixels
    assert rejected(bytes(data)).reason == "corrupt"


def test_damage_only_verify_sees_is_corrupt(big_photo: Image.Image) -> None:
    """Pixels decode fine, but the file is broken after them: ``verify()`` must catch it."""
    data = encode(big_photo.resize((128, 128)), "PNG")
    body = b"Comment\x00hello"
    bad_chunk = struct.pack(">I", len(body)) + b"tEXt" + body + b"\x00\x00\x00\x00"  # wrong CRC
    assert rejected(data[:-12]).reason == "corrupt"  # IEND missing
    assert rejected(data[:-12] + bad_chunk + data[-12:]).reason == "corrupt"


@pytest.mark.parametrize(
    "make",
    [
        lambda img: encode(img, "BMP"),
        lambda img: encode(img, "TIFF"),
        lambda img: encode(img, "ICO"),
        lambda img: encode(img, "PPM"),
        lambda img: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        lambda img: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    ],
    ids=["bmp", "tiff", "ico", "ppm", "heic", "svg"],
)
def test_other_image_formats_are_unsupported(make: Callable[[Image.Image], bytes]) -> None:
    error = rejected(make(photo((128, 128))))
    assert error.reason == "unsupported_format", error


def test_tiff_is_never_parsed() -> None:
    """The TIFF parser is not even consulted (only the accepted formats' parsers run)."""
    data = encode(photo((128, 128)), "TIFF")
    calls: list[object] = []
    original = TiffImagePlugin.TiffImageFile._open

    def spy(self: TiffImagePlugin.TiffImageFile) -> None:
        calls.append(self)
        original(self)

    TiffImagePlugin.TiffImageFile._open = spy  # type: ignore[method-assign]
    try:
        assert rejected(data).reason == "unsupported_format"
    finally:
        TiffImagePlugin.TiffImageFile._open = original  # type: ignore[method-assign]
    assert calls == []


@pytest.mark.parametrize("dims", [(100_000, 100_000), (8000, 6000)])
def test_bomb_header_is_refused_before_decoding(dims: tuple[int, int]) -> None:
    data = png_with_header(*dims)
    assert len(data) < 200
    started = time.perf_counter()
    error = rejected(data)
    elapsed = time.perf_counter() - started
    assert error.reason == "too_many_pixels"
    # Decoding (or even allocating) 30 GB of pixels would take far longer - or crash.
    assert elapsed < 1.0, elapsed


def test_max_pixels_is_enforced_on_real_images(big_photo: Image.Image) -> None:
    data = encode(big_photo.resize((300, 300)), "PNG")
    assert rejected(data, max_pixels=300 * 300 - 1).reason == "too_many_pixels"
    assert process_image(data, (128,), max_pixels=300 * 300)
    assert rejected(big_photo, max_pixels=1000).reason == "too_many_pixels"


def test_pillow_bomb_warning_becomes_a_rejection() -> None:
    """Above Pillow's own MAX_IMAGE_PIXELS (but below the caller's limit) is refused too."""
    pixels = Image.MAX_IMAGE_PIXELS
    assert pixels is not None
    data = png_with_header(pixels // 10_000 + 1, 10_000)
    error = rejected(data, max_pixels=2 * pixels)
    assert error.reason == "too_many_pixels"


def test_oversized_bytes_are_too_large(big_photo: Image.Image) -> None:
    data = encode(big_photo.resize((256, 256)), "PNG")
    assert rejected(data, max_bytes=len(data) - 1).reason == "too_large"
    assert process_image(data, (128,), max_bytes=len(data))
    assert rejected(b"\x00" * (20 * 1024 * 1024 + 1)).reason == "too_large"


@pytest.mark.parametrize("size", [(63, 63), (640, 63), (63, 640)])
def test_too_small_images_are_rejected(size: tuple[int, int]) -> None:
    assert rejected(encode(photo(size), "PNG")).reason == "too_small"
    assert rejected(photo(size)).reason == "too_small"


def test_64_pixels_is_enough() -> None:
    (rendition,) = process_image(encode(photo((64, 64)), "PNG"), (128,))
    assert decode(rendition).size == (128, 128)


@pytest.mark.parametrize("sizes", [(), (0,), (-5,), (128, 5000), (True,), (12.5,)])
def test_bad_sizes_are_a_programming_error(sizes: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="size"):
        process_image(encode(photo((64, 64)), "PNG"), sizes)  # type: ignore[arg-type]


def test_other_sources_are_a_type_error() -> None:
    with pytest.raises(TypeError):
        process_image("not bytes", (128,))  # type: ignore[arg-type]


def test_rejection_pickles_with_its_reason() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(ImageRejected("corrupt", "the file is damaged")))  # noqa: S301
    assert (error.reason, error.message) == ("corrupt", "the file is damaged")
    assert str(error) == "the file is damaged"


# --- the cold start ------------------------------------------------------------------------


def test_importing_the_module_does_not_import_pillow() -> None:
    code = "import sys, chalicelib.adapters.imaging.pipeline; sys.exit(any(m.startswith('PIL') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
