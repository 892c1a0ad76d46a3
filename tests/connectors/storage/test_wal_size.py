"""The SQLite write-ahead log stays bounded while several processes keep writing.

With commits never checkpointing (``wal_autocheckpoint=0``) and only a
passive checkpoint in the background, a log that several processes use all
the time was never rewound: it grew by hundreds of KB per article (740 MB
after 2,000 soak articles). The checkpointer empties it (TRUNCATE) once it
passes :data:`~connectors.storage.db.WAL_TRUNCATE_BYTES`.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from connectors.storage import db as db_module
from connectors.storage.db import Database

LIMIT = 256 * 1024


def wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def write_for(path: Path, seconds: float) -> None:
    """A busy writer in a process of its own (as an extraction process is)."""
    db_module.WAL_TRUNCATE_BYTES = LIMIT
    db = Database(f"sqlite:///{path}")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with db.transaction():
            for _ in range(10):
                db.execute("INSERT INTO t (v) VALUES (?)", ("x" * 2000,))
            db.execute("SELECT COUNT(*) FROM t")
        time.sleep(0.005)
    db.close()


def test_the_wal_is_emptied_once_past_the_limit_while_processes_keep_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "WAL_TRUNCATE_BYTES", LIMIT)
    path = tmp_path / "busy.db"
    db = Database(f"sqlite:///{path}")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    spawn = multiprocessing.get_context("spawn")
    writers = [spawn.Process(target=write_for, args=(path, 3.0)) for _ in range(3)]
    for writer in writers:
        writer.start()
    largest = 0
    while any(w.is_alive() for w in writers):
        largest = max(largest, wal_bytes(path))
        time.sleep(0.05)
    assert all(w.exitcode == 0 for w in writers)
    deadline = time.monotonic() + 10
    while wal_bytes(path) > LIMIT and time.monotonic() < deadline:
        time.sleep(0.1)
    final = wal_bytes(path)  # measured before closing: the last close removes the file
    rows = db.execute("SELECT COUNT(*) FROM t")[0][0]
    db.close()
    assert rows > 0
    assert largest > LIMIT  # the writers did fill it past the limit...
    assert final <= LIMIT  # ...and it was emptied, not left to grow


def test_a_database_dropped_without_close_stops_its_checkpoint_thread(tmp_path: Path) -> None:
    """Every database left open used to keep its checkpoint thread (and a connection)
    until the process ended: 23 of them after the storage, stage and dedup tests."""
    before = _checkpoint_threads()
    db = Database(f"sqlite:///{tmp_path / 'dropped.db'}")
    assert _checkpoint_threads() == before + 1
    del db
    deadline = time.monotonic() + 5
    while _checkpoint_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _checkpoint_threads() == before


def _checkpoint_threads() -> int:
    return sum(t.name == "wal-checkpoint" and t.is_alive() for t in threading.enumerate())
