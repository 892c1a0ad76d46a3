"""Feed state repository on SQLite and PostgreSQL: validators, failures, schedule, seen window."""

from __future__ import annotations

from pathlib import Path

from connectors.storage.db import Database
from connectors.storage.feed_state import MIGRATIONS, FeedState, FeedStateRepository, Validators
from connectors.storage.migrations import migrate

T0 = 1_700_000_000.25


def test_fresh_feed_has_empty_state(store_url: str) -> None:
    repo = FeedStateRepository(Database(store_url))
    assert repo.get("nope") == FeedState(feed="nope")
    assert repo.all() == {}
    assert repo.known_keys("nope", ["a", "b"]) == {}


def test_success_stores_validators_and_keys_atomically(store_url: str) -> None:
    repo = FeedStateRepository(Database(store_url))
    validators = {
        "https://e.com/feed": Validators('"abc"', "Wed, 01 May 2024 10:00:00 GMT"),
        "https://e.com/child": Validators(etag='W/"x"'),
    }
    state = repo.record_success(
        "f",
        url="https://e.com/feed",
        at=T0,
        validators=validators,
        keys=["k1", "k2", "k1"],
        window=100,
    )
    assert state.seen_seq == 2 and state.failures == 0
    reopened = FeedStateRepository(Database(store_url)).get("f")
    assert reopened.validators == validators
    assert reopened.last_success_at == T0  # full precision on both engines
    assert repo.known_keys("f", ["k1", "k2", "k3"]) == {"k1": (1, None), "k2": (2, None)}


def test_failures_count_up_turn_unhealthy_and_reset(store_url: str) -> None:
    repo = FeedStateRepository(Database(store_url))
    for i in range(3):
        state = repo.record_failure(
            "f",
            url="u",
            at=T0 + i,
            error="HTTP 500 \x00 from server",
            reason="http_500",
            unhealthy_after=3,
        )
    assert state.failures == 3 and state.unhealthy
    assert repo.get("f").last_error == "HTTP 500  from server"  # NUL dropped for PostgreSQL
    assert repo.get("f").last_error_at == T0 + 2
    state = repo.record_success("f", url="u", at=T0 + 10, validators={}, window=10)
    assert state.failures == 0 and not state.unhealthy
    assert state.last_error_reason == "http_500"  # history kept


def test_seen_window_keeps_the_newest_keys(store_url: str) -> None:
    repo = FeedStateRepository(Database(store_url))
    for batch in range(5):
        repo.record_success(
            "f", url="u", at=T0, validators={}, keys=[f"{batch}-{i}" for i in range(4)], window=6
        )
    assert repo.count_seen("f") == 6
    assert set(repo.known_keys("f", [f"4-{i}" for i in range(4)])) == {f"4-{i}" for i in range(4)}
    assert repo.known_keys("f", ["0-0", "3-0", "3-1"]) == {}
    refreshed = repo.record_success("f", url="u", at=T0, validators={}, keys=["3-2"], window=6)
    assert repo.known_keys("f", ["3-2"]) == {"3-2": (refreshed.seen_seq, None)}


def test_keys_marked_ahead_of_the_poll_leave_validators_and_success_alone(
    store_url: str,
) -> None:
    db = Database(store_url)
    repo = FeedStateRepository(db)
    before = repo.record_success(
        "f", url="u", at=T0, validators={"u": Validators('"v1"')}, keys=["old"], window=10
    )
    with db.transaction():  # as the embedded pipeline does: in the storing transaction
        repo.mark_seen("f", ["new-1", "new-2"], window=10)
    after = repo.get("f")
    assert repo.known_keys("f", ["old", "new-1", "new-2"]) == {
        "old": (1, None),
        "new-1": (2, None),
        "new-2": (3, None),
    }
    assert after.seen_seq == 3
    assert (after.validators, after.last_success_at) == (before.validators, T0)
    repo.mark_seen("f", [], window=10)
    assert repo.get("f").seen_seq == 3
    committed = repo.record_success(
        "f", url="u", at=T0 + 1, validators={}, keys=["new-1", "new-2", "new-3"], window=10
    )
    assert committed.seen_seq == 6 and repo.count_seen("f") == 4


def test_schedule_and_forget(store_url: str) -> None:
    repo = FeedStateRepository(Database(store_url))
    repo.record_success("f", url="u", at=T0, validators={}, keys=["a"], window=5)
    repo.set_schedule("f", interval_seconds=450.5, next_due_at=T0 + 450.5)
    state = repo.get("f")
    assert state.interval_seconds == 450.5 and state.next_due_at == T0 + 450.5
    assert set(repo.all()) == {"f"}
    repo.forget("f")
    assert repo.get("f") == FeedState(feed="f") and repo.count_seen("f") == 0


def test_odd_text_is_stored_safely(store_url: str) -> None:
    repo = FeedStateRepository(Database(store_url))
    url = "/feeds/it's; DROP TABLE feed_state; --.xml"
    repo.record_failure(
        "x'); --", url=url, at=T0, error="bad \ud800 text", reason="r", unhealthy_after=1
    )
    state = repo.get("x'); --")
    assert state.url == url and state.last_error == "bad \ufffd text"


def test_a_revision_is_recorded_with_its_keys_and_kept_when_they_are_refreshed(
    store_url: str,
) -> None:
    repo = FeedStateRepository(Database(store_url))
    repo.record_success(
        "f", url="u", at=T0, validators={}, keys=["u:a", "g:a", "u:b"], window=10,
        revisions={"u:a": T0 - 60.5, "g:a": T0 - 60.5},
    )  # fmt: skip
    assert repo.known_keys("f", ["u:a", "g:a", "u:b"]) == {
        "u:a": (1, T0 - 60.5),
        "g:a": (2, T0 - 60.5),
        "u:b": (3, None),
    }
    repo.mark_seen("f", ["u:a", "u:b"], window=10, revisions={"u:b": T0})  # a refresh, a first
    assert repo.known_keys("f", ["u:a", "u:b"]) == {"u:a": (4, T0 - 60.5), "u:b": (5, T0)}
    repo.mark_seen("f", ["u:b"], window=10, revisions={"u:b": T0 + 3600})
    assert repo.known_keys("f", ["u:b"]) == {"u:b": (6, T0 + 3600)}


def test_a_store_from_before_revisions_gains_the_column_and_keeps_its_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    migrate(db, "feed_state", MIGRATIONS[:2])
    db.execute("INSERT INTO feed_seen (feed, entry_key, seq) VALUES ('f', 'u:a', 7)")
    repo = FeedStateRepository(Database(url))
    assert repo.known_keys("f", ["u:a"]) == {"u:a": (7, None)}
