"""Together adapter: FLUX.1 [schnell] (fast) and FLUX.1 [dev] (standard) image generations.

Confirmed against (via the reference search):

- Together docs, "Images overview" (docs.together.ai/docs/images-overview): ``images.generate``
  with ``model="black-forest-labs/FLUX.1-schnell"``, ``steps=4``; parameters ``prompt``, ``model``,
  ``width``/``height`` (default 1024), ``n`` (1-4), ``steps``; the answer is
  ``{"id", "model", "data": [{"index": 0, "url": ...}]}``.
- togethercomputer/together-python ``src/together/resources/images.py`` and ``types/images.py``:
  ``POST images/generations`` under ``/v1`` with ``prompt``, ``model``, ``seed``, ``n``, ``height``,
  ``width``, ``steps``; each ``data`` item has ``b64_json`` or ``url``. together-py (the newer
  client) types ``response_format: Literal["base64", "url"]``. Auth is ``Authorization: Bearer``.
- together (the current SDK, 3.x) ``types/image_file.py``, ``image_data_b64.py``, ``image_data_url.py`` (checked
  2026-12-07): each ``data`` item carries ``type``, ``"b64_json"`` (with ``b64_json``) or
  ``"url"`` (with ``url``), and ``index``; the answer also has ``id``, ``model`` and
  ``object: "list"``. The item is read by its ``type``; an unknown ``type`` is :class:`ProviderDown`.
- Not confirmed in the docs found: the exact shape of Together's NSFW refusal. It is detected
  from the error message ("NSFW", "content policy"...) and from any ``has_nsfw_concepts`` /
  ``nsfw`` flag in a result, which is then never returned.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.outbound.fetch import TOGETHER_ALLOWED_HOSTS
from chalicelib.adapters.providers.answers import as_dict, first_item, nsfw_flagged
from chalicelib.adapters.providers.http_base import HttpProvider
from chalicelib.ports import ContentRejected, ProviderDown, ProviderRequest, ProviderResult

TOGETHER_MODELS: Mapping[str, str] = {
    "fast": "black-forest-labs/FLUX.1-schnell",
    "standard": "black-forest-labs/FLUX.1-dev",
}
TOGETHER_STEPS: Mapping[str, int] = {
    "black-forest-labs/FLUX.1-schnell": 4,
    "black-forest-labs/FLUX.1-dev": 28,
}


class TogetherProvider(HttpProvider):
    """:class:`chalicelib.ports.ImageProvider` for Together's image generations API."""

    name = "together"
    default_allowed_hosts = TOGETHER_ALLOWED_HOSTS
    default_read_timeout = 60.0
    default_base_url = "https://api.together.ai"  # the together SDK's host (api.together.xyz is the old one)
    default_models = TOGETHER_MODELS
    default_steps = TOGETHER_STEPS

    def build_body(self, request: ProviderRequest, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "prompt": request.prompt,
            "n": 1,
            "width": request.size,
            "height": request.size,
            "seed": request.seed,
            "response_format": "base64",  # inline: no second download, no expiring URL
        }
        steps = self._steps.get(model)
        if steps is not None:
            body["steps"] = steps
        return body

    def _generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        model = self.model_for(request.quality)
        payload = self._call_json(
            "POST", f"{self._base_url}/v1/images/generations", json_body=self.build_body(request, model)
        )
        if nsfw_flagged(payload):
            raise ContentRejected(f"{self.name}: the safety checker flagged the image")
        item = as_dict(first_item(payload.get("data"), self.name, "data"), self.name, "data[0]")
        if nsfw_flagged(item):
            raise ContentRejected(f"{self.name}: the safety checker flagged the image")
        self.note_vendor_request_id(payload.get("id"))
        kind = item.get("type")
        if kind not in (None, "b64_json", "url"):
            raise ProviderDown(f"{self.name}: unexpected image type {str(kind)[:40]!r}")
        b64 = item.get("b64_json") if kind in (None, "b64_json") else None
        url = item.get("url") if kind in (None, "url") else None
        if isinstance(b64, str) and b64:
            image = self.load_image(b64, raw_base64=True)
        elif isinstance(url, str) and url:
            image = self.load_image(url)  # fetch_image sends a User-Agent: Together's CDN wants one
        else:
            raise ProviderDown(f"{self.name}: unexpected response shape (no b64_json or url)")
        return self.make_result(image, model, request.size, request.size, started)
