"""Photos through the HTTP API, on the embedded store and on the Upstash adapter: the presigned
upload, the checks on arrival, a photo generation, and every refusal of issue 26 (not an image,
truncated, enormous, no face, several faces, moderation, expired or foreign id, anonymous). A
refused photo is never charged and nothing of it reaches a provider.

The photos are scikit-image's: the astronaut (one face), two of them side by side, the coffee cup.
"""

from __future__ import annotations

import dataclasses
import io
import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.photos.opencv_faces import OpenCvFaceDetector
from chalicelib.adapters.store.client import RedisPyClient
from chalicelib.adapters.store.redis_store import RedisStateStore
from chalicelib.adapters.store.upstash import UpstashClient
from chalicelib.bootstrap import Container, build_container, set_container
from tests import photos_support as photos
from tests.conftest import auth, make_settings
from tests.fakes import RecordingProvider, wait_ended
from tests.upstash_harness import running_harness


class Moderator:
    """The photo moderation port, refusing what the test says (NudeNet itself is tested in
    tests/unit: no test ships an explicit picture)."""

    def __init__(self) -> None:
        self.refuse = False
        self.seen = 0

    def refuses(self, image: Any) -> bool:
        self.seen += 1
        return self.refuse


@pytest.fixture
def moderator() -> Moderator:
    return Moderator()


@pytest.fixture(params=["embedded", "upstash"])
def app(
    request: pytest.FixtureRequest,
    *,
    tmp_path: Path,
    redis_server: Any,
    objects: Any,
    provider: RecordingProvider,
    moderator: Moderator,
) -> Iterator[tuple[Any, Container]]:
    from chalice.test import Client

    from app import app as chalice_app

    prefix = f"photo-{request.param}-{secrets.token_hex(4)}:"
    with ExitStack() as stack:
        if request.param == "embedded":
            store = RedisStateStore(RedisPyClient(redis_server), prefix)
        else:
            harness = stack.enter_context(running_harness(redis_server.socket_file))
            upstash = UpstashClient(harness.url, harness.token)
            stack.callback(upstash.close)
            store = RedisStateStore(upstash, prefix)
        container = build_container(
            make_settings(tmp_path, stage="local", uploads_per_hour=3),
            store=store,
            objects=objects,
            provider=provider,
            photo_detectors=(OpenCvFaceDetector(), moderator),
        )
        set_container(container)
        stack.callback(set_container, None)
        yield stack.enter_context(Client(chalice_app, stage_name="local")), container


def user() -> str:
    return f"ada-{secrets.token_hex(4)}"


def ticket(client: Any, sub: str, content_type: str = "image/jpeg", length: int = 100_000) -> Any:
    body = json.dumps({"content_type": content_type, "content_length": length})
    return client.http.post("/v1/uploads", headers=auth(sub), body=body)


def send(client: Any, answer: dict[str, Any], data: bytes, content_type: str = "image/jpeg") -> Any:
    """POST the file to the presigned URL as a browser form does (the URL is the local stage's)."""
    body, form_type = photos.multipart(answer["fields"], data, content_type)
    path = "/" + answer["url"].split("://", 1)[1].split("/", 1)[1]
    return client.http.post(path, headers={"Content-Type": form_type}, body=body)


