"""Waiting until one of a PostgreSQL test's own connections waits for another's lock.

The test server is shared: other tests, other runs and other checkouts hold and
await locks in databases of their own. "Some lock in ``pg_locks`` is not
granted" is then satisfied by any of them, ends the wait before the test's
statement ever blocked, and the test goes on to check a statement that did not
wait. The wait here names both backends and the test's database instead.
"""

from __future__ import annotations

import time

from connectors.storage.db import Database


def backend_pid(db: Database) -> int:
    """The server process serving ``db``'s connection (opened at construction)."""
    return int(db.execute("SELECT pg_backend_pid()")[0][0])


def wait_until_blocked(observer: Database, waiter: int, holder: int, timeout: float = 10.0) -> str:
    """Wait until backend ``waiter`` of ``observer``'s database waits for a lock that
    backend ``holder`` holds; return the statement that waits, for the test to check
    that it is the one it means."""
    deadline = time.monotonic() + timeout
    while True:
        rows = observer.execute(
            "SELECT query FROM pg_stat_activity"
            " WHERE pid = ? AND datname = current_database() AND ? = ANY(pg_blocking_pids(pid))",
            (waiter, holder),
        )
        if rows:
            return str(rows[0][0])
        assert time.monotonic() < deadline, f"backend {waiter} never waited for backend {holder}"
        time.sleep(0.02)
