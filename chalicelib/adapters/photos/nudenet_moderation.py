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
MODEL_SIDE = 640  # twice the model's input: the padding to a square keeps the detail it needs
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
                import os

                import nudenet
                import onnxruntime
                from nudenet import NudeDetector

                detector = NudeDetector()
                # One thread per inference: a Lambda (or a shared test machine) has one or two
                # cores, where onnxruntime's default thread pool spends more on waking threads
                # than on the 320 px model itself.
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                model = os.path.join(os.path.dirname(nudenet.__file__), "320n.onnx")
                detector.onnx_session = onnxruntime.InferenceSession(
                    model, sess_options=options, providers=["CPUExecutionProvider"]
                )
                self._detector = detector
            return self._detector

    def refuses(self, image: Image.Image) -> bool:
        import numpy as np

        # The model sees a 320 px square: hand it a small copy (its own resize of a large array
        # costs more than the inference). NudeNet reads OpenCV's BGR order.
        small = image.convert("RGB")
        if max(small.size) > MODEL_SIDE:
            small = small.copy() if small is image else small
            small.thumbnail((MODEL_SIDE, MODEL_SIDE))
        bgr = np.ascontiguousarray(np.asarray(small)[:, :, ::-1])
        detections = self._model().detect(bgr)
        return refused_by(list(detections), self._min_score)
