"""How a command opens the store: ``create`` it, ``write`` one that exists, or ``read`` only.

A reader never writes: it checks the schema instead of migrating it, never
takes the write lock, and the server (or SQLite's ``mode=ro``) refuses its
writes. Neither a reader nor a writer creates a missing SQLite file. (Files
this user may not write: tests/pipeline/cli/test_read_only_store.py, which
runs the CLI without root's permission override.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors.storage import Database, open_store
from connectors.storage.article_schema import MIGRATIONS
from connectors.storage.residue_stats import ResidueStatsRepository
from pipeline.errors import SchemaMismatch, StorageError, StoreReadOnly

NEWEST = max(m.version for m in MIGRATIONS)


def make_store(url: str) -> str:
    """A store as ``newsflow run`` leaves it; returns where it is, as messages name it."""
    with open_store(url) as store:
        ResidueStatsRepository(store.db)
        return store.db.location


def ledger(url: str) -> list[tuple[str, int]]:
    db = Database(url)
    try:
        rows = db.execute("SELECT component, version FROM schema_migrations ORDER BY 1, 2")
        return [(str(c), int(v)) for c, v in rows]
    finally:
        db.close()


def change_ledger(url: str, sql: str, params: tuple[object, ...] = ()) -> None:
    db = Database(url)
    try:
        db.execute(sql, params)
    finally:
        db.close()


def test_a_reader_of_an_older_schema_is_told_both_versions_and_migrates_nothing(
    store_url: str,
) -> None:
    where = make_store(store_url)
    change_ledger(
        store_url,
        "DELETE FROM schema_migrations WHERE component = 'articles' AND version = ?",
        (NEWEST,),
    )
    before = ledger(store_url)

    with pytest.raises(SchemaMismatch) as caught:
        open_store(store_url, access="read")

    assert str(caught.value) == (
        f"the database at {where} has articles schema version {NEWEST - 1}, this newsflow"
        f" needs version {NEWEST}: `newsflow store migrate` migrates it"
    )
    assert ledger(store_url) == before


def test_a_reader_of_a_newer_schema_is_told_to_upgrade(store_url: str) -> None:
    where = make_store(store_url)
    change_ledger(
        store_url,
        "INSERT INTO schema_migrations (component, version, name, applied_at)"
        " VALUES ('articles', ?, 'from the future', '2030-01-01')",
        (NEWEST + 1,),
    )

    with pytest.raises(SchemaMismatch) as caught:
        open_store(store_url, access="read")

    assert str(caught.value) == (
        f"the database at {where} has articles schema version {NEWEST + 1}, newer than this"
        f" newsflow knows (version {NEWEST}): upgrade newsflow"
    )


def test_a_reader_of_a_database_without_tables_creates_none(store_url: str) -> None:
    Database(store_url).close()  # the file (SQLite) or the database (PostgreSQL), empty

    with pytest.raises(SchemaMismatch) as caught:
        open_store(store_url, access="read")

    db = Database(store_url, access="read")
    assert str(caught.value) == (
        f"the database at {db.location} has no articles tables;"
        " `newsflow store migrate` creates them"
    )
    with pytest.raises(SchemaMismatch) as residue:
        ResidueStatsRepository(db)
    assert str(residue.value) == (
        f"the database at {db.location} has no residue statistics tables;"
        " `newsflow store migrate` creates them"
    )
    tables = (
        "SELECT name FROM sqlite_master"
        if db.dialect == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    assert db.execute(tables) == []
    db.close()


def test_a_reader_reads_and_cannot_write(store_url: str) -> None:
    make_store(store_url)
    with open_store(store_url, access="read") as store:
        assert store.articles.count() == 0
        assert store.db.read_only
        with pytest.raises(StorageError) as caught:
            store.db.execute("DELETE FROM articles")
    assert not isinstance(caught.value, StoreReadOnly)  # a bug of the caller, not the user's


def test_a_reader_in_a_transaction_does_not_hold_the_write_lock(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE would hold it for as long as an export reads: the service's
    writes would wait (here: fail after 0.2 s) until it ends."""
    make_store(sqlite_url)
    reader = Database(sqlite_url, access="read")
    writer = Database(sqlite_url)
    writer.execute("PRAGMA busy_timeout=200")
    try:
        with reader.transaction():
            reader.execute("SELECT COUNT(*) FROM articles")
            writer.execute("DELETE FROM dead_letters")
    finally:
        reader.close()
        writer.close()


@pytest.mark.parametrize(
    ("access", "expect"),
    [
        ("read", "cannot open SQLite database {path}: unable to open database file"),
        ("write", "no SQLite database at {path}"),
    ],
)
def test_a_missing_file_is_not_created_by_a_reader_or_a_writer(
    tmp_path: Path, access: str, expect: str
) -> None:
    path = tmp_path / "missing" / "news.db"

    with pytest.raises(StorageError) as caught:
        Database(f"sqlite:///{path}", access="read" if access == "read" else "write")

    assert str(caught.value) == expect.format(path=path)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_refuses_a_file_removed_after_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mode=rw: the file gone between the check and the open is not created again."""
    path = tmp_path / "news.db"
    make_store(f"sqlite:///{path}")
    monkeypatch.setattr("connectors.storage.db._check_writable", lambda p: p.unlink())

    with pytest.raises(StorageError, match="unable to open database file"):
        Database(f"sqlite:///{path}", access="write")
    assert not path.exists()


@pytest.mark.parametrize("name", ["a?b.db", "c#d.db", "e%20f g.db"])
def test_a_file_name_with_uri_characters_opens_read_only_and_for_writing(
    tmp_path: Path, name: str
) -> None:
    """The read and write modes open a ``file:`` URI: the name is percent-encoded."""
    url = f"sqlite:///{tmp_path / name}"
    make_store(url)
    for access in ("read", "write"):
        with open_store(url, access="read" if access == "read" else "write") as store:
            assert store.articles.count() == 0
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        name
    ]


def test_sqlite_itself_refuses_the_writes_of_a_reader(sqlite_url: str) -> None:
    """query_only on a file this user may write (mode=ro on others): not only our code."""
    make_store(sqlite_url)
    db = Database(sqlite_url, access="read")
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db._conn.execute("CREATE TABLE t (x)")
    finally:
        db.close()


def test_a_reader_leaves_no_wal_or_shm_behind(tmp_path: Path) -> None:
    """A mode=ro connection cannot remove the -wal and -shm it makes; on a file this
    user may write, the reader opens it read-write (writes refused), and closing it
    removes them, as the service's last connection does."""
    url = f"sqlite:///{tmp_path / 'news.db'}"
    make_store(url)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.db"]

    with open_store(url, access="read") as store:
        assert store.articles.count() == 0

    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.db"]
