"""Dead letters of the embedded transport: messages a stage could not handle.

On Kafka they go to the ``news.dlq`` topic; in one process they are kept in the
store, with the same facts, so that nothing is lost and ``newsflow dlq`` can
show and replay them.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.storage.db import Database, Dialect, storable_text
from connectors.storage.migrations import Migration, migrate
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
MIGRATIONS = (Migration(1, "dead letters table", _table),)


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


class DeadLetterRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, "dead_letters", MIGRATIONS)

    def add(
        self, *, stage: str, topic: str, error_class: str, reason: str, error: str, payload: str
    ) -> None:
        self.db.execute(
            "INSERT INTO dead_letters"
            " (stage, topic, error_class, reason, error, payload, created_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (stage, topic, error_class, reason, storable_text(error), storable_text(payload),
             utcnow().isoformat()),
        )  # fmt: skip

    def list(self, limit: int = 100) -> list[DeadLetter]:
        rows = self.db.execute(
            "SELECT id, stage, topic, error_class, reason, error, payload, created_at"
            " FROM dead_letters ORDER BY id LIMIT ?",
            (limit,),
        )
        return [DeadLetter(*row) for row in rows]

    def remove(self, letter_id: int) -> None:
        self.db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,))

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM dead_letters")[0][0])
