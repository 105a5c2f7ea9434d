"""The local stage's conveniences: ``POST /v1/dev/token`` and the root page.

``/v1/dev/token`` hands out user tokens signed with the JWT secret, so that a newcomer (and the
page's "sign in as" control) can act as a free, premium or enterprise user without an identity
provider. It exists in the local stage only: every other stage answers 404, as for any unknown
route.
"""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.http import json_response, parse_body
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import NotFound

dev = ApiBlueprint(__name__)

ROOT_LINKS = {
    "openapi": "/v1/openapi.json",
    "styles": "/v1/styles",
    "gallery": "/v1/gallery",
    "health": "/v1/health",
    "dev_token": "/v1/dev/token",
}
ROOT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>avatarflow</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>avatarflow</h1>
<p>Profile pictures from a gallery, or made on demand. This is the API; start here:</p>
<ul>
<li><a href="/v1/openapi.json">/v1/openapi.json</a>: every route, its request and response (OpenAPI 3.1)</li>
<li><a href="/v1/styles">/v1/styles</a> and <a href="/v1/gallery?limit=12">/v1/gallery</a>: the instant gallery</li>
<li><a href="/v1/health">/v1/health</a>: what serves each part</li>
<li><code>POST /v1/dev/token</code> with <code>{"sub": "me", "tier": "premium"}</code>: a user token (local stage)</li>
</ul>
<p>The contract and the architecture are in the repository's <code>docs/</code> folder.</p>
</body></html>
"""


@dev.route("/v1/dev/token", methods=["POST"])
def dev_token() -> Response:
    from chalicelib.domain.admin_models import DevToken, DevTokenRequest

    container = get_container()
    if container.settings.stage != "local":
        raise NotFound("No such route.")
    body = parse_body(dev.current_request, DevTokenRequest)
    from chalicelib.services.identity import issue_dev_token  # the local stage only: not on cold starts

    token, expires_at = issue_dev_token(
        container.settings.jwt_secret.get_secret_value(), body.sub, body.tier, container.clock.time()
    )
    return json_response(DevToken(token=token, expires_at=expires_at), 200, {"Cache-Control": "no-store"})


@dev.route("/", methods=["GET"])
def root() -> Response:
    """Until the reference page exists: where to start, for a browser or a client."""
    accept = dev.current_request.headers.get("accept") or ""
    if "text/html" in accept:
        return Response(body=ROOT_HTML, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})
    return json_response({"name": "avatarflow", "links": ROOT_LINKS})
