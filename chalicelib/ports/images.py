"""The image pipeline: a provider's or a source's picture in, square WebP renditions out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class ImageRejected(Exception):
    """Input that is not an acceptable image; ``reason`` is a short machine word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[str, str]]:
        return (type(self), (self.reason, self.message))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ImageRejected(reason={self.reason!r}, message={self.message!r})"


@dataclass(frozen=True)
class Rendition:
    size: int
    key: str
    """Content-addressed object key: ``img/<first 40 hex of sha256(data)>.webp``."""
    data: bytes
    """The WebP bytes."""
    content_type: str = "image/webp"


class ImagePipeline(Protocol):
    """Verifies an untrusted picture and makes one content-addressed WebP per size."""

    def renditions(self, picture: bytes | Any, sizes: Sequence[int]) -> list[Rendition]:
        """``picture``: encoded bytes, or an image decoded in-process (the procedural renderer's).
        Raises :class:`ImageRejected` for anything that is not an acceptable image."""
        ...
