"""Dead letters of the embedded transport: messages a stage could not handle.

On Kafka they go to the ``news.dlq`` topic; in one process they are kept in the
store, with the same facts, so that nothing is lost and ``newsflow dlq`` can
show and replay them (:mod:`pipeline.runtime.replay`).

A message that fails again (its poll came again after a crash, or a replay
failed) is one letter, not two: letters are keyed by the message's
:meth:`~pipeline.models.Message.letter_key`, and a repeat updates the letter
(newest error and payload, ``attempts`` + 1). A repeat at another stage (a
page fetched at last, now failing extraction) replaces the letter of the
stage it got past, carrying its attempts: that letter's message is the same
one, and replaying both would run it twice.

A letter may carry ``retry_at``: when the embedded service fetches its page
again by itself (a transient failure: :mod:`pipeline.runtime.retry_later`).
Every new failure clears it; the runtime that kept the letter sets it anew
in the same transaction, or leaves the letter to ``newsflow dlq replay``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from connectors.storage.db import Database, Dialect, storable_text
from connectors.storage.migrations import Migration, both, migrate
from pipeline.models import utcnow


def _table(dialect: Dialect) -> list[str]:
    key = "INTEGER PRIMARY KEY" if dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    return [
        f"""CREATE TABLE IF NOT EXISTS dead_letters (
        id {key},
        stage TEXT NOT NULL,
        topic TEXT NOT NULL,
        error_class TEXT NOT NULL,
        reason TEXT NOT NULL,
        error TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
    )"""
    ]


# IF NOT EXISTS in step 1: databases created before migrations existed already have the table.
COMPONENT = "dead_letters"

MIGRATIONS = (
    Migration(1, "dead letters table", _table),
    Migration(
        2,
        "one letter per failed message",
        both(
            "ALTER TABLE dead_letters ADD COLUMN letter_key TEXT",
            "ALTER TABLE dead_letters ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE dead_letters ADD COLUMN last_failed_at TEXT",
            # Letters written before this step have no key: they stay as they are.
            "CREATE UNIQUE INDEX dead_letters_by_key ON dead_letters (stage, letter_key)",
        ),
    ),
    Migration(
        3,
        "find a message's letters at other stages",
        both("CREATE INDEX dead_letters_by_message ON dead_letters (letter_key)"),
    ),
    Migration(
        4,
        "letters the service tries again by itself",
        both(
            "ALTER TABLE dead_letters ADD COLUMN retry_at TEXT",
            "CREATE INDEX dead_letters_by_retry ON dead_letters (retry_at)",
        ),
    ),
)

_LAST_FAILED = "COALESCE(last_failed_at, created_at)"
"""A letter's last failure (letters from before migration 2 have only their first)."""
_COLUMNS = (
    "id, stage, topic, error_class, reason, error, payload, created_at,"
    f" letter_key, attempts, {_LAST_FAILED}, retry_at"
)

RetrySchedule = Callable[[int], datetime | None]
"""Given a letter's attempts so far, when to try its message again (None: never)."""


def _stamp(moment: datetime) -> str:
    """Times as text that sorts as time does (both engines compare ``retry_at`` as text)."""
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class DeadLetter:
    id: int
    stage: str
    topic: str
    error_class: str
    reason: str
    error: str
    payload: str
    created_at: str
    """When the message first failed."""
    letter_key: str | None
    attempts: int
    """How many times the message failed at this stage."""
    last_failed_at: str
    retry_at: str | None = None
    """When the service tries the message again by itself; None: it waits for a replay."""


