"""Test photos from pictures that ship inside scikit-image (a development dependency): the
astronaut (one face), two astronauts side by side (two faces), the coffee cup (no face)."""

from __future__ import annotations

import io
from typing import Any


def _pil(array: Any) -> Any:
    from PIL import Image

    return Image.fromarray(array).convert("RGB")


def astronaut() -> Any:
    from skimage import data

    return _pil(data.astronaut())  # type: ignore[no-untyped-call]


def two_astronauts() -> Any:
    from PIL import Image

    one = astronaut()
    both = Image.new("RGB", (one.width * 2, one.height), (255, 255, 255))
    both.paste(one, (0, 0))
    both.paste(one.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (one.width, 0))
    return both


def coffee() -> Any:
    from skimage import data

    return _pil(data.coffee())  # type: ignore[no-untyped-call]


def jpeg(image: Any, *, gps: bool = False, rotated: bool = False, quality: int = 90) -> bytes:
    """JPEG bytes; ``rotated``: stored turned a quarter left with EXIF orientation 6 (as a phone
    held upright writes it), so only a decoder that applies the orientation sees the face upright;
    ``gps``: with a GPS block (latitude and longitude) and a camera model in the EXIF."""
    from PIL import ExifTags, Image

    exif = Image.Exif()
    if rotated:
        image = image.transpose(Image.Transpose.ROTATE_90)
        exif[ExifTags.Base.Orientation] = 6
    if gps:
        exif[ExifTags.Base.Model] = "TestPhone 12"
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = "N"
        info[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
        info[ExifTags.GPS.GPSLongitudeRef] = "E"
        info[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def multipart(fields: dict[str, str], file: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends it: every field, then the file last."""
    boundary = "----avatarflowtest7d1c"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + file
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
