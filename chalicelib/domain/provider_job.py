"""A job accepted by a provider's queue API (webhook mode): kept on the generation it serves."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ProviderJob:
    """A job accepted by a provider's queue: its id and the URLs the provider gave for it."""

    provider: str
    id: str
    submitted_ms: int = 0
    status_url: str = ""
    response_url: str = ""
    cancel_url: str = ""
    secret_hash: str = ""  # sha256 hex of the per-job secret its callback URL carries

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> ProviderJob | None:
        if not text:
            return None
        try:
            doc = json.loads(text)
            return cls(
                provider=str(doc["provider"]),
                id=str(doc["id"]),
                submitted_ms=int(doc.get("submitted_ms", 0)),
                status_url=str(doc.get("status_url", "")),
                response_url=str(doc.get("response_url", "")),
                cancel_url=str(doc.get("cancel_url", "")),
                secret_hash=str(doc.get("secret_hash", "")),
            )
        except (TypeError, ValueError, KeyError):
            return None


@dataclass(frozen=True)
class SubmitIntent:
    """A submit to a provider's queue API about to be made (webhook mode), recorded on the job
    before the call: if the store write of the provider's handle never happens (the worker dies
    in between), the job's webhook can still adopt the provider's job (its callback URL carries
    a per-job secret, kept hashed here), and a redelivery of the job's message waits for that
    webhook for the provider's usual time before it submits again."""

    at_ms: int
    secret_hash: str  # sha256 hex of the callback secret the submit's webhook URL carries

    def to_json(self) -> str:
        return json.dumps({"at_ms": self.at_ms, "secret_hash": self.secret_hash}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SubmitIntent | None:
        if not text:
            return None
        try:
            doc = json.loads(text)
            return cls(at_ms=int(doc["at_ms"]), secret_hash=str(doc["secret_hash"]))
        except (TypeError, ValueError, KeyError):
            return None