class Failed(Protocol):
    """A stage's failure as the runtimes describe it (``pipeline.runtime.outcome.Failure``)."""

    @property
    def stage(self) -> str: ...
    @property
    def topic(self) -> str: ...
    @property
    def error_class(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def error(self) -> str: ...
    @property
    def payload(self) -> str: ...
    @property
    def letter_key(self) -> str | None: ...


class DeadLetterRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, COMPONENT, MIGRATIONS)

    def add(
        self,
        *,
        stage: str,
        topic: str,
        error_class: str,
        reason: str,
        error: str,
        payload: str,
        letter_key: str | None = None,
        retry: RetrySchedule | None = None,
    ) -> None:
        """Keep a failed message; the same ``letter_key`` again updates its letter.

        Letters of the same key at other stages are replaced by this one (see
        the module docstring), in one transaction. ``retry`` says when the
        message is tried again, from the letter's attempts counting this one.
        """
        now = utcnow().isoformat()
        with self.db.transaction():
            earlier = self._supersede(stage, letter_key)
            [(letter_id, attempts)] = self.db.execute(
                "INSERT INTO dead_letters (stage, topic, error_class, reason, error, payload,"
                " created_at, letter_key, attempts, last_failed_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (stage, letter_key) DO UPDATE SET topic = excluded.topic,"
                " error_class = excluded.error_class, reason = excluded.reason,"
                " error = excluded.error, payload = excluded.payload,"
                " attempts = dead_letters.attempts + excluded.attempts,"
                " last_failed_at = excluded.last_failed_at, retry_at = NULL"
                " RETURNING id, attempts",
                (stage, topic, error_class, reason, storable_text(error), storable_text(payload),
                 now, letter_key, 1 + earlier, now),
            )  # fmt: skip
            retry_at = retry(int(attempts)) if retry is not None else None
            if retry_at is not None:
                self._schedule(int(letter_id), retry_at)

    def _supersede(self, stage: str, letter_key: str | None) -> int:
        """Remove the message's letters at other stages; the attempts they counted."""
        if letter_key is None:
            return 0
        removed = self.db.execute(
            "DELETE FROM dead_letters WHERE letter_key = ? AND stage <> ? RETURNING attempts",
            (letter_key, stage),
        )
        return sum(int(row[0]) for row in removed)

    def keep(self, failure: Failed, *, retry: RetrySchedule | None = None) -> None:
        """:meth:`add` for a failure as the runtimes describe it."""
        self.add(
            stage=failure.stage,
            topic=failure.topic,
            error_class=failure.error_class,
            reason=failure.reason,
            error=failure.error,
            payload=failure.payload,
            letter_key=failure.letter_key,
            retry=retry,
        )

    def take_due(self, now: datetime, *, lease_until: datetime, limit: int) -> list[DeadLetter]:
        """The letters whose ``retry_at`` has come, oldest first, leased until ``lease_until``.

        The lease keeps the next look from taking them again while their message
        is on its way; if the service dies meanwhile, they come due again when
        it ends. A failure clears it (:meth:`add`), success removes the letter
        (:meth:`settle`).
        """
        with self.db.transaction():
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM dead_letters WHERE retry_at IS NOT NULL"
                " AND retry_at <= ? ORDER BY retry_at, id LIMIT ?",
                (_stamp(now), limit),
            )
            letters = [DeadLetter(*row) for row in rows]
            for letter in letters:
                self._schedule(letter.id, lease_until)
        return letters

    def next_retry(self) -> datetime | None:
        """The earliest ``retry_at`` of any letter."""
        [(earliest,)] = self.db.execute("SELECT MIN(retry_at) FROM dead_letters")
        return datetime.fromisoformat(earliest) if earliest else None

    def settle(self, letter_id: int, attempts: int) -> bool:
        """Remove a letter whose message went through, unless it failed again meanwhile
        (then ``attempts`` has grown, or the letter was replaced at another stage)."""
        removed = self.db.execute(
            "DELETE FROM dead_letters WHERE id = ? AND attempts = ? RETURNING id",
            (letter_id, attempts),
        )
        return bool(removed)

    def clear_retry(self, letter_id: int) -> None:
        """Leave a letter to ``newsflow dlq replay``: the service will not take it again."""
        self.db.execute("UPDATE dead_letters SET retry_at = NULL WHERE id = ?", (letter_id,))

    def _schedule(self, letter_id: int, at: datetime) -> None:
        self.db.execute(
            "UPDATE dead_letters SET retry_at = ? WHERE id = ?", (_stamp(at), letter_id)
        )

    def list(self, limit: int = 100) -> list[DeadLetter]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM dead_letters ORDER BY id LIMIT ?", (limit,))
        return [DeadLetter(*row) for row in rows]

    def ids(self) -> tuple[int, ...]:
        """Every letter's id, oldest first: a snapshot to walk with :meth:`get`, one
        payload in memory at a time."""
        return tuple(int(r[0]) for r in self.db.execute("SELECT id FROM dead_letters ORDER BY id"))

    def get(self, letter_id: int) -> DeadLetter | None:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?", (letter_id,))
        return DeadLetter(*rows[0]) if rows else None

    def claim(self, letter_id: int) -> bool:
        """Lock a letter for the caller's transaction; False if it is gone.

        Two replays at once then take each letter in turn: the second finds
        it removed (or updated) by the first, instead of running its message
        again and maybe adding it back. SQLite's write transaction already
        excludes the other; PostgreSQL needs the row lock.
        """
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        rows = self.db.execute(f"SELECT id FROM dead_letters WHERE id = ?{lock}", (letter_id,))
        return bool(rows)

    def remove(self, letter_id: int) -> None:
        self.db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,))

    def remove_matching(
        self,
        *,
        stage: str | None,
        reason: str | None,
        failed_before: datetime | None = None,
    ) -> int:
        """Remove every letter of ``stage`` and ``reason`` whose last failure was before
        ``failed_before`` (None: any); how many went."""
        chosen: list[tuple[str, str]] = [
            (f"{column} = ?", value)
            for column, value in (("stage", stage), ("reason", reason))
            if value is not None
        ]
        if failed_before is not None:
            chosen.append((f"{_LAST_FAILED} < ?", _stamp(failed_before)))
        clause = " AND ".join(condition for condition, _ in chosen) or "1 = 1"
        removed = self.db.execute(
            f"DELETE FROM dead_letters WHERE {clause} RETURNING id",
            tuple(value for _, value in chosen),
        )
        return len(removed)

    def expire(self, failed_before: datetime) -> int:
        """Remove the letters that last failed before ``failed_before`` and that the service
        is not going to try again; how many went.

        A letter with a ``retry_at`` is still in the service's hands (waiting for its
        time, or leased), however old its first failure.
        """
        removed = self.db.execute(
            f"DELETE FROM dead_letters WHERE retry_at IS NULL AND {_LAST_FAILED} < ? RETURNING id",
            (_stamp(failed_before),),
        )
        return len(removed)

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM dead_letters")[0][0])
