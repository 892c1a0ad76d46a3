"""Versioned schema migrations, applied in order when a repository opens.

Each repository owns a *component* (``articles``, ``dead_letters``, ...) with
its own numbered list of :class:`Migration` steps, so repositories written by
different people never compete for version numbers. ``schema_migrations``
records which steps ran::

    MIGRATIONS = (
        Migration(1, "create widgets", lambda dialect: ["CREATE TABLE widgets (...)"]),
        Migration(2, "index widgets by name", both("CREATE INDEX widgets_name ON widgets (name)")),
    )
    migrate(db, "widgets", MIGRATIONS)     # in the repository's __init__

Applying is idempotent and safe when several processes start at once: an
up-to-date store is recognised by reading the ledger alone; otherwise the
whole check-and-apply runs in one transaction that first takes a lock
(``pg_advisory_xact_lock`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), and
both engines roll DDL back with the transaction, so a failed step leaves the
schema as it was. Steps are never edited once released: change the schema by
appending a step.

A store opened read-only (``Database(url, access="read")``) is never migrated:
its ledger is checked, and a schema other than this newsflow's is a
:class:`~pipeline.errors.SchemaMismatch` naming both versions, not a missing
column later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connectors.storage.db import Database, Dialect
from pipeline.errors import SchemaMismatch, StorageError
from pipeline.models import utcnow

Statements = Callable[[Dialect], Sequence[str]]

# Any 64-bit constant works; this one is "newsflow" in ASCII, readable in pg_locks.
ADVISORY_LOCK_KEY = 0x6E657773666C6F77

_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)"""


@dataclass(frozen=True)
class Migration:
    """One schema step: its version (1, 2, ...), a name, and its SQL for a dialect."""

    version: int
    name: str
    statements: Statements


def both(*statements: str) -> Statements:
    """Statements that are the same on SQLite and PostgreSQL."""
    return lambda _dialect: statements


def migrate(db: Database, component: str, migrations: Sequence[Migration]) -> list[int]:
    """Apply the steps of ``component`` not applied yet, in order; return their versions."""
    _check_sequence(component, migrations)
    if db.read_only:
        _require_current(db, component, migrations)
        return []
    if _up_to_date(db, component, migrations):
        return []
    with db.transaction():
        _lock(db)
        db.execute(_LEDGER)
        done = applied_versions(db, component)
        newest = max((m.version for m in migrations), default=0)
        if done and max(done) > newest:
            raise StorageError(
                f"the database's {component} schema is at version {max(done)}, newer than this"
                f" newsflow knows (version {newest}): upgrade newsflow"
            )
        ran = []
        for step in migrations:
            if step.version not in done:
                _apply(db, component, step)
                ran.append(step.version)
        return ran


def applied_versions(db: Database, component: str) -> set[int]:
    rows = db.execute("SELECT version FROM schema_migrations WHERE component = ?", (component,))
    return {int(r[0]) for r in rows}


def _up_to_date(db: Database, component: str, migrations: Sequence[Migration]) -> bool:
    """Read-only check first, so an up-to-date store opens without a write lock.

    (A reader with a read-only role can open it; anything else takes the slow path.)
    """
    if not _has_ledger(db):
        return False
    done = applied_versions(db, component)
    return done == {m.version for m in migrations}


def _require_current(db: Database, component: str, migrations: Sequence[Migration]) -> None:
    """A read-only store must hold exactly this newsflow's ``component`` schema."""
    newest = max((m.version for m in migrations), default=0)
    done = applied_versions(db, component) if _has_ledger(db) else set()
    have = max(done, default=0)
    if done == {m.version for m in migrations}:
        return
    if not done:
        raise SchemaMismatch(
            f"the database at {db.location} has no {component} tables; `newsflow run` creates them"
        )
    if have > newest:
        raise SchemaMismatch(
            f"the database at {db.location} has {component} schema version {have}, newer than"
            f" this newsflow knows (version {newest}): upgrade newsflow"
        )
    raise SchemaMismatch(
        f"the database at {db.location} has {component} schema version {have}, this newsflow"
        f" needs version {newest}: a command that writes to it (`newsflow run`) migrates it"
    )


def require_tables(db: Database, what: str, tables: Sequence[str]) -> None:
    """For a read-only store: the unversioned ``tables`` of ``what`` must exist already."""
    if any(not _table_exists(db, table) for table in tables):
        raise SchemaMismatch(
            f"the database at {db.location} has no {what} tables; `newsflow run` creates them"
        )


def _has_ledger(db: Database) -> bool:
    return _table_exists(db, "schema_migrations")


def _table_exists(db: Database, table: str) -> bool:
    if db.dialect == "sqlite":
        found = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        found = "SELECT 1 WHERE to_regclass(?) IS NOT NULL"
    return bool(db.execute(found, (table,)))


def _lock(db: Database) -> None:
    """Serialise migrations across processes until the transaction ends."""
    if db.dialect == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(?)", (ADVISORY_LOCK_KEY,))
    # SQLite: the transaction began with BEGIN IMMEDIATE, which holds the write lock.


def _apply(db: Database, component: str, step: Migration) -> None:
    try:
        with db.transaction():
            for statement in step.statements(db.dialect):
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_migrations (component, version, name, applied_at)"
                " VALUES (?, ?, ?, ?)",
                (component, step.version, step.name, utcnow().isoformat()),
            )
    except StorageError as exc:
        raise StorageError(
            f"schema migration {component} v{step.version} ({step.name}) failed: {exc}"
        ) from exc


def _check_sequence(component: str, migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise StorageError(f"{component} migrations must be numbered 1, 2, 3...: got {versions}")
