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

A store opened read-only (``Database(url, access="read")``), or by a process
that must not change its schema (``Database(url, migrate=False)``, as with
``storage.migrate_on_start: false``), is never migrated: its ledger is
checked, and a schema other than this newsflow's is a
:class:`~pipeline.errors.SchemaMismatch` naming both versions, not a missing
column later. ``newsflow store migrate`` applies every component's pending
steps (see :mod:`connectors.storage.store_schema`).
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

MIGRATE_COMMAND = "`newsflow store migrate`"
"""What applies pending steps, whatever ``storage.migrate_on_start`` says."""

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
    """Apply the steps of ``component`` not applied yet, in order; return their versions.

    A handle that may not migrate (read-only, or opened with ``migrate=False``)
    only checks that the schema is this newsflow's.
    """
    _check_sequence(component, migrations)
    if not db.migrates:
        _require_current(db, component, migrations)
        return []
    if _up_to_date(db, component, migrations):
        return []
    with db.transaction():
        _lock(db)
        db.execute(_LEDGER)
        state = _state(component, migrations, applied_versions(db, component))
        if state.newer:
            raise StorageError(
                f"the database's {component} schema is at version {state.version}, newer than"
                f" this newsflow knows (version {state.newest}): upgrade newsflow"
            )
        for step in state.pending:
            _apply(db, component, step)
        return [step.version for step in state.pending]


@dataclass(frozen=True)
class SchemaState:
    """Where one component's schema stands against this newsflow's steps."""

    component: str
    applied: frozenset[int]
    newest: int
    """The last step this newsflow knows."""
    pending: tuple[Migration, ...]
    """Steps this newsflow knows that the database has not applied, in order."""

    @property
    def version(self) -> int:
        """The database's version of the component: its last applied step (0: none)."""
        return max(self.applied, default=0)

    @property
    def newer(self) -> bool:
        """Migrated by a newer newsflow: this one cannot use it."""
        return self.version > self.newest

    @property
    def current(self) -> bool:
        return not self.pending and not self.newer


def schema_state(db: Database, component: str, migrations: Sequence[Migration]) -> SchemaState:
    """Read, never write, where ``component`` stands (a reader may ask)."""
    _check_sequence(component, migrations)
    done = applied_versions(db, component) if _has_ledger(db) else set()
    return _state(component, migrations, done)


def _state(component: str, migrations: Sequence[Migration], done: set[int]) -> SchemaState:
    return SchemaState(
        component=component,
        applied=frozenset(done),
        newest=max((m.version for m in migrations), default=0),
        pending=tuple(m for m in migrations if m.version not in done),
    )


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
    """A store this handle may not migrate must hold exactly this newsflow's ``component``
    schema."""
    problem = schema_problem(db.location, schema_state(db, component, migrations))
    if problem is not None:
        raise SchemaMismatch(problem)


def schema_problem(location: str, state: SchemaState) -> str | None:
    """What is wrong with ``state`` for this newsflow, as the user reads it; None if nothing."""
    component = state.component
    if state.current:
        return None
    if not state.applied:
        return (
            f"the database at {location} has no {component} tables; {MIGRATE_COMMAND} creates them"
        )
    if state.newer:
        return (
            f"the database at {location} has {component} schema version {state.version}, newer"
            f" than this newsflow knows (version {state.newest}): upgrade newsflow"
        )
    return (
        f"the database at {location} has {component} schema version {state.version}, this"
        f" newsflow needs version {state.newest}: {MIGRATE_COMMAND} migrates it"
    )


def require_tables(db: Database, what: str, tables: Sequence[str]) -> None:
    """For a read-only store: the unversioned ``tables`` of ``what`` must exist already."""
    if any(not _table_exists(db, table) for table in tables):
        raise SchemaMismatch(
            f"the database at {db.location} has no {what} tables; {MIGRATE_COMMAND} creates them"
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
