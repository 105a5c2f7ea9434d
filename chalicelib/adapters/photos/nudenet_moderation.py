"""Image moderation with NudeNet's detector, whose ONNX model ships inside the nudenet package
(run by onnxruntime on the CPU): nothing is downloaded at run time.

A photo is refused when any *exposed* intimate part is detected with at least
:data:`MIN_SCORE` confidence; covered parts, faces and feet are not grounds for refusal.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

MIN_SCORE = 0.5
REFUSED_CLASSES = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)


def refused_by(detections: list[dict[str, Any]], min_score: float = MIN_SCORE) -> bool:
    """True when NudeNet's detections (``{"class", "score", "box"}`` each) break the policy."""
    return any(
        d.get("class") in REFUSED_CLASSES and float(d.get("score", 0)) >= min_score for d in detections
    )


class NudeNetModerator:
    """:class:`chalicelib.ports.photos.PhotoModerator` on NudeNet (one model per process)."""

    def __init__(self, min_score: float = MIN_SCORE) -> None:
        self._min_score = min_score
        self._lock = threading.Lock()
        self._detector: Any = None

    def _model(self) -> Any:
        with self._lock:
            if self._detector is None:
                from nudenet import NudeDetector

                self._detector = NudeDetector()
            return self._detector

    def refuses(self, image: Image.Image) -> bool:
        import numpy as np

        # NudeNet reads OpenCV's BGR order.
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        detections = self._model().detect(bgr)
        return refused_by(list(detections), self._min_score)
