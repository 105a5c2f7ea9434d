"""Face detection with OpenCV's frontal-face Haar cascade, the model file that ships inside the
opencv-python-headless wheel (``cv2/data``): nothing is downloaded at run time.

The picture is searched at most :data:`SEARCH_SIDE` pixels on its long side (a 12 MP photo's
face is still a few hundred pixels there), and faces smaller than :data:`MIN_FACE_FRACTION` of
the short side are ignored: a face in the far background of a selfie is not a second person
to refuse the photo for.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from chalicelib.domain.uploads import FaceBox

if TYPE_CHECKING:
    from PIL import Image

SEARCH_SIDE = 512
MIN_FACE_FRACTION = 0.12
CASCADE = "haarcascade_frontalface_default.xml"


class OpenCvFaceDetector:
    """:class:`chalicelib.ports.photos.FaceDetector` on OpenCV's Haar cascade."""

    def __init__(self, *, scale_factor: float = 1.15, min_neighbors: int = 5) -> None:
        self._scale_factor = scale_factor
        self._min_neighbors = min_neighbors
        self._local = threading.local()  # a CascadeClassifier is not safe to share across threads

    def _cascade(self) -> Any:
        cascade = getattr(self._local, "cascade", None)
        if cascade is None:
            import cv2

            # One thread: detectMultiScale's pool only adds wake-ups on a one- or two-core Lambda.
            cv2.setNumThreads(1)
            # cv2.data: the data files of the wheel (absent from OpenCV's type stubs).
            folder: str = cv2.data.haarcascades  # type: ignore[attr-defined]
            cascade = cv2.CascadeClassifier(folder + CASCADE)
            if cascade.empty():  # pragma: no cover - a wheel without its data files
                raise RuntimeError(f"OpenCV's {CASCADE} is missing from the installed package")
            self._local.cascade = cascade
        return cascade

    def faces(self, image: Image.Image) -> list[FaceBox]:
        import numpy as np
        from PIL import Image as PILImage

        width, height = image.size
        scale = min(1.0, SEARCH_SIDE / max(width, height))
        small = image.convert("L")
        if scale < 1.0:
            small = small.resize(
                (max(1, round(width * scale)), max(1, round(height * scale))), PILImage.Resampling.BILINEAR
            )
        grey = np.asarray(small)
        side = max(1, round(min(small.size) * MIN_FACE_FRACTION))
        found = self._cascade().detectMultiScale(
            grey, scaleFactor=self._scale_factor, minNeighbors=self._min_neighbors, minSize=(side, side)
        )
        sw, sh = small.size
        return [
            FaceBox(x / sw, y / sh, w / sw, h / sh) for (x, y, w, h) in (tuple(map(int, f)) for f in found)
        ]
