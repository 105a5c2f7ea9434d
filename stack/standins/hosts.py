"""The stand-ins together, and where they answer: under the real vendors' hosts in a test's httpx
transport (:meth:`StandIns.transport`, :meth:`StandIns.handler` for respx), under path prefixes on
one 127.0.0.1 port for ``make stack`` (``stack/providers.py``, :meth:`StandIns.route`)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from stack.standins.common import Shared, json_response
from stack.standins.fal import FalStandIn
from stack.standins.huggingface import HuggingFaceStandIn
from stack.standins.openai import OpenAIStandIn
from stack.standins.replicate import ReplicateStandIn
from stack.standins.together import TogetherStandIn

Handler = Callable[[httpx.Request, str], httpx.Response]

# The vendors' real API hosts: what the official SDKs and the adapters call by default.
HOSTS = {
    "fal.run": "fal_sync",
    "queue.fal.run": "fal_queue",
    "api.replicate.com": "replicate",
    "api.openai.com": "openai",
    "api.together.ai": "together",  # the together SDK's host
    "api.together.xyz": "together",  # its former one
    "router.huggingface.co": "huggingface",
}
# The path prefixes of each stand-in on the stack's one port.
PREFIXES = {
    "/fal/run": "fal_sync",
    "/fal/queue": "fal_queue",
    "/replicate": "replicate",
    "/openai": "openai",
    "/together": "together",
    "/hf": "huggingface",
}


class StandIns:
    """One stand-in per vendor, sharing :class:`Shared` state."""

    def __init__(self, shared: Shared | None = None) -> None:
        self.shared = shared or Shared(deliver_webhooks=False)
        self.fal = FalStandIn(self.shared)
        self.replicate = ReplicateStandIn(self.shared)
        self.openai = OpenAIStandIn(self.shared)
        self.together = TogetherStandIn(self.shared)
        self.huggingface = HuggingFaceStandIn(self.shared)
        self._handlers: dict[str, Handler] = {
            "fal_sync": self.fal.sync,
            "fal_queue": self.fal.queue,
            "replicate": self.replicate,
            "openai": self.openai,
            "together": self.together,
            "huggingface": self.huggingface,
        }

    def handler(self, name: str, base: str) -> Callable[[httpx.Request], httpx.Response]:
        """The stand-in ``name`` (a value of :data:`HOSTS`) answering under ``base``: a respx
        ``side_effect`` or the handler of an :class:`httpx.MockTransport`."""
        handle = self._handlers[name]
        return lambda request: handle(request, base)

    def transport(self, hosts: dict[str, str] | None = None) -> httpx.MockTransport:
        """An httpx transport answering every vendor under its real host (or ``hosts``: host ->
        stand-in name): network-free, for the adapters and the official SDKs alike."""
        table = {**HOSTS, **(hosts or {})}

        def handle(request: httpx.Request) -> httpx.Response:
            name = table.get(request.url.host)
            if name is None:
                return json_response(404, {"detail": f"no stand-in for {request.url.host}"})
            base = f"{request.url.scheme}://{request.url.netloc.decode()}"
            return self._handlers[name](request, base)

        return httpx.MockTransport(handle)

    def route(self, request: httpx.Request, root: str) -> httpx.Response | None:
        """The stack's dispatch: the stand-in whose prefix the path starts with, under ``root``
        (``http://127.0.0.1:PORT``); None for a path that is no stand-in's."""
        path = request.url.path
        for prefix, name in PREFIXES.items():
            if path == prefix or path.startswith(prefix + "/"):
                return self._handlers[name](request, root + prefix)
        return None
