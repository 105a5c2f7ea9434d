"""The OpenAPI document stays in sync with the code: its routes are the app's routes, its enums
the code's lists, and every bound it states is the one the routes apply (probed at the bound and
just past it), so a request the document calls valid is never refused for its shape."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from chalicelib.api import formats
from chalicelib.api import openapi_params as params
from chalicelib.api.openapi import OPERATIONS, openapi_document
from chalicelib.domain.styles import STYLES
from chalicelib.schemas.models import AvatarChoice
from tests.conftest import auth
from tests.regex_samples import sample

JSON = {"Content-Type": "application/json"}


def doc() -> dict[str, Any]:
    return openapi_document()


def parameter(name: str) -> dict[str, Any]:
    found = doc()["components"]["parameters"][name]
    assert isinstance(found, dict)
    return found


def test_the_document_lists_exactly_the_apps_routes() -> None:
    from app import app

    routes = {
        (method.lower(), path, entry.view_name)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if method != "OPTIONS"  # the CORS preflight of every route (api/preflight.py)
    }
    documented = {(op.method, op.path, op.operation_id) for op in OPERATIONS}
    assert documented == routes, (
        f"only in the app: {routes - documented}; only documented: {documented - routes}"
    )
    paths = doc()["paths"]
    assert {(method, path) for path, methods in paths.items() for method in methods} == {
        (method, path) for method, path, _ in routes
    }


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for methods in doc()["paths"].values() for operation in methods.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert "local_file_head" in ids and "local_file" in ids


def test_the_style_enums_are_the_style_list() -> None:
    style_ids = [style.id for style in STYLES]
    request = doc()["components"]["schemas"]["GenerationRequest"]
    assert request["properties"]["style"]["enum"] == style_ids
    assert parameter("GalleryStyle")["schema"]["enum"] == style_ids


def test_no_constraint_is_left_out_of_the_schemas() -> None:
    # pydantic writes "ge"/"le" where it cannot map a bound to JSON Schema (schemas/fields.py).
    text = json.dumps(doc())
    for key in ("ge", "le", "gt", "lt", "min_length", "max_length"):
        assert f'"{key}":' not in text, key


@pytest.mark.parametrize(
    ("path", "component", "bounds", "headers"),
    [
        ("/v1/gallery", "GalleryLimit", params.GALLERY_LIMIT, {}),
        ("/v1/generations", "HistoryLimit", params.HISTORY_LIMIT, auth("bounds-user")),
    ],
)
def test_limit_bounds_are_the_routes_bounds(
    client: Any, path: str, component: str, bounds: params.IntRange, headers: dict[str, str]
) -> None:
    schema = parameter(component)["schema"]
    assert (schema["minimum"], schema["maximum"], schema["default"]) == (
        bounds.low,
        bounds.high,
        bounds.default,
    )
    assert parameter(component)["allowEmptyValue"] is True
    for value, status in [
        (bounds.low, 200),
        (bounds.high, 200),
        ("", 200),
        (bounds.low - 1, 400),
        (bounds.high + 1, 400),
        ("ten", 400),
    ]:
        answered = client.http.get(f"{path}?limit={value}", headers=headers)
        assert answered.status_code == status, (value, answered.body)
    if path == "/v1/gallery":
        items = client.http.get(path).json_body["items"]
        assert len(items) == bounds.default


def test_every_documented_query_value_is_accepted(client: Any) -> None:
    rng = random.Random(11)
    headers = auth("query-user")
    for style in parameter("GalleryStyle")["schema"]["enum"] + [""]:
        assert client.http.get(f"/v1/gallery?style={style}&tag=anime").status_code == 200, style
    for _ in range(40):
        gallery_cursor = sample(parameter("GalleryCursor")["schema"]["pattern"], rng)
        assert client.http.get(f"/v1/gallery?cursor={gallery_cursor}").status_code == 200, gallery_cursor
        history_cursor = sample(parameter("HistoryCursor")["schema"]["pattern"], rng)
        answered = client.http.get(f"/v1/generations?cursor={history_cursor}", headers=headers)
        assert answered.status_code == 200, history_cursor
    assert client.http.get("/v1/gallery?cursor=").status_code == 200


def test_avatar_sizes_and_user_ids(client: Any) -> None:
    sizes = parameter("AvatarSize")["schema"]
    for size in [*sizes["enum"], ""]:
        assert client.http.get(f"/v1/avatars/someone?size={size}").status_code == 302, size
    assert client.http.get("/v1/avatars/someone?size=64").status_code == 400
    longest = params.PATH_PARAMETERS["user_id"]["maxLength"]
    assert client.http.get("/v1/avatars/" + "u" * longest).status_code == 302
    assert client.http.get("/v1/avatars/" + "u" * (longest + 1)).status_code == 404


def test_idempotency_key_and_prefer_are_accepted_as_documented(client: Any) -> None:
    key = parameter("IdempotencyKey")["schema"]
    assert key["maxLength"] == formats.MAX_IDEMPOTENCY_KEY_CHARS
    body = json.dumps({"style": "anime"})

    def post(headers: dict[str, str]) -> Any:
        return client.http.post(
            "/v1/generations", headers={**auth("headers-user", "premium"), **headers}, body=body
        )

    assert post({"Idempotency-Key": "k" * key["maxLength"]}).status_code == 200
    assert post({"Idempotency-Key": "k" * (key["maxLength"] + 1)}).status_code == 400
    rng = random.Random(12)
    for _ in range(15):
        prefer = sample(parameter("Prefer")["schema"]["pattern"], rng)
        assert post({"Prefer": prefer}).status_code in (200, 202), repr(prefer)
    assert post({"Prefer": "wait=soon"}).status_code == 400


def test_an_integer_may_be_written_with_a_zero_fraction(client: Any) -> None:
    """JSON Schema's integer: 3.0 is 3, 3.5 is not an integer."""
    headers = {**auth("fraction-user"), **JSON}
    ok = client.http.post("/v1/generations", headers=headers, body='{"style": "anime", "variation": 3.0}')
    assert ok.status_code == 200 and ok.json_body["variation"] == 3
    refused = client.http.post(
        "/v1/generations", headers=headers, body='{"style": "anime", "variation": 3.5}'
    )
    assert refused.status_code == 400


