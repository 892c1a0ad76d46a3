"""The schema of the whole store: every component's migrations, applied or checked at once.

Each repository migrates its own component when it opens (unless its handle
may not: see :func:`~connectors.storage.migrations.migrate`). Operators who
migrate as a deploy step instead (``newsflow store migrate``, then processes
with ``storage.migrate_on_start: false``) need every component at once,
including those a process has not opened yet::

    for component, step in migrate_store(db):   # what `newsflow store migrate` prints
        ...
    problem = store_problem(db)                 # None, or why the service must not start

A new component joins by adding its migrations to :data:`COMPONENTS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.storage import (
    article_schema,
    dead_letters,
    dedup_schema,
    feed_state,
    residue_schema,
    write_probe,
)
from connectors.storage.db import Database
from connectors.storage.migrations import (
    MIGRATE_COMMAND,
    Migration,
    SchemaState,
    migrate,
    schema_problem,
    schema_state,
)

# The modules that define the migrations, not the repositories using them: those import
# the dedup and the extraction (numpy, trafilatura), 0.3 s of `newsflow store status`.
_MODULES = (article_schema, dead_letters, dedup_schema, feed_state, residue_schema, write_probe)
COMPONENTS: dict[str, Sequence[Migration]] = {m.COMPONENT: m.MIGRATIONS for m in _MODULES}
"""Every component of the store and its steps, in the order they are migrated."""


def migrate_store(db: Database) -> list[tuple[str, Migration]]:
    """Apply every component's pending steps; return them, in the order applied."""
    applied: list[tuple[str, Migration]] = []
    for component, migrations in COMPONENTS.items():
        versions = set(migrate(db, component, migrations))
        applied.extend((component, m) for m in migrations if m.version in versions)
    return applied


def store_states(db: Database) -> list[SchemaState]:
    """Where each component stands; only reads (a read-only handle may ask)."""
    return [schema_state(db, name, migrations) for name, migrations in COMPONENTS.items()]


def store_problem(db: Database) -> str | None:
    """Why a process that may not migrate cannot use this store, in one line; None if it can.

    Steps pending anywhere are named together, with the command that applies them;
    a component migrated by a newer newsflow is that component's own problem.
    """
    states = store_states(db)
    for state in states:
        if state.newer:
            return schema_problem(db.location, state)
    pending = [s for s in states if s.pending]
    if not pending:
        return None
    steps = ", ".join(f"{s.component} {_versions(s)}" for s in pending)
    return (
        f"the database at {db.location} has schema migrations pending ({steps}):"
        f" run {MIGRATE_COMMAND} first"
    )


def _versions(state: SchemaState) -> str:
    first, last = state.pending[0].version, state.pending[-1].version
    return f"v{first}" if first == last else f"v{first}-v{last}"
