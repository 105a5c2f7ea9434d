"""The photo-checks function's handler: each SQS message checks its upload; a failure is reported
back to SQS for a retry, a foreign message is dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.queue.photo_checks import parse_photo_message, photo_message
from chalicelib.bootstrap import build_container, set_container
from chalicelib.domain.uploads import FaceBox, Upload
from chalicelib.workers.photo_checks import handler
from tests import photos_support as photos
from tests.conftest import make_settings


class OneFace:
    def faces(self, image: Any) -> list[FaceBox]:
        return [FaceBox(0.3, 0.2, 0.3, 0.3)]


class Passes:
    def refuses(self, image: Any) -> bool:
        return False


def test_the_handler_checks_each_upload(tmp_path: Path, store: Any, objects: Any) -> None:
    container = build_container(
        make_settings(tmp_path), store=store, objects=objects, photo_detectors=(OneFace(), Passes())
    )
    set_container(container)
    try:
        now = container.ports.clock.time()
        upload = Upload.new("u:ada", "image/jpeg", 1000, now, 3600)
        container.photos.records.save(upload, now)
        objects.put(upload.object_key, photos.jpeg(photos.astronaut()), "image/jpeg")
        answer = handler(
            {
                "Records": [
                    {"messageId": "m1", "body": photo_message(upload.id)},
                    {"messageId": "m2", "body": "not json"},
                ]
            }
        )
        assert answer == {"batchItemFailures": []}
        checked = container.photos.records.get(upload.id)
        assert (
            checked is not None and checked.status == "ready" and checked.face == FaceBox(0.3, 0.2, 0.3, 0.3)
        )
    finally:
        set_container(None)


def test_a_check_that_crashes_is_retried_by_sqs(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from chalicelib import bootstrap

    def broken(upload_id: str) -> None:
        raise RuntimeError("detector crashed")

    fake = types.SimpleNamespace(photos=types.SimpleNamespace(check=broken))
    monkeypatch.setattr(bootstrap, "get_container", lambda: fake)
    answer = handler({"Records": [{"messageId": "m1", "body": photo_message("upl_" + "a" * 20)}]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_messages_round_trip() -> None:
    assert parse_photo_message(photo_message("upl_abc")) == "upl_abc"
    assert parse_photo_message('{"other": 1}') is None
    assert parse_photo_message("[]") is None
