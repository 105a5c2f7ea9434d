"""ReadGenerations: one generation (its owner's only), the history with an opaque cursor, the quota."""

from __future__ import annotations

import base64

import pytest

from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.identity import Identity
from chalicelib.domain.tiers import Window
from chalicelib.services.generation.read import decode_cursor, encode_cursor
from tests.unit.services.wiring import ANONYMOUS, OTHER_USER, PREMIUM, USER, UseCases


def test_the_owner_reads_a_generation(use_cases: UseCases) -> None:
    generation = use_cases.admit(USER, prompt="mine")
    use_cases.run_job.run(generation.id)
    body = use_cases.reads.get(USER, generation.id)
    assert (body.id, body.status, body.prompt) == (generation.id, "succeeded", "mine")
    assert body.images is not None and set(body.images) == {"128", "256", "512"}


@pytest.mark.parametrize("who", [OTHER_USER, Identity("api_key", "user-1", "enterprise")])
def test_anyone_else_gets_not_found_as_for_a_missing_one(use_cases: UseCases, who: Identity) -> None:
    generation = use_cases.admit(USER)
    with pytest.raises(NotFound):
        use_cases.reads.get(who, generation.id)
    with pytest.raises(NotFound):
        use_cases.reads.get(USER, "gen_missing")
    with pytest.raises(NotFound):
        use_cases.reads.get(USER, "gen_" + "x" * 100)


def test_the_history_pages_newest_first_with_a_cursor_round_trip(use_cases: UseCases) -> None:
    made = []
    for variation in range(5):
        made.append(use_cases.admit(PREMIUM, variation=variation).id)
        use_cases.clock.advance(1)
    use_cases.admit(OTHER_USER, variation=99)  # someone else's: never listed

    first = use_cases.reads.history(PREMIUM, 2, None)
    assert [g.id for g in first.items] == [made[4], made[3]]
    assert first.next_cursor is not None
    assert decode_cursor(first.next_cursor) is not None
    second = use_cases.reads.history(PREMIUM, 2, first.next_cursor)
    assert [g.id for g in second.items] == [made[2], made[1]]
    assert second.next_cursor is not None
    last = use_cases.reads.history(PREMIUM, 2, second.next_cursor)
    assert [g.id for g in last.items] == [made[0]]
    assert last.next_cursor is None


def test_an_empty_history(use_cases: UseCases) -> None:
    page = use_cases.reads.history(ANONYMOUS, 10, None)
    assert (page.items, page.next_cursor) == ([], None)


def test_cursors_encode_and_decode() -> None:
    cursor = encode_cursor((2_000_000_000_123, "gen_abc"))
    assert "=" not in cursor
    assert decode_cursor(cursor) == (2_000_000_000_123, "gen_abc")
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%not-base64",
        base64.urlsafe_b64encode(b"123:not-a-generation").decode(),
        base64.urlsafe_b64encode(b"soon:gen_abc").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(b"1:gen_" + b"x" * 80).decode(),
    ],
)
def test_a_bad_cursor_is_an_invalid_request(use_cases: UseCases, cursor: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        use_cases.reads.history(USER, 10, cursor)
    assert refused.value.details == [{"field": "cursor", "message": "invalid"}]


def test_the_quota_counts_what_was_charged(use_cases: UseCases) -> None:
    fresh = use_cases.reads.quota(USER)
    assert fresh.tier == "free"
    assert {w.window: (w.limit, w.remaining) for w in fresh.limits} == {"hour": (5, 5), "day": (5, 5)}
    use_cases.admit(USER, variation=1)
    failing = use_cases.claimed(USER, variation=2)
    used = use_cases.reads.quota(USER)
    assert {w.window: w.remaining for w in used.limits} == {"hour": 3, "day": 3}
    use_cases.finish.fail_for(failing, RuntimeError("boom"))
    assert {w.window: w.remaining for w in use_cases.reads.quota(USER).limits} == {"hour": 4, "day": 4}
    hour = next(w for w in used.limits if w.window == "hour")
    assert hour.reset == (int(use_cases.clock.time()) // 3600 + 1) * 3600


def test_an_api_keys_own_windows_replace_its_tiers(use_cases: UseCases) -> None:
    key = Identity("api_key", "key_capped", "enterprise", windows=(Window("day", 2),))
    use_cases.admit(key)
    quota = use_cases.reads.quota(key)
    assert [(w.window, w.limit, w.remaining) for w in quota.limits] == [("day", 2, 1)]
    assert use_cases.reads.quota(Identity("api_key", "key_free", "enterprise")).limits == []
