"""When an entry already handed on is listed as changed, and should be fetched again.

A feed says an article changed through the entry's own "updated" time (Atom
``<updated>``, JSON Feed ``date_modified``, sitemap ``<lastmod>``:
:attr:`~pipeline.models.FeedEntry.updated_at`). The poller records that time
with the entry's seen keys when it hands the entry on; a later time listed
afterwards fetches the page again, and dedup stores it as a new revision when
its text changed (the same text is a replay, written nowhere).

RSS 2.0 has no updated time (only extensions do: ``atom:updated``,
``dcterms:modified``), and publishers who correct or republish an item give it
a new ``pubDate`` under the same GUID and link: for an RSS entry without an
updated time, its ``pubDate`` is its revision. The formats that have an updated
time are taken at it: an Atom or JSON Feed entry whose published time moves
without it is not listed as updated. A new pubDate on an unchanged page costs a
conditional fetch (a 304 when the server sends validators) or a replay that is
written nowhere, and no more than ``schedule.max_updated_per_poll`` per poll.

Two things make such a time worthless, and these guard against them:

- Some feeds stamp every entry with the time the document was generated, so
  every poll would fetch every entry again. A document where most entries
  share one updated time, or where most entries already handed on claim to
  have been updated in the last minutes, is :func:`generation_stamped`: its
  times are ignored for that poll. Only entries already handed on count for
  the second rule: on a busy feed most entries are minutes old because they
  were just published, with their first and only time. A shared midnight (UTC)
  does not count for the first: it is a date (a sitemap's ``<lastmod>2026-05-01``),
  which a day's stories share; taken for a stamp, it hid every update listed on
  a busy day.
- An entry handed on before its updated time was recorded (by a version
  without revisions, or when the feed first listed it without one) has no
  time to compare with: its time is recorded, and nothing is fetched.

What remains is bounded per poll (``schedule.max_updated_per_poll``); updates
over the bound are not recorded, so the next poll fetches them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from connectors.storage.feed_state import SeenKey
from pipeline.models import FeedEntry

STAMP_MIN_ENTRIES = 3
"""Fewer entries with an updated time say nothing about how the feed stamps them."""
STAMP_RECENT_SECONDS = 300.0
"""Updated this close to the poll, for most entries at once, is the generation time."""
DAY_SECONDS = 86_400


def revision_of(entry: FeedEntry) -> float | None:
    """The entry's updated time in whole seconds (what is compared and recorded); for
    an RSS entry without one, its ``pubDate``."""
    when = entry.updated_at
    if when is None and entry.feed_kind == "rss":
        when = entry.published_at
    return float(int(when.timestamp())) if when else None


def generation_stamped(
    entries: Sequence[FeedEntry], now: float, recorded: Sequence[float | None]
) -> bool:
    """Whether the document's updated times are its generation time, not the entries'.

    ``recorded[i]`` is the revision recorded when ``entries[i]`` was handed on
    (None: not handed on yet, or without a time). True when at least
    :data:`STAMP_MIN_ENTRIES` entries carry a time and over half of them share
    one that is not a midnight (UTC: a date without a time); or when at least
    :data:`STAMP_MIN_ENTRIES` entries handed on carry a time and over half of those
    now claim a later one within :data:`STAMP_RECENT_SECONDS` of ``now``.
    """
    times = [revision_of(entry) for entry in entries]
    known = [t for t in times if t is not None]
    if len(known) >= STAMP_MIN_ENTRIES:
        shared, count = Counter(known).most_common(1)[0]
        if 2 * count > len(known) and shared % DAY_SECONDS:
            return True
    handed_on = [
        (t, last)
        for t, last in zip(times, recorded, strict=True)
        if t is not None and last is not None
    ]
    claims = sum(1 for t, last in handed_on if t > last and abs(now - t) <= STAMP_RECENT_SECONDS)
    return len(handed_on) >= STAMP_MIN_ENTRIES and 2 * claims > len(handed_on)


def last_revision(seen: Iterable[SeenKey]) -> float | None:
    """The newest revision recorded with any of an entry's seen keys."""
    return max((s.revision for s in seen if s.revision is not None), default=None)
