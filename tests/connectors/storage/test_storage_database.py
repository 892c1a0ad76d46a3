"""The Database handle: same SQL, same transactions and same errors on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.storage import Database
from connectors.storage.db import storable_text
from pipeline.errors import StorageError, StoreUnavailable


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    database.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    yield database
    database.close()


def rows(db: Database) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in db.execute("SELECT k, v FROM kv ORDER BY k")]


def test_upsert_with_on_conflict_and_bound_values(db: Database) -> None:
    sql = "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    db.execute(sql, ("a", "100% sure? yes"))
    db.execute(sql, ("a", "'); DROP TABLE kv; --"))
    db.executemany(sql, [("b", "%s"), ("c", "?")])
    assert rows(db) == [("a", "'); DROP TABLE kv; --"), ("b", "%s"), ("c", "?")]
    # a literal % in a statement with parameters is not a placeholder on PostgreSQL
    assert db.execute("SELECT k FROM kv WHERE v LIKE '100%' OR k = ?", ("c",)) == [("c",)]


def test_a_transaction_commits_all_or_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("lost", "1"))
        raise RuntimeError("boom")
    assert rows(db) == []
    with db.transaction():
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("kept", "1"))
    assert rows(db) == [("kept", "1")]


DUPLICATE = "UNIQUE constraint failed|duplicate key value"
"""The error of the block's last statement (SQLite, PostgreSQL): not one from before it ran."""


def test_a_failed_inner_block_is_undone_alone(db: Database) -> None:
    with db.transaction():
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("outer", "1"))
        with pytest.raises(StorageError, match=DUPLICATE), db.transaction():
            db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("inner", "1"))
            db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("outer", "duplicate key"))
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("after", "1"))
    assert rows(db) == [("after", "1"), ("outer", "1")]


def test_a_block_joined_without_a_savepoint_is_undone_with_its_caller(db: Database) -> None:
    with db.transaction():
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("outer", "1"))
        with pytest.raises(StorageError, match=DUPLICATE), db.transaction():  # its savepoint
            db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("caller", "1"))
            with db.transaction(savepoint=False):
                db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("joined", "1"))
                db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("outer", "duplicate key"))
        with db.transaction(savepoint=False):
            db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("joined later", "1"))
    assert rows(db) == [("joined later", "1"), ("outer", "1")]
    with pytest.raises(RuntimeError), db.transaction(savepoint=False):  # alone: a transaction
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("lost", "1"))
        raise RuntimeError("boom")
    assert rows(db) == [("joined later", "1"), ("outer", "1")]


def test_driver_errors_are_storage_errors_without_the_values(db: Database) -> None:
    db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("a", "1"))
    with pytest.raises(StorageError) as caught:
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("a", "secret value"))
    assert "secret value" not in str(caught.value)
    assert "INSERT INTO kv" in str(caught.value)
    # the connection is still usable after a failed statement
    assert rows(db) == [("a", "1")]


def test_text_both_engines_accept(db: Database) -> None:
    hostile = storable_text("nul\x00 and lone \ud800 surrogate")
    assert hostile == "nul and lone \ufffd surrogate"
    db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("t", hostile))
    assert rows(db) == [("t", hostile)]


@pytest.mark.postgres
def test_an_unreachable_server_is_one_clear_error_without_the_password() -> None:
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL") as caught:
        Database("postgresql://user:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in str(caught.value)


def _drop_connections_to(url: str) -> None:
    """What a server restart or a failover does to every session of one database."""
    admin = Database(url)
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    admin.close()


@pytest.mark.postgres
def test_a_lost_connection_is_store_unavailable_and_the_next_statement_reconnects(
    postgres_url: str,
) -> None:
    """A long-running worker must outlive a PostgreSQL restart: the statement that meets
    the dropped connection says the store is unavailable (not the message's fault), and
    the next one connects again."""
    db = Database(postgres_url)
    db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    _drop_connections_to(postgres_url)
    with pytest.raises(StoreUnavailable, match="PostgreSQL connection lost"):
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("a", "1"))
    db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("a", "1"))
    assert rows(db) == [("a", "1")]
    db.close()


@pytest.mark.postgres
def test_a_transaction_cut_by_a_lost_connection_is_undone_and_the_next_one_reconnects(
    postgres_url: str,
) -> None:
    db = Database(postgres_url)
    db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    with pytest.raises(StoreUnavailable), db.transaction():
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("a", "1"))
        _drop_connections_to(postgres_url)
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("b", "2"))
    assert not db.in_transaction
    with db.transaction():
        db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("c", "3"))
    assert rows(db) == [("c", "3")]
    db.close()


@pytest.mark.postgres
def test_a_server_that_stays_away_is_store_unavailable_at_each_try(postgres_url: str) -> None:
    db = Database(postgres_url)
    db.url = "postgresql://nobody@127.0.0.1:1/gone"  # where it reconnects: nothing listens
    _drop_connections_to(postgres_url)
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            db.execute("SELECT 1")
    db.close()


def test_an_unopenable_sqlite_path_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot open SQLite database"):
        Database(f"sqlite:///{blocker}/sub/newsflow.db")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite://news.db", "sqlite:///"])
def test_a_sqlite_url_without_a_path_is_refused_not_a_stray_file(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageError, match="not a SQLite URL"):
        Database(url)
    assert list(tmp_path.iterdir()) == []


def test_insert_rows_writes_every_row_across_chunks(db: Database) -> None:
    items = [(f"k{n:02d}", f"'{n}'; --") for n in range(7)]
    db.insert_rows("INSERT INTO kv (k, v)", items, chunk=3)
    db.insert_rows("INSERT INTO kv (k, v)", [])
    assert rows(db) == items
