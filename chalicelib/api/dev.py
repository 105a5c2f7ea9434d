"""The local stage's convenience: ``POST /v1/dev/token``.

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


@dev.route("/v1/dev/token", methods=["POST"])
def dev_token() -> Response:
    from chalicelib.schemas.admin import DevToken, DevTokenRequest

    container = get_container()
    if container.settings.stage != "local":
        raise NotFound("No such route.")
    body = parse_body(dev.current_request, DevTokenRequest)
    from chalicelib.services.access.identity import (
        issue_dev_token,
    )  # the local stage only: not on cold starts

    token, expires_at = issue_dev_token(
        container.settings.jwt_secret.get_secret_value(), body.sub, body.tier, container.ports.clock.time()
    )
    return json_response(DevToken(token=token, expires_at=expires_at), 200, {"Cache-Control": "no-store"})
