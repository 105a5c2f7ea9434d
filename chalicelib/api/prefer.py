"""The ``Prefer`` request header (RFC 7240): ``respond-async`` and ``wait=N`` seconds."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import InvalidRequest


@dataclass(frozen=True)
class Prefer:
    respond_async: bool = False
    wait: float | None = None  # None: the service's default wait

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        respond_async, wait = False, None
        for part in (header or "").split(","):
            directive = part.strip().lower()
            if directive == "respond-async":
                respond_async = True
            elif directive.startswith("wait="):
                try:
                    wait = max(0.0, float(directive[5:]))
                except ValueError:
                    raise InvalidRequest("Prefer: wait must be a number of seconds.") from None
        return cls(respond_async, wait)
