"""The browser pages: the reference page at ``/``, the operators' dashboard at ``/admin`` and their
assets at ``/web/{asset}`` (the embeddable ``<avatarflow-picker>`` among them).

They are static files of the repository's ``web/`` folder. The local stage serves them from there;
in production they are published to the CDN (docs/deploy.md) and a deployed Lambda, which carries
no ``web/`` folder, answers ``/`` with the JSON "where to start" and the rest with 404.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from chalice.app import Response

from chalicelib.api.http import etag, etag_matches, json_response
from chalicelib.api.routing import ApiBlueprint
from chalicelib.domain.errors import NotFound

pages = ApiBlueprint(__name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
# A flat folder of a few kinds of files; anything else (paths, tests, dotfiles) is not served.
ASSET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*\.(js|css|svg|json)$")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "json": "application/json",
}
ROOT_LINKS = {
    "openapi": "/v1/openapi.json",
    "styles": "/v1/styles",
    "gallery": "/v1/gallery",
    "health": "/v1/health",
    "dev_token": "/v1/dev/token",
}
# The page's own scripts, styles and images only; the API (and its WebSocket) may live elsewhere.
PAGE_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
    "connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


# path -> (mtime_ns, size, text, ETag): a file is read and hashed again only when it changes, so
# the local stage still serves the working copy as it is edited, for one stat per request.
_read: dict[str, tuple[int, int, str, str]] = {}


def _file(name: str) -> tuple[str, str]:
    """The text of ``web/<name>`` and its ETag; NotFound where there is no such file."""
    path = WEB_DIR / name
    try:
        st = path.stat()
    except OSError:
        raise NotFound("No such file.") from None
    if not stat.S_ISREG(st.st_mode):
        raise NotFound("No such file.")
    known = _read.get(str(path))
    if known is not None and known[:2] == (st.st_mtime_ns, st.st_size):
        return known[2], known[3]
    data = path.read_bytes()
    text, tag = data.decode("utf-8"), etag(data)
    _read[str(path)] = (st.st_mtime_ns, st.st_size, text, tag)
    return text, tag


def _static(name: str) -> Response:
    text, tag = _file(name)
    headers: dict[str, str | list[str]] = {
        "Content-Type": MEDIA_TYPES[name.rsplit(".", 1)[1]],
        # Revalidated on every load (a 304 when unchanged): the local stage serves a working copy.
        "Cache-Control": "no-cache",
        "ETag": tag,
        "X-Content-Type-Options": "nosniff",
    }
    if name.endswith(".html"):
        headers["Content-Security-Policy"] = PAGE_SECURITY_POLICY
    if etag_matches(pages.current_request.headers.get("if-none-match"), tag):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=text, status_code=200, headers=headers)


@pages.route("/", methods=["GET"])
def root() -> Response:
    """The reference page; where there is none (a deployed Lambda), where to start, as JSON."""
    try:
        return _static("index.html")
    except NotFound:
        return json_response({"name": "avatarflow", "links": ROOT_LINKS})


@pages.route("/admin", methods=["GET"])
def admin_page() -> Response:
    """The operators' dashboard (it asks for the admin token and keeps it in memory only)."""
    return _static("admin.html")


@pages.route("/web/{asset}", methods=["GET"])
def web_asset(asset: str) -> Response:
    """A script, style sheet or image of the pages."""
    if not ASSET_PATTERN.match(asset):
        raise NotFound("No such file.")
    return _static(asset)
