"""PUT/GET /v1/me/avatar and the public redirect to the chosen avatar."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import auth


def choose(client: Any, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.http.put("/v1/me/avatar", headers=headers, body=json.dumps(body))


def test_choose_a_gallery_item(client: Any) -> None:
    headers = auth("chooser")
    assert client.http.get("/v1/me/avatar", headers=headers).status_code == 404
    item = client.http.get("/v1/gallery?style=anime&limit=1").json_body["items"][0]
    response = choose(client, headers, {"gallery_id": item["id"]})
    assert response.status_code == 200
    avatar = response.json_body["avatar"]
    assert avatar == {"source": "gallery", "id": item["id"], "images": item["images"]}
    assert client.http.get("/v1/me/avatar", headers=headers).json_body["avatar"] == avatar
    redirect = client.http.get("/v1/avatars/chooser?size=512")
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == item["images"]["512"]


def test_choose_an_own_generation_pins_its_images(client: Any, container: Any) -> None:
    headers = auth("maker")
    generation = client.http.post(
        "/v1/generations", headers=headers, body=json.dumps({"style": "oil", "variation": 11})
    ).json_body
    response = choose(client, headers, {"generation_id": generation["id"]})
    assert response.status_code == 200
    avatar = response.json_body["avatar"]
    assert avatar["source"] == "generation"
    assert avatar["id"] == generation["id"]
    for size, url in avatar["images"].items():
        assert "/pinned/" in url
        key = url.split("/v1/files/")[1]
        original = generation["images"][size].split("/v1/files/")[1]
        assert container.ports.objects.get(key) == container.ports.objects.get(original)
    assert client.http.get("/v1/avatars/maker?size=256").headers["Location"] == avatar["images"]["256"]


def test_cannot_choose_someone_elses_or_unknown(client: Any) -> None:
    generation = client.http.post(
        "/v1/generations", headers=auth("alice"), body=json.dumps({"style": "flat", "variation": 12})
    ).json_body
    assert choose(client, auth("mallory"), {"generation_id": generation["id"]}).status_code == 404
    assert choose(client, auth("mallory"), {"gallery_id": "no-such-item"}).status_code == 404


def test_anonymous_cannot_choose(client: Any) -> None:
    item = client.http.get("/v1/gallery?limit=1").json_body["items"][0]
    response = client.http.put(
        "/v1/me/avatar",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"gallery_id": item["id"]}),
    )
    assert response.status_code == 401
    assert client.http.get("/v1/me/avatar").status_code == 404
