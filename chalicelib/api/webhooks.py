"""Provider callbacks: ``POST /v1/webhooks/{provider}`` (fal, replicate, runpod). Not for clients.

The route only hands the raw body and headers to ``services/generation/webhooks.py`` (``ReceiveWebhook``),
which verifies the signature (or RunPod's per-job secret) against the raw bytes, refuses stale
timestamps and replays, and finishes the job. Whatever content type a provider sends is accepted:
the signature, not the header, says whether the body is trustworthy.
"""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.http import json_response, query
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import PayloadTooLarge

webhooks = ApiBlueprint(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024  # a prediction with its logs can be large; images come as URLs
WEBHOOK_CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
]


@webhooks.route("/v1/webhooks/{provider}", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def provider_webhook(provider: str) -> Response:
    request = webhooks.current_request
    body = request.raw_body or b""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("The webhook body is too large.")
    outcome = get_container().generation.webhooks.receive(
        provider, dict(request.headers), query(request), raw
    )
    return json_response({"status": outcome})
