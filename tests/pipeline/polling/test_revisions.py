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


def stamped(updated: list[datetime | None], recorded: list[datetime | None] | None = None) -> bool:
    """``generation_stamped`` of entries updated at ``updated``, handed on at ``recorded``."""
    before = [t.timestamp() if t else None for t in recorded or [None] * len(updated)]
    return generation_stamped(entries(*updated), NOW.timestamp(), before)


def test_entries_with_times_of_their_own_are_not_stamped() -> None:
    days = [NOW - timedelta(days=n) for n in range(5)]
    assert not stamped(days)


def test_most_entries_sharing_one_time_is_a_stamp() -> None:
    shared = NOW - timedelta(days=3)
    own = NOW - timedelta(days=9)
    assert stamped([shared, shared, own])
    assert not stamped([shared, shared, own, own])  # a half


def test_a_date_most_entries_share_is_not_a_stamp() -> None:
    """Dates without a time (a sitemap's <lastmod>) read as midnight: a day's news shares one."""
    today = datetime(2026, 3, 1, tzinfo=UTC)
    assert not stamped([today, today, today, today - timedelta(days=1)])
    assert stamped([today + timedelta(seconds=1)] * 3 + [today - timedelta(days=1)])


def test_most_entries_handed_on_claiming_an_update_minutes_before_the_poll_is_a_stamp() -> None:
    just_now = [NOW - timedelta(seconds=n * 7) for n in range(3)]
    older = NOW - timedelta(hours=2)
    handed_on = [older - timedelta(hours=n) for n in range(4)]
    assert stamped([*just_now, older], handed_on)
    assert not stamped([just_now[0], older, older - timedelta(1)], handed_on[:3])
    assert not stamped([*just_now, older], [None, None, None, older])  # nothing handed on yet


def test_a_busy_feed_whose_entries_were_just_published_is_not_stamped() -> None:
    """Minutes-old times on entries handed on with those same times are their publication,
    not a generation stamp: a feed of 20 items at several stories a minute looks like this
    at every poll, and a real update among them must still be fetched."""
    published = [NOW - timedelta(seconds=20 * n) for n in range(10)]
    recorded: list[datetime | None] = [None, None, *published[2:]]  # two new since last poll
    assert not stamped(published, recorded)
    corrected = [NOW - timedelta(seconds=5), *published[1:]]
    assert not stamped(corrected, [published[0], *recorded[1:]])


def test_too_few_times_say_nothing() -> None:
    shared = NOW - timedelta(days=3)
    assert not stamped([shared, shared, None, None])


def test_revisions_are_whole_seconds_and_the_newest_recorded_counts() -> None:
    (entry,) = entries(NOW + timedelta(milliseconds=900))
    assert revision_of(entry) == NOW.timestamp()
    assert revision_of(entries(None)[0]) is None
    assert last_revision([SeenKey(1, None), SeenKey(2, 5.0), SeenKey(3, 7.0)]) == 7.0
    assert last_revision([SeenKey(1, None)]) is None


def test_an_rss_item_without_an_updated_time_is_at_its_pubdate_revision() -> None:
    """RSS 2.0 has no updated time: publishers republish with a new pubDate. Formats that
    have one are taken at it: a published time moving alone there is no update."""
    published = NOW - timedelta(days=2)
    item = FeedEntry(feed="f", feed_kind="rss", url="https://example.com/r", published_at=published)
    assert revision_of(item) == published.timestamp()
    assert revision_of(item.model_copy(update={"updated_at": NOW})) == NOW.timestamp()
    for kind in ("atom", "jsonfeed", "sitemap"):
        assert revision_of(item.model_copy(update={"feed_kind": kind})) is None
