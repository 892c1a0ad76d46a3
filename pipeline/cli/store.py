"""``newsflow store``: the store's schema as an explicit deploy step.

``store migrate`` applies every component's pending migrations (one line each,
or ``schema up to date``; running it again changes nothing), under the lock
that keeps concurrent migrations apart. ``store status`` only reads: per
component its version and pending steps, exit status 1 while any are pending,
so a script can ask before it rolls out::

    newsflow store status || newsflow store migrate

With ``storage.migrate_on_start: false`` these are the only commands that
change the schema: the service and its workers check it and refuse to start
while migrations are pending.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from connectors.storage.db import Database
from connectors.storage.migrations import MIGRATE_COMMAND, SchemaState
from connectors.storage.store_schema import migrate_store, store_states
from pipeline.cli.common import config_from, counted, existing_store_url


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "store",
        description="Migrate the store's schema, or show where it stands (a deploy step: "
        "with storage.migrate_on_start false, nothing else changes the schema).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser(
        "migrate", help="apply every pending schema migration (idempotent)"
    ).set_defaults(handler=handle_migrate)
    actions.add_parser(
        "status", help="each component's schema version; exit 1 while migrations are pending"
    ).set_defaults(handler=handle_status)


def handle_migrate(args: argparse.Namespace) -> int:
    config = config_from(args)
    db = Database(config.storage.url)  # creates a SQLite store, as the service would
    try:
        applied = migrate_store(db)
    finally:
        db.close()
    for component, step in applied:
        print(f"{component} v{step.version}: {step.name}")
    if not applied:
        print("schema up to date")
    return 0


def handle_status(args: argparse.Namespace) -> int:
    config = config_from(args)
    db = Database(existing_store_url(config), access="read")
    try:
        states = store_states(db)
    finally:
        db.close()
    for state in states:
        print(f"{state.component}: {_described(state)}")
    pending = sum(len(s.pending) for s in states if not s.newer)
    if pending:
        print(
            f"newsflow: {counted(pending, 'migration')} pending: run {MIGRATE_COMMAND}",
            file=sys.stderr,
        )
    if any(s.newer for s in states):
        print("newsflow: the database is newer than this newsflow: upgrade it", file=sys.stderr)
    return 0 if all(s.current for s in states) else 1


def _described(state: SchemaState) -> str:
    if state.newer:
        return f"version {state.version}, newer than this newsflow knows ({state.newest})"
    if not state.pending:
        return f"version {state.version}, up to date"
    steps = "; ".join(f"v{m.version} {m.name}" for m in state.pending)
    return f"version {state.version} of {state.newest}, pending: {steps}"
