"""What every HTTP provider adapter is built with: one frozen value, passed as one argument.

Each adapter (fal, Together, Replicate, RunPod, OpenAI, Hugging Face and the photo models) takes
``(api_key, options)`` plus only the few knobs of its own vendor (fal's queue host, Replicate's
``Prefer: wait``, RunPod's endpoint id...). ``None`` in a field means the adapter's own default:
its vendor's base URL and models, its read timeout (``default_read_timeout``).

``deadline_s`` is the router's overall deadline: no timeout of the adapter goes beyond it (each
phase of the HTTP timeout and the image download are cut to it); within a generation, each call
is further cut to what is left of its attempt's budget (``generate(request, within_s=...)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import httpx

from chalicelib.adapters.keyed_http import DEFAULT_CONNECT_TIMEOUT, make_timeout
from chalicelib.adapters.outbound.fetch import DEFAULT_MAX_BYTES, Resolver
from chalicelib.adapters.providers.pricing import PriceTable

__all__ = ["DEFAULT_MAX_ANSWER_BYTES", "Clock", "ProviderOptions", "Sleep"]

Sleep = Callable[[float], None]
Clock = Callable[[], float]

DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a JSON answer, inline base64 image included


@dataclass(frozen=True)
class ProviderOptions:
    """The settings every HTTP provider adapter shares (see the module doc)."""

    base_url: str | None = None  # None: the vendor's own API host
    models: Mapping[str, str] | None = None  # quality -> model; None: the adapter's models
    timeout: httpx.Timeout | None = None  # None: the adapter's read timeout, a short connect
    deadline_s: float | None = None  # no timeout goes beyond it (the router's deadline)
    transport: httpx.BaseTransport | None = None  # tests: a mock transport
    extra_allowed_hosts: Collection[str] = ()  # more hosts images may be downloaded from
    resolver: Resolver | None = None  # replaces DNS for the SSRF checks of downloads (tests only)
    prices: PriceTable = field(default_factory=PriceTable)
    max_image_bytes: int = DEFAULT_MAX_BYTES
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    fetch_timeout: float = 15.0  # an image download, at most (and at most ``deadline_s``)
    sleep: Sleep = time.sleep  # poll gaps (tests: a fake clock's)
    clock: Clock = time.monotonic  # the generation's deadline

    def timeout_for(self, read_s: float) -> httpx.Timeout:
        """The HTTP timeout: ``timeout``, else ``read_s`` per read; every phase cut to ``deadline_s``."""
        d = self.deadline_s
        if self.timeout is None:
            if d is None:
                return make_timeout(read_s)
            return make_timeout(
                min(read_s, d), connect=min(DEFAULT_CONNECT_TIMEOUT, d), write=min(10.0, d), pool=min(5.0, d)
            )
        if d is None:
            return self.timeout
        t = self.timeout
        return httpx.Timeout(
            connect=min(t.connect or d, d),
            read=min(t.read or d, d),
            write=min(t.write or d, d),
            pool=min(t.pool or d, d),
        )

    @property
    def download_timeout(self) -> float:
        """Seconds an image download may take at most."""
        return self.fetch_timeout if self.deadline_s is None else min(self.fetch_timeout, self.deadline_s)