def test_avatar_choice_is_exactly_one_of_the_two(client: Any) -> None:
    one_of = AvatarChoice.model_json_schema()["oneOf"]
    assert [branch["required"] for branch in one_of] == [["gallery_id"], ["generation_id"]]
    headers = {**auth("chooser"), **JSON}
    for body, status in [
        ({}, 400),
        ({"gallery_id": "nope", "generation_id": "gen_nope"}, 400),
        ({"gallery_id": None, "generation_id": None}, 400),
        ({"gallery_id": "no-such-item"}, 404),
        ({"gallery_id": "no-such-item", "generation_id": None}, 404),
        ({"generation_id": "gen_nope"}, 404),
    ]:
        answered = client.http.put("/v1/me/avatar", headers=headers, body=json.dumps(body))
        assert answered.status_code == status, (body, answered.body)


def required_headers(path: str, method: str, status: int) -> set[str]:
    declared = doc()["components"]["headers"]
    headers = doc()["paths"][path][method]["responses"][str(status)].get("headers", {})
    required = set()
    for name, header in headers.items():
        resolved = declared[header["$ref"].rsplit("/", 1)[1]] if "$ref" in header else header
        if resolved["required"]:
            required.add(name)
    return required


def test_the_documented_response_headers_are_sent(client: Any) -> None:
    headers = {**auth("headers-check", "free"), **JSON}
    finished = client.http.post("/v1/generations", headers=headers, body='{"style": "oil"}')
    assert finished.status_code == 200
    assert required_headers("/v1/generations", "post", 200) == set(params.RATE_LIMIT_HEADERS)
    assert required_headers("/v1/generations", "post", 200) <= set(finished.headers)
    accepted = client.http.post(
        "/v1/generations",
        headers={**headers, "Prefer": "respond-async"},
        body='{"style": "oil", "variation": 1}',
    )
    assert accepted.status_code == 202
    assert {"Location", "Retry-After", *params.RATE_LIMIT_HEADERS} == required_headers(
        "/v1/generations", "post", 202
    )
    assert required_headers("/v1/generations", "post", 202) <= set(accepted.headers)
    for variation in range(2, 10):  # the free tier's 5 a day run out
        refused = client.http.post(
            "/v1/generations", headers=headers, body=json.dumps({"style": "oil", "variation": variation})
        )
    assert refused.status_code == 429
    assert required_headers("/v1/generations", "post", 429) == {"Retry-After"}
    assert {"Retry-After", *params.RATE_LIMIT_HEADERS} <= set(refused.headers)
    redirect = client.http.get("/v1/avatars/someone")
    assert required_headers("/v1/avatars/{user_id}", "get", 302) == {"Location"} <= set(redirect.headers)
    for op in OPERATIONS:
        for status in op.responses:
            if status in (429, 503):
                assert "Retry-After" in required_headers(op.path, op.method, status), (op.path, status)


@pytest.mark.parametrize("method", ["get", "head"])
def test_the_files_route_answers_only_the_documented_media_types(client: Any, method: str) -> None:
    """Each answer of /v1/files (found, missing, refused for its Accept) has a status the document
    lists and the media type it lists for that status (issue 22: HEAD was documented as JSON)."""
    responses = doc()["paths"]["/v1/files/{folder}/{name}"][method]["responses"]
    item = client.http.get("/v1/gallery?limit=1").json_body["items"][0]
    found = "/v1/files/" + item["images"]["128"].split("/v1/files/", 1)[1]
    cases = [
        (found, "image/webp", 200),
        (found, "*/*", 200),
        (found, "application/json", 400),  # an Accept that excludes the file's type
        ("/v1/files/img/nothing.webp", "*/*", 404),
    ]
    for path, accept, status in cases:
        answer = getattr(client.http, method)(path, headers={"Accept": accept})
        assert answer.status_code == status, (path, accept)
        media_type = answer.headers["Content-Type"].split(";")[0]
        assert list(responses[str(status)]["content"]) == [media_type], (path, accept)
        if method == "head":
            assert answer.body == b""
