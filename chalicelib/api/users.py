"""User routes: generations, quota, the chosen avatar, and the caller's data (export, erasure)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.errors import rate_limit_headers
from chalicelib.api.http import absolute_url, caller, int_param, json_response, parse_body, query
from chalicelib.api.prefer import Prefer
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import InvalidRequest

users = ApiBlueprint(__name__)

MAX_IDEMPOTENCY_KEY = 255


@users.route("/v1/generations", methods=["POST"])
def create_generation() -> Response:
    from chalicelib.schemas.models import GenerationRequest

    request = users.current_request
    identity = caller(request)
    body = parse_body(request, GenerationRequest)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.")
    prefer = Prefer.parse(request.headers.get("prefer"))
    requested = get_container().generation.request(
        identity, body, idempotency_key=idempotency_key, respond_async=prefer.respond_async, wait=prefer.wait
    )
    generation = requested.generation
    headers = rate_limit_headers(requested.rate_limit)
    if requested.finished:
        return json_response(generation, 200, headers)
    headers["Location"] = absolute_url(request, f"/v1/generations/{generation.id}")
    headers["Retry-After"] = str(max(1, round(generation.eta_seconds or 1)))
    return json_response(generation, 202, headers)


@users.route("/v1/generations/{generation_id}", methods=["GET"])
def get_generation(generation_id: str) -> Response:
    identity = caller(users.current_request)
    return json_response(get_container().generation.reads.get(identity, generation_id))


@users.route("/v1/generations", methods=["GET"])
def list_generations() -> Response:
    request = users.current_request
    identity = caller(request)
    params = query(request)
    limit = int_param(params, "limit", 20, 1, 100)
    return json_response(
        get_container().generation.reads.history(identity, limit, params.get("cursor") or None)
    )


@users.route("/v1/me/quota", methods=["GET"])
def my_quota() -> Response:
    identity = caller(users.current_request)
    return json_response(get_container().generation.reads.quota(identity))


@users.route("/v1/me/avatar", methods=["PUT"])
def choose_avatar() -> Response:
    from chalicelib.schemas.models import AvatarChoice, AvatarOut

    request = users.current_request
    identity = caller(request)
    choice = parse_body(request, AvatarChoice)
    return json_response(AvatarOut(avatar=get_container().generation.avatars.choose(identity, choice)))


@users.route("/v1/me/avatar", methods=["GET"])
def my_avatar() -> Response:
    from chalicelib.schemas.models import AvatarOut

    identity = caller(users.current_request)
    return json_response(AvatarOut(avatar=get_container().generation.avatars.current(identity)))


@users.route("/v1/me", methods=["DELETE"])
def erase_me() -> Response:
    identity = caller(users.current_request)
    get_container().privacy.erase_user_data(identity)
    return Response(body="", status_code=204)


@users.route("/v1/me/export", methods=["GET"])
def export_me() -> Response:
    request = users.current_request
    identity = caller(request)
    cursor = query(request).get("cursor") or None
    return json_response(
        get_container().privacy.export_user_data(identity, cursor), headers={"Cache-Control": "no-store"}
    )
