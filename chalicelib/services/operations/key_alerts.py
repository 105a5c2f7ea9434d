"""The operator alert for a vendor key that was refused: a handler of ``ProviderKeyChanged``.

A retired key (401/403: revoked, wrong, or its account out of credit) is an alert on
``avatarflow.alerts``, the logger every operator alert goes to (the budget's, the breakers'),
with the key's fingerprint, never the key; a key cooling down after a 429 or coming back is an
info line.
"""

from __future__ import annotations

import logging

from chalicelib.domain.events import ProviderKeyChanged

__all__ = ["on_key_changed"]

alerts = logging.getLogger("avatarflow.alerts")
log = logging.getLogger(__name__)


def on_key_changed(event: ProviderKeyChanged) -> None:
    """Alert on a retired key; log the rest."""
    details = {
        "provider": event.provider,
        "key_fingerprint": event.fingerprint,
        "status": event.status,
        "healthy_keys": event.healthy_keys,
    }
    if event.change == "retired":
        alerts.error(
            "a %s API key (%s) was refused with HTTP %s and is retired for %.0f s; %d key(s) left in use",
            event.provider,
            event.fingerprint,
            event.status,
            event.for_s,
            event.healthy_keys,
            extra={"alert": "provider_key_retired", **details},
        )
    else:
        log.info("%s API key %s: %s", event.provider, event.fingerprint, event.change, extra=details)
