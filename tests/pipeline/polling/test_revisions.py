"""When a document's updated times are its generation time rather than its entries'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.storage.feed_state import SeenKey
from pipeline.models import FeedEntry
from pipeline.polling.revisions import generation_stamped, last_revision, revision_of

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def entries(*updated: datetime | None) -> list[FeedEntry]:
    return [
        FeedEntry(feed="f", feed_kind="atom", url=f"https://example.com/{n}", updated_at=when)
        for n, when in enumerate(updated)
    ]


def test_entries_with_times_of_their_own_are_not_stamped() -> None:
    days = [NOW - timedelta(days=n) for n in range(5)]
    assert not generation_stamped(entries(*days), NOW.timestamp())


def test_most_entries_sharing_one_time_is_a_stamp() -> None:
    shared = NOW - timedelta(days=3)
    own = NOW - timedelta(days=9)
    assert generation_stamped(entries(shared, shared, own), NOW.timestamp())
    assert not generation_stamped(entries(shared, shared, own, own), NOW.timestamp())  # a half


def test_most_entries_updated_minutes_before_the_poll_is_a_stamp() -> None:
    just_now = [NOW - timedelta(seconds=n * 7) for n in range(3)]
    older = NOW - timedelta(hours=2)
    assert generation_stamped(entries(*just_now, older), NOW.timestamp())
    assert not generation_stamped(
        entries(just_now[0], older, older - timedelta(1)), NOW.timestamp()
    )


def test_too_few_times_say_nothing() -> None:
    shared = NOW - timedelta(days=3)
    assert not generation_stamped(entries(shared, shared, None, None), NOW.timestamp())


def test_revisions_are_whole_seconds_and_the_newest_recorded_counts() -> None:
    (entry,) = entries(NOW + timedelta(milliseconds=900))
    assert revision_of(entry) == NOW.timestamp()
    assert revision_of(entries(None)[0]) is None
    assert last_revision([SeenKey(1, None), SeenKey(2, 5.0), SeenKey(3, 7.0)]) == 7.0
    assert last_revision([SeenKey(1, None)]) is None
