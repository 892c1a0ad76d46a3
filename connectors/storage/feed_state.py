"""What the service remembers about each feed, so a restart neither refetches nor misses.

Per feed (table ``feed_state``): the HTTP validators of every document last
fetched (the feed, and a sitemap index's children), when it last succeeded
and failed and why, consecutive failures, whether it is unhealthy, its
adapted interval and when it is next due.

Per feed, a bounded window of *seen entry keys* (table ``feed_seen``): each
key carries a sequence number, and only the newest ``window`` numbers are
kept. Keys still listed by the feed but about to fall out of the window are
refreshed (given new numbers), so a long-lived entry is not delivered twice.
A key may also carry the *revision* its entry was last handed on at (the
feed's own "updated" time, seconds since the epoch): a later one listed means
the article changed.

Times are seconds since the epoch (``DOUBLE PRECISION``: PostgreSQL's
``REAL`` would round them to minutes). The SQL is the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from connectors.storage.db import Database, Dialect, storable_text
from connectors.storage.migrations import Migration, both, migrate
from pipeline.models import utcnow

_LOOKUP_CHUNK = 500
_ERROR_CHARS = 500


def _tables(_dialect: Dialect) -> list[str]:
    return [
        """CREATE TABLE IF NOT EXISTS feed_state (
            feed TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            validators TEXT NOT NULL,
            last_attempt_at DOUBLE PRECISION,
            last_success_at DOUBLE PRECISION,
            last_error_at DOUBLE PRECISION,
            last_error TEXT,
            last_error_reason TEXT,
            failures INTEGER NOT NULL,
            unhealthy INTEGER NOT NULL,
            interval_seconds DOUBLE PRECISION,
            next_due_at DOUBLE PRECISION,
            seen_seq BIGINT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS feed_seen (
            feed TEXT NOT NULL,
            entry_key TEXT NOT NULL,
            seq BIGINT NOT NULL,
            PRIMARY KEY (feed, entry_key)
        )""",
        "CREATE INDEX IF NOT EXISTS feed_seen_seq ON feed_seen (feed, seq)",
    ]


COMPONENT = "feed_state"

MIGRATIONS = (
    Migration(1, "feed state and seen entry keys", _tables),
    Migration(
        2, "resume cursor of WARC backfills", both("ALTER TABLE feed_state ADD COLUMN cursor TEXT")
    ),
    Migration(
        3,
        "revision of seen entries",
        both("ALTER TABLE feed_seen ADD COLUMN revision DOUBLE PRECISION"),
    ),
)


class SeenKey(NamedTuple):
    """A seen entry key: its number in the window, and the revision it was handed on at."""

    seq: int
    revision: float | None = None


@dataclass(frozen=True)
class Validators:
    """What the server said about a document, sent back to ask "changed since?"."""

    etag: str | None = None
    last_modified: str | None = None

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in (("etag", self.etag), ("last_modified", self.last_modified)) if v}


@dataclass(frozen=True)
class FeedState:
    feed: str
    url: str = ""
    validators: Mapping[str, Validators] = field(default_factory=dict)
    """Document URL (or path) -> its validators."""
    last_attempt_at: float | None = None
    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error: str | None = None
    last_error_reason: str | None = None
    failures: int = 0
    """Consecutive failed polls; 0 after a success."""
    unhealthy: bool = False
    interval_seconds: float | None = None
    next_due_at: float | None = None
    seen_seq: int = 0
    """The newest sequence number given to a seen entry key."""
    cursor: str | None = None
    """Where a WARC backfill resumes (JSON: file and byte offset); None for feeds."""


_COLUMNS = (
    "feed, url, validators, last_attempt_at, last_success_at, last_error_at, last_error,"
    " last_error_reason, failures, unhealthy, interval_seconds, next_due_at, seen_seq, cursor"
)

_UPDATES = ", ".join(
    f"{column} = excluded.{column}"
    for column in [*(c.strip() for c in _COLUMNS.split(",")[1:]), "updated_at"]
)


class FeedStateRepository:
    """Feed state and seen entry keys on a :class:`Database` (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, COMPONENT, MIGRATIONS)

    def get(self, feed: str) -> FeedState:
        """The state of ``feed``; a fresh state when it was never polled."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM feed_state WHERE feed = ?", (feed,))
        return _state(rows[0]) if rows else FeedState(feed=feed)

    def all(self) -> dict[str, FeedState]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM feed_state")
        return {row[0]: _state(row) for row in rows}

    def known_keys(self, feed: str, keys: Iterable[str]) -> dict[str, SeenKey]:
        """Which of ``keys`` were seen for ``feed``, with their numbers and revisions."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, SeenKey] = {}
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT entry_key, seq, revision FROM feed_seen"
                f" WHERE feed = ? AND entry_key IN ({marks})",
                (feed, *chunk),
            )
            found.update((str(k), SeenKey(int(s), r)) for k, s, r in rows)
        return found

    def count_seen(self, feed: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM feed_seen WHERE feed = ?", (feed,))[0][0])

    def record_success(
        self,
        feed: str,
        *,
        url: str,
        at: float,
        validators: Mapping[str, Validators],
        keys: Sequence[str] = (),
        window: int,
        revisions: Mapping[str, float] | None = None,
        cursor: str | None = None,
    ) -> FeedState:
        """A good poll: store validators, mark ``keys`` seen (newest numbers), trim the window.

        A key in ``revisions`` records that revision with it; the others keep theirs.

        One transaction: the keys and the validators that let the next poll
        skip those entries are stored together or not at all.
        """
        with self.db.transaction():
            state = self.get(feed)
            new = replace(
                state,
                url=url,
                validators=dict(validators),
                last_attempt_at=at,
                last_success_at=at,
                failures=0,
                unhealthy=False,
                seen_seq=self._mark(feed, state.seen_seq, keys, window, revisions),
                cursor=cursor,
            )
            self._save(new)
        return new

    def mark_seen(
        self,
        feed: str,
        keys: Sequence[str],
        *,
        window: int,
        revisions: Mapping[str, float] | None = None,
    ) -> None:
        """Mark ``keys`` seen ahead of the poll's :meth:`record_success`, nothing else.

        For entries already stored while the rest of their poll is not: a
        service killed before the poll commits then fetches only what it had
        not stored yet. Validators are not touched, or a 304 would hide the rest.
        """
        if not keys:
            return
        with self.db.transaction(savepoint=False):
            state = self.get(feed)
            seq = self._mark(feed, state.seen_seq, keys, window, revisions)
            self._save(replace(state, seen_seq=seq))

    def _mark(
        self,
        feed: str,
        seq: int,
        keys: Iterable[str],
        window: int,
        revisions: Mapping[str, float] | None = None,
    ) -> int:
        """Give ``keys`` the next numbers after ``seq`` (and their ``revisions``), drop
        those out of the window; the last number given."""
        revisions = revisions or {}
        rows = []
        for key in dict.fromkeys(keys):
            seq += 1
            rows.append((feed, key, seq, revisions.get(key)))
        self.db.executemany(
            "INSERT INTO feed_seen (feed, entry_key, seq, revision) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (feed, entry_key) DO UPDATE SET seq = excluded.seq,"
            " revision = COALESCE(excluded.revision, feed_seen.revision)",
            rows,
        )
        if rows:
            self.db.execute(
                "DELETE FROM feed_seen WHERE feed = ? AND seq <= ?", (feed, seq - window)
            )
        return seq

    def record_failure(
        self, feed: str, *, url: str, at: float, error: str, reason: str, unhealthy_after: int
    ) -> FeedState:
        """A failed poll: one more consecutive failure; unhealthy from ``unhealthy_after`` on.

        Failures at another URL (the feed's URL was changed since) are not counted:
        the new URL's first failure is its first."""
        with self.db.transaction():
            state = self.get(feed)
            failures = state.failures + 1 if state.url in ("", url) else 1
            new = replace(
                state,
                url=url,
                last_attempt_at=at,
                last_error_at=at,
                last_error=error[:_ERROR_CHARS],
                last_error_reason=reason,
                failures=failures,
                unhealthy=failures >= unhealthy_after,
            )
            self._save(new)
        return new

    def set_schedule(self, feed: str, *, interval_seconds: float, next_due_at: float) -> None:
        """When the feed is next due, and the interval the scheduler adapted to."""
        with self.db.transaction():
            state = self.get(feed)
            self._save(replace(state, interval_seconds=interval_seconds, next_due_at=next_due_at))

    def forget(self, feed: str) -> None:
        """Drop everything about a feed (it was removed from the configuration)."""
        with self.db.transaction():
            self.db.execute("DELETE FROM feed_seen WHERE feed = ?", (feed,))
            self.db.execute("DELETE FROM feed_state WHERE feed = ?", (feed,))

    def _save(self, state: FeedState) -> None:
        values = (
            state.feed,
            storable_text(state.url) or "",
            _dump_validators(state.validators),
            state.last_attempt_at,
            state.last_success_at,
            state.last_error_at,
            storable_text(state.last_error),
            state.last_error_reason,
            state.failures,
            int(state.unhealthy),
            state.interval_seconds,
            state.next_due_at,
            state.seen_seq,
            state.cursor,
            utcnow().isoformat(),
        )
        self.db.execute(
            f"INSERT INTO feed_state ({_COLUMNS}, updated_at) VALUES ({','.join('?' * 15)})"
            f" ON CONFLICT (feed) DO UPDATE SET {_UPDATES}",
            values,
        )


def _dump_validators(validators: Mapping[str, Validators]) -> str:
    return json.dumps({url: v.to_json() for url, v in validators.items()}, sort_keys=True)


def _load_validators(text: str) -> dict[str, Validators]:
    try:
        data: Any = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(url): Validators(etag=v.get("etag"), last_modified=v.get("last_modified"))
        for url, v in data.items()
        if isinstance(v, dict)
    }


def _state(row: Sequence[Any]) -> FeedState:
    return FeedState(
        feed=row[0],
        url=row[1],
        validators=_load_validators(row[2]),
        last_attempt_at=row[3],
        last_success_at=row[4],
        last_error_at=row[5],
        last_error=row[6],
        last_error_reason=row[7],
        failures=int(row[8]),
        unhealthy=bool(row[9]),
        interval_seconds=row[10],
        next_due_at=row[11],
        seen_seq=int(row[12]),
        cursor=row[13],
    )
