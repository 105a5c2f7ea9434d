"""Product analytics: ``POST /v1/events``, the picker's conversion funnel (anonymous allowed)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.http import caller, json_response, parse_body
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container

__all__ = ["events"]

events = ApiBlueprint(__name__)


@events.route("/v1/events", methods=["POST"])
def record_events() -> Response:
    from chalicelib.schemas.funnel import EventsAccepted, ProductEvents

    request = events.current_request
    identity = caller(request)
    body = parse_body(request, ProductEvents)
    counted = get_container().operations.product_events(identity, [event.name for event in body.events])
    return json_response(EventsAccepted(accepted=counted), 202, {"Cache-Control": "no-store"})
