"""``POST /v1/admin/gallery/refresh``: run the gallery refresh now (the job the schedule runs)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from chalice.app import Response

from chalicelib.api.admin_auth import require_admin
from chalicelib.api.http import json_response
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container

if TYPE_CHECKING:
    from chalicelib.services.gallery.refresh import GalleryRefresh

__all__ = ["admin_gallery"]

log = logging.getLogger(__name__)

admin_gallery = ApiBlueprint(__name__)

# Outside the local stage the run happens within the request, bounded well under API
# Gateway's 29 s; it publishes what it has and the next run (or the schedule) goes on.
SYNC_DEADLINE_S = 20.0


@admin_gallery.route("/v1/admin/gallery/refresh", methods=["POST"])
def refresh_gallery() -> Response:
    from chalicelib.schemas.models import GalleryRefreshAccepted

    require_admin(admin_gallery.current_request)
    container = get_container()
    job = container.gallery.refresh
    if container.settings.stage == "local":
        # chalice local: answer at once, run in the background.
        threading.Thread(target=_run_logged, args=(job,), name="gallery-refresh", daemon=True).start()
        return json_response(GalleryRefreshAccepted(status="started"), 202)
    report = job.run(deadline_s=SYNC_DEADLINE_S)
    body = GalleryRefreshAccepted(
        status=report.status,
        run_id=report.run_id or None,
        partial=report.partial,
        added=report.added,
        stopped=report.stopped,
        total=report.total if report.status != "busy" else None,
    )
    return json_response(body, 202)


def _run_logged(job: GalleryRefresh) -> None:
    try:
        job.run()
    except Exception:
        log.exception("the gallery refresh failed; the next run resumes from its checkpoint")
