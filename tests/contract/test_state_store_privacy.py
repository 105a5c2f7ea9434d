"""The state store contract, privacy part: counters added outside the scripts, erasure of an
identity's data, the admin audit log.

Run on every adapter (the ``backend`` fixture of ``test_state_store``: embedded and Upstash).
"""

from __future__ import annotations

from chalicelib.ports import Counter
from tests.contract.test_state_store import Backend, backend

__all__ = ["backend"]  # the parametrized fixture, shared with the main suite


def test_counters_add_amounts_with_their_ttl_in_one_call(backend: Backend) -> None:
    counters = backend.store.counters
    counters.add([])
    counters.add([Counter("c:one", 1, 60), Counter("c:half", 0.5, 120)])
    counters.add([Counter("c:one", 2, 60)])
    assert counters.values(["c:one", "c:half", "c:none"]) == [3.0, 0.5, 0.0]
    assert 0 < int(backend.raw.command("TTL", f"{backend.prefix}c:half")) <= 120
