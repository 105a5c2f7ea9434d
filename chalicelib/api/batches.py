"""Enterprise batches: ``POST /v1/batches`` and ``GET /v1/batches/{batch_id}`` (API keys only)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.http import absolute_url, caller, json_response, parse_body
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container

batches = ApiBlueprint(__name__)

MAX_BATCH_BODY_BYTES = 512 * 1024  # 100 items, each with a prompt and possibly a callback URL


@batches.route("/v1/batches", methods=["POST"])
def create_batch() -> Response:
    from chalicelib.schemas.models import BatchRequest

    request = batches.current_request
    identity = caller(request)
    body = parse_body(request, BatchRequest, max_bytes=MAX_BATCH_BODY_BYTES)
    accepted = get_container().generation.batches.create(identity, body)
    return json_response(accepted, 202, {"Location": absolute_url(request, f"/v1/batches/{accepted.id}")})


@batches.route("/v1/batches/{batch_id}", methods=["GET"])
def get_batch(batch_id: str) -> Response:
    identity = caller(batches.current_request)
    return json_response(get_container().generation.batches.get(identity, batch_id))
