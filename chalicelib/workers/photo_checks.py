"""The photo-checks function (production): an SQS-triggered Lambda of its own, built as a container
image from infra/photos/Dockerfile, because its detectors (OpenCV, NudeNet and onnxruntime, ~300 MB)
cannot fit in the API's 250 MB package. The API sends it each arrived upload
(``AVATARFLOW_QUEUE_URL_PHOTOS``); it runs the same ``CheckPhoto`` use case the embedded default
runs in-process. Handler string: ``chalicelib.workers.photo_checks.handler``.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.adapters.queue.photo_checks import parse_photo_message

log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Check each upload of the batch; a failed one is reported back to SQS (retried, then DLQ)."""
    from chalicelib.bootstrap import get_container

    checks = get_container().photos.check
    failures = []
    for record in event.get("Records", []):
        upload_id = parse_photo_message(str(record.get("body", "")))
        if upload_id is None:
            log.warning("photo checks: a message that is not an upload was dropped")
            continue
        try:
            checks(upload_id)
        except Exception:
            log.exception("photo checks failed; SQS will retry")
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures}
