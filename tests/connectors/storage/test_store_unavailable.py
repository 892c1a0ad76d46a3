"""A store that cannot take writes now (a full disk, a file size limit, a server out of
resources) is :class:`StoreUnavailable`, not a plain :class:`StorageError`: the work in
hand waits for it instead of becoming dead letters. Every error here is a real one,
provoked on a real database."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from storage_samples import make_article

from connectors.storage import Database, open_store
from connectors.storage.store import Store
from pipeline.errors import StorageError, StoreUnavailable

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    with open_store(sqlite_url) as opened:
        yield opened


def fill_up(store: Store) -> None:
    """What a full disk is to SQLite: the database may not grow by one more page."""
    pages = int(store.db.execute("PRAGMA page_count")[0][0])
    store.db.execute(f"PRAGMA max_page_count = {pages}")


def test_an_article_upsert_on_a_full_database_is_store_unavailable_saying_what_to_free(
    store: Store, sqlite_url: str
) -> None:
    store.articles.upsert(make_article("before", "Fits. " * 50))
    fill_up(store)
    article = make_article("after", "Does not fit. " * 2000)

    with pytest.raises(StoreUnavailable) as caught:
        store.articles.upsert(article)

    path = sqlite_url.removeprefix("sqlite:///")
    assert f"database or disk is full: free space on the disk holding {path}" in str(caught.value)
    assert caught.value.reason == "store_unavailable"
    store.db.execute("PRAGMA max_page_count = 1073741823")  # space freed: the same write works
    store.articles.upsert(article)
    assert store.articles.count(duplicates=False) == 2


def test_a_dead_letter_on_a_full_database_is_store_unavailable_too(store: Store) -> None:
    fill_up(store)

    with pytest.raises(StoreUnavailable, match="database or disk is full"):
        store.dead_letters.add(
            stage="store", topic="news.enriched", error_class="StorageError",
            reason="storage", error="x", payload="p" * 100_000, letter_key="k",
        )  # fmt: skip
    assert store.dead_letters.list() == []


def test_an_error_of_the_statement_itself_stays_a_storage_error(store: Store) -> None:
    with pytest.raises(StorageError) as caught:
        store.db.execute("INSERT INTO store_probe (id, probed_at) VALUES (1, 'again')")
    assert not isinstance(caught.value, StoreUnavailable)


def test_the_write_probe_fails_on_a_read_only_database_where_select_1_answers(
    store: Store,
) -> None:
    """The probe the service waits with must prove a write: reads answer while writes fail."""
    store.db.execute("PRAGMA query_only = ON")  # SQLITE_READONLY, as a read-only remount gives
    assert store.db.execute("SELECT 1") == [(1,)]
    with pytest.raises(StoreUnavailable, match="is read-only"):
        store.probe.prove()
    store.db.execute("PRAGMA query_only = OFF")
    store.probe.prove()


def test_a_lock_held_past_the_busy_timeout_is_store_unavailable(
    store: Store, sqlite_url: str
) -> None:
    """Another process holding the write lock longer than the busy timeout: the work waits."""
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        store.db.execute("PRAGMA busy_timeout = 100")  # 30 s in production
        with pytest.raises(StoreUnavailable, match="stayed locked by another process"):
            store.probe.prove()
        other.execute("ROLLBACK")
        store.probe.prove()
    finally:
        other.close()


def test_a_file_size_limit_is_store_unavailable_and_reads_still_answer(sqlite_url: str) -> None:
    """``RLIMIT_FSIZE`` makes writes fail with EFBIG, which SQLite reports as
    SQLITE_IOERR_WRITE; run in a child process, whose limit cannot touch pytest's files."""
    with open_store(sqlite_url):
        pass  # created and migrated before the limit
    child = textwrap.dedent(
        f"""
        import resource
        from connectors.storage import open_store
        from pipeline.errors import StoreUnavailable
        store = open_store({sqlite_url!r})
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        print("read", store.db.execute("SELECT 1"))
        try:
            store.probe.prove()
        except StoreUnavailable as exc:
            print("unavailable", exc.__cause__.sqlite_errorname, exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "read [(1,)]" in done.stdout
    assert "unavailable SQLITE_IOERR_WRITE disk I/O error" in done.stdout
    assert "over a file size limit (ulimit -f)" in done.stdout


@pytest.fixture
def limited_role(postgres_url: str) -> Iterator[str]:
    """A login role allowed one connection (superusers ignore CONNECTION LIMIT)."""
    role = f"nf_limited_{uuid.uuid4().hex[:8]}"
    admin = Database(postgres_url)
    admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    try:
        parts = urlsplit(postgres_url)
        yield urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ?", (role,)
        )
        admin.execute(f"DROP ROLE {role}")
        admin.close()


@pytest.mark.postgres
def test_postgres_too_many_connections_is_store_unavailable(limited_role: str) -> None:
    first = Database(limited_role)
    try:
        with pytest.raises(StoreUnavailable, match="too many connections"):
            Database(limited_role)
    finally:
        first.close()
    Database(limited_role).close()  # a slot free again: it connects


@pytest.mark.postgres
def test_postgres_out_of_a_resource_class_53_is_store_unavailable(postgres_url: str) -> None:
    """SQLSTATE 53400 (temp_file_limit exceeded) is class 53, as disk_full (53100) is:
    the server, not the statement, is short of something."""
    db = Database(postgres_url)
    try:
        db.execute("SET work_mem = '64kB'")
        db.execute("SET temp_file_limit = '64kB'")
        with pytest.raises(StoreUnavailable, match=r"SQLSTATE 53400"):
            db.execute("SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC")
        db.execute("RESET temp_file_limit")
        assert db.execute("SELECT 1") == [(1,)]
    finally:
        db.close()