def upload(client: Any, sub: str, data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
    """Ask for an upload, send the file, read the upload back."""
    answer = ticket(client, sub, content_type, len(data))
    assert answer.status_code == 201, answer.json_body
    sent = send(client, answer.json_body, data, content_type)
    assert sent.status_code == 204, sent.body
    got = client.http.get(f"/v1/uploads/{answer.json_body['id']}", headers=auth(sub))
    assert got.status_code == 200
    return dict(got.json_body)


def generate(client: Any, sub: str, photo: str, style: str = "anime", **extra: Any) -> Any:
    body = json.dumps({"style": style, "photo": photo, **extra})
    return client.http.post("/v1/generations", headers={**auth(sub), "Prefer": "wait=20"}, body=body)


def finished(client: Any, container: Container, sub: str, answer: Any) -> dict[str, Any]:
    """The generation once it has ended (a loaded machine may answer 202 first)."""
    assert answer.status_code in (200, 202), answer.json_body
    if answer.status_code == 202:
        wait_ended(container, answer.json_body["id"])
        answer = client.http.get(f"/v1/generations/{answer.json_body['id']}", headers=auth(sub))
    return dict(answer.json_body)


def remaining(client: Any, sub: str) -> list[int]:
    return [w["remaining"] for w in client.http.get("/v1/me/quota", headers=auth(sub)).json_body["limits"]]


def test_a_photo_becomes_a_styled_avatar_never_cached_and_erased_with_the_user(
    app: tuple[Any, Container], provider: RecordingProvider
) -> None:
    client, container = app
    sub = user()
    ready = upload(client, sub, photos.jpeg(photos.astronaut(), gps=True, rotated=True))
    assert ready["status"] == "ready" and ready["error"] is None
    face = ready["face"]
    # The astronaut's face is in the upper middle of the picture, once the orientation is applied.
    assert 0.2 < face["x"] < 0.5 and 0.0 < face["y"] < 0.3 and 0.1 < face["w"] < 0.35

    # The kept photo has no metadata left (no EXIF, so no GPS and no camera model).
    from PIL import Image

    record = container.photos.records.get(ready["id"])
    assert record is not None
    kept = container.ports.objects.get(record.object_key)
    assert kept is not None
    with Image.open(io.BytesIO(kept)) as opened:
        assert not opened.getexif() and "exif" not in opened.info and "icc_profile" not in opened.info
        upright = _difference(opened, photos.astronaut())
        sideways = _difference(opened, photos.astronaut().transpose(Image.Transpose.ROTATE_90))
    assert upright < 10 < sideways  # kept as it is meant to be seen (EXIF orientation applied)
    assert b"TestPhone" not in kept

    before = remaining(client, sub)
    made = finished(client, container, sub, generate(client, sub, ready["id"], likeness=0.9))
    assert made["status"] == "succeeded" and made["photo"] == ready["id"] and made["cached"] is False
    assert made["provider"] == "procedural" and set(made["images"]) >= {"128", "256", "512"}
    assert made["similar"] == []
    assert remaining(client, sub) == [n - 1 for n in before]  # one generation of quota
    assert provider.total_calls == 0  # the photo went to the photo stylisation, not the text model

    # The same request again is a new generation: a photo result is never served from the cache.
    again = finished(client, container, sub, generate(client, sub, ready["id"], likeness=0.9))
    assert again["status"] == "succeeded" and again["id"] != made["id"] and not again["cached"]
    # ... and never offered to someone else's request of the same style.
    stranger = user()
    answer = client.http.post(
        "/v1/generations",
        headers={**auth(stranger), "Prefer": "wait=20"},
        body=json.dumps({"style": "anime", "accept_similar": True}),
    )
    other = finished(client, container, stranger, answer)
    assert other["photo"] is None and other["status"] == "succeeded"
    assert all(s["id"] not in (made["id"], again["id"]) for s in answer.json_body["similar"])
    assert other["images"] != made["images"]

    exported = client.http.get("/v1/me/export", headers=auth(sub)).json_body
    assert [u["id"] for u in exported["uploads"]] == [ready["id"]]

    assert client.http.delete("/v1/me", headers=auth(sub)).status_code == 204
    assert client.http.get(f"/v1/uploads/{ready['id']}", headers=auth(sub)).status_code == 404
    assert container.ports.objects.get(record.object_key) is None
    assert generate(client, sub, ready["id"]).status_code == 404


def _difference(a: Any, b: Any) -> float:
    """Mean absolute difference of two pictures' pixels (0..255)."""
    from PIL import ImageChops, ImageStat

    return float(sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3)


def _enormous() -> bytes:
    """A PNG of 8000 x 6000 pixels (48 megapixels, over the 40 allowed) that is small as a file."""
    from PIL import Image

    return photos.png(Image.new("RGB", (8000, 6000), (120, 130, 140)))


REFUSALS = [
    ("not an image", lambda: b"this is not a picture at all" * 10, "image/jpeg", "unsupported_media_type"),
    ("truncated", lambda: photos.jpeg(photos.astronaut())[:6000], "image/jpeg", "unsupported_media_type"),
    ("enormous", _enormous, "image/png", "payload_too_large"),
    ("no face", lambda: photos.jpeg(photos.coffee()), "image/jpeg", "no_face"),
    ("several faces", lambda: photos.jpeg(photos.two_astronauts()), "image/jpeg", "several_faces"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refused_photo_gets_its_error_is_never_charged_and_reaches_no_provider(
    app: tuple[Any, Container], provider: RecordingProvider, refusal: tuple[str, Any, str, str]
) -> None:
    client, container = app
    _, make, content_type, code = refusal
    sub = user()
    refused = upload(client, sub, make(), content_type)
    assert refused["status"] == "rejected" and refused["face"] is None
    assert refused["error"]["code"] == code and refused["error"]["message"]
    record = container.photos.records.get(refused["id"])
    assert record is not None and container.ports.objects.get(record.object_key) is None  # not kept

    before = remaining(client, sub)
    answer = generate(client, sub, refused["id"])
    assert answer.status_code == 409 and answer.json_body["error"]["code"] == "conflict"
    assert remaining(client, sub) == before
    assert provider.total_calls == 0


def test_a_photo_moderation_refuses_is_content_rejected(
    app: tuple[Any, Container], provider: RecordingProvider, moderator: Moderator
) -> None:
    client, _ = app
    moderator.refuse = True
    sub = user()
    refused = upload(client, sub, photos.jpeg(photos.astronaut()))
    assert refused["status"] == "rejected" and refused["error"]["code"] == "content_rejected"
    assert moderator.seen == 1
    before = remaining(client, sub)
    assert generate(client, sub, refused["id"]).status_code == 409
    assert remaining(client, sub) == before and provider.total_calls == 0


def test_a_photo_not_yet_sent_is_409_and_an_expired_or_foreign_one_404(app: tuple[Any, Container]) -> None:
    client, container = app
    owner, stranger = user(), user()
    pending = ticket(client, owner).json_body
    answer = generate(client, owner, pending["id"])
    assert answer.status_code == 409 and answer.json_body["error"]["code"] == "conflict"

    ready = upload(client, owner, photos.jpeg(photos.astronaut()))
    for sub in (stranger,):
        assert client.http.get(f"/v1/uploads/{ready['id']}", headers=auth(sub)).status_code == 404
        foreign = generate(client, sub, ready["id"])
        assert foreign.status_code == 404 and foreign.json_body["error"]["code"] == "not_found"
    assert generate(client, owner, "upl_" + "x" * 20).status_code == 404

    # Past its retention the upload is gone for its owner too.
    record = container.photos.records.get(ready["id"])
    assert record is not None
    container.photos.records.save(dataclasses.replace(record, expires_at=container.ports.clock.time() - 1), 0)
    assert client.http.get(f"/v1/uploads/{ready['id']}", headers=auth(owner)).status_code == 404
    before = remaining(client, owner)
    assert generate(client, owner, ready["id"]).status_code == 404
    assert remaining(client, owner) == before


def test_anonymous_callers_cannot_upload_or_generate_from_a_photo(app: tuple[Any, Container]) -> None:
    client, _ = app
    body = json.dumps({"content_type": "image/jpeg", "content_length": 1000})
    refused = client.http.post("/v1/uploads", headers={"Content-Type": "application/json"}, body=body)
    assert refused.status_code == 401 and refused.json_body["error"]["code"] == "unauthorized"
    photo = generate_anonymously(client, "upl_" + "a" * 20)
    assert photo.status_code == 401 and photo.json_body["error"]["code"] == "unauthorized"


def generate_anonymously(client: Any, photo: str) -> Any:
    body = json.dumps({"style": "anime", "photo": photo})
    return client.http.post("/v1/generations", headers={"Content-Type": "application/json"}, body=body)


def test_uploads_are_limited_per_hour_and_the_policy_is_enforced(app: tuple[Any, Container]) -> None:
    client, _ = app
    sub = user()
    answers = [ticket(client, sub, length=1000) for _ in range(3)]  # the fixture allows 3 an hour
    assert [a.status_code for a in answers] == [201, 201, 201]
    limited = ticket(client, sub)
    assert limited.status_code == 429 and limited.json_body["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1

    first = answers[0].json_body
    assert first["method"] == "POST" and set(first["fields"]) >= {"key", "Content-Type", "policy"}
    # More than the policy's content-length-range (1000 bytes declared): refused, nothing stored.
    too_big = send(client, first, photos.jpeg(photos.astronaut()))
    assert too_big.status_code == 413
    # A tampered field breaks the signed policy.
    tampered = {**first, "fields": {**first["fields"], "Content-Type": "image/png"}}
    assert send(client, tampered, b"x" * 100).status_code == 403
    assert client.http.get(f"/v1/uploads/{first['id']}", headers=auth(sub)).json_body["status"] == "pending"


def test_20_uploads_an_hour_per_identity_by_default(
    tmp_path: Path, redis_server: Any, objects: Any, provider: RecordingProvider, moderator: Moderator
) -> None:
    """The issue's number as written: 20 uploads an hour per identity, the default setting."""
    from chalice.test import Client

    from app import app as chalice_app

    settings = make_settings(tmp_path, stage="local")
    assert settings.uploads_per_hour == 20
    store = RedisStateStore(RedisPyClient(redis_server), f"photo-default-{secrets.token_hex(4)}:")
    container = build_container(
        settings,
        store=store,
        objects=objects,
        provider=provider,
        photo_detectors=(OpenCvFaceDetector(), moderator),
    )
    set_container(container)
    try:
        with Client(chalice_app, stage_name="local") as client:
            sub = user()
            answers = [ticket(client, sub, length=1000) for _ in range(20)]
            assert [a.status_code for a in answers] == [201] * 20
            twenty_first = ticket(client, sub, length=1000)
            assert twenty_first.status_code == 429
            assert twenty_first.json_body["error"]["code"] == "rate_limited"
            assert ticket(client, user(), length=1000).status_code == 201  # per identity: others still may
    finally:
        set_container(None)


def test_bad_upload_requests_are_400(app: tuple[Any, Container]) -> None:
    client, _ = app
    sub = user()
    for body in (
        {"content_type": "image/gif", "content_length": 10},
        {"content_type": "image/jpeg", "content_length": 0},
        {"content_type": "image/jpeg", "content_length": 10 * 1024 * 1024 + 1},
        {"content_type": "image/jpeg"},
    ):
        answer = client.http.post("/v1/uploads", headers=auth(sub), body=json.dumps(body))
        assert answer.status_code == 400, body
    likeness_alone = client.http.post(
        "/v1/generations", headers=auth(sub), body=json.dumps({"style": "anime", "likeness": 0.5})
    )
    assert likeness_alone.status_code == 400
