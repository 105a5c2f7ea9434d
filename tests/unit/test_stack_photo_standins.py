"""The stack's vendor stand-ins take the photo models (``stack/standins/``) as the vendors do: the
adapters of ``chalicelib/adapters/providers/photo_vendors.py`` driven on the stand-ins' transport,
the photo downloaded by the stand-in from its URL (a local server here, moto's S3 in the stack),
and a photo URL that does not load refused, as a vendor refuses an expired presigned URL."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.photo_prices import photo_prices
from chalicelib.adapters.providers.photo_vendors import (
    FAL_KONTEXT,
    FalPhotoProvider,
    ReplicatePhotoProvider,
    TogetherPhotoProvider,
)
from chalicelib.ports import ImageProvider, ProviderBadRequest, ProviderRequest
from stack.standins import Shared, StandIns
from stack.standins.fal import FAL_KEY
from stack.standins.replicate import REPLICATE_TOKEN
from stack.standins.together import TOGETHER_KEY
from tests.unit.providers.helpers import make_request, public_resolver


class _Photo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/photo.jpg"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "image/jpeg" if ok else "application/xml")
        self.end_headers()
        self.wfile.write(b"\xff\xd8\xff" if ok else b"<Error><Code>AccessDenied</Code></Error>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def photo_host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Photo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def request(url: str) -> ProviderRequest:
    return dataclasses.replace(make_request("fast"), photo="upl_" + "a" * 20, likeness=0.8, photo_url=url)


def vendors() -> list[ImageProvider]:
    options = ProviderOptions(
        resolver=public_resolver,
        prices=photo_prices(None),
        transport=StandIns(Shared((0, 0), 0.0, deliver_webhooks=False)).transport(),
    )
    return [
        FalPhotoProvider(FAL_KEY, options),
        FalPhotoProvider(FAL_KEY, options, model=FAL_KONTEXT),
        ReplicatePhotoProvider(REPLICATE_TOKEN, options),
        TogetherPhotoProvider(TOGETHER_KEY, options),
    ]


@pytest.mark.parametrize("index", range(4))
def test_each_photo_model_makes_an_image_from_a_photo_that_loads(photo_host: str, index: int) -> None:
    provider = vendors()[index]
    result = provider.generate(request(f"{photo_host}/photo.jpg"))
    assert result.image[:4] == b"\x89PNG"


@pytest.mark.parametrize("index", range(4))
def test_a_photo_url_that_does_not_load_is_refused(photo_host: str, index: int) -> None:
    provider = vendors()[index]
    with pytest.raises(ProviderBadRequest):
        provider.generate(request(f"{photo_host}/expired.jpg"))
