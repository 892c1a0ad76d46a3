"""Proof that the store takes writes now: one row of one table, updated and committed.

A ``SELECT 1`` answers on a full disk, from a read-only file and while
another process holds the write lock, so a service waiting for its store to
come back would resume only to fail again. :meth:`WriteProbe.prove` commits a
real write instead; it rewrites the same tiny row, so the store never grows::

    probe = WriteProbe(db)
    probe.prove()        # raises StoreUnavailable while the store cannot take writes
"""

from __future__ import annotations

from connectors.storage.db import Database
from connectors.storage.migrations import Migration, both, migrate
from pipeline.models import utcnow

COMPONENT = "store_probe"

MIGRATIONS = (
    Migration(
        1,
        "store probe row",
        both(
            "CREATE TABLE store_probe (id INTEGER PRIMARY KEY, probed_at TEXT NOT NULL)",
            "INSERT INTO store_probe (id, probed_at) VALUES (1, '')",
        ),
    ),
)


class WriteProbe:
    """The ``store_probe`` table's one row; migrated when opened, like every repository."""

    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, COMPONENT, MIGRATIONS)

    def prove(self) -> None:
        """Update the probe row and commit; raises :class:`~pipeline.errors.StorageError`
        (:class:`~pipeline.errors.StoreUnavailable` for a full disk or a lost server).

        Must run outside a transaction: a write that is not committed proves nothing.
        """
        if self.db.in_transaction:
            raise RuntimeError("WriteProbe.prove() inside a transaction would not commit")
        with self.db.transaction():
            self.db.execute(
                "UPDATE store_probe SET probed_at = ? WHERE id = 1", (utcnow().isoformat(),)
            )
