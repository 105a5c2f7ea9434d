"""User routes: generations, quota and the chosen avatar."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.http import caller, int_param, json_response, parse_body, query
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.models import AvatarChoice, AvatarOut, GenerationRequest
from chalicelib.services.generations import Prefer

users = ApiBlueprint(__name__)

MAX_IDEMPOTENCY_KEY = 255


@users.route("/v1/generations", methods=["POST"])
def create_generation() -> Response:
    request = users.current_request
    identity = caller(request)
    body = parse_body(request, GenerationRequest)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.")
    accepted = get_container().generations.request_generation(
        identity, body, idempotency_key=idempotency_key, prefer=Prefer.parse(request.headers.get("prefer"))
    )
    return json_response(accepted.generation, accepted.status, accepted.headers)


@users.route("/v1/generations/{generation_id}", methods=["GET"])
def get_generation(generation_id: str) -> Response:
    identity = caller(users.current_request)
    return json_response(get_container().generations.get_generation(identity, generation_id))


@users.route("/v1/generations", methods=["GET"])
def list_generations() -> Response:
    request = users.current_request
    identity = caller(request)
    params = query(request)
    limit = int_param(params, "limit", 20, 1, 100)
    page = get_container().generations.list_generations(identity, limit, params.get("cursor") or None)
    return json_response(page)


@users.route("/v1/me/quota", methods=["GET"])
def my_quota() -> Response:
    identity = caller(users.current_request)
    return json_response(get_container().generations.quota(identity))


@users.route("/v1/me/avatar", methods=["PUT"])
def choose_avatar() -> Response:
    request = users.current_request
    identity = caller(request)
    choice = parse_body(request, AvatarChoice)
    return json_response(AvatarOut(avatar=get_container().avatars.choose(identity, choice)))


@users.route("/v1/me/avatar", methods=["GET"])
def my_avatar() -> Response:
    identity = caller(users.current_request)
    return json_response(AvatarOut(avatar=get_container().avatars.current(identity)))
