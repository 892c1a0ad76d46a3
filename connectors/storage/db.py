"""One small database handle for SQLite and PostgreSQL.

Repositories (articles, dedup index, feed state, residue statistics, dead
letters) write their SQL once with ``?`` placeholders and ``ON CONFLICT``
upserts, which both engines understand; :class:`Database` adapts placeholders
and translates driver errors into :class:`~pipeline.errors.StorageError`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import StorageError

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any]


class Database:
    """A connection plus its dialect; one per thread of work (not shared across threads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect: Dialect = "sqlite" if url.startswith("sqlite:") else "postgresql"
        self._conn = _connect_sqlite(url) if self.dialect == "sqlite" else _connect_postgres(url)
        self._lock = threading.RLock()
        self._depth = 0

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run one statement; rows are returned for queries. Autocommits outside a transaction."""
        with self._lock, self._translate(sql):
            cur = self._conn.cursor()
            cur.execute(self._sql(sql), tuple(params))
            rows = list(cur.fetchall()) if cur.description else []
            if self._depth == 0:
                self._conn.commit()
            return rows

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self._lock, self._translate(sql):
            self._conn.cursor().executemany(self._sql(sql), [tuple(r) for r in rows])
            if self._depth == 0:
                self._conn.commit()

    def script(self, statements: Sequence[str]) -> None:
        """Run schema statements in one transaction."""
        with self.transaction():
            for statement in statements:
                self.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group statements; nested calls join the outer transaction."""
        with self._lock:
            if self._depth == 0 and self.dialect == "sqlite":
                self._raw_begin()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.rollback()
                raise
            self._depth -= 1
            if self._depth == 0:
                with self._translate("COMMIT"):
                    self._conn.commit()

    def _raw_begin(self) -> None:
        # IMMEDIATE takes the write lock up front, so two processes cannot both read
        # the dedup index and then both decide to insert (no lost update).
        with self._translate("BEGIN"):
            self._conn.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _translate(self, sql: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite error: {exc} (in: {sql.split()[0:3]})") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise StorageError(f"PostgreSQL error: {exc}".strip()) from exc
            raise


def _connect_sqlite(url: str) -> sqlite3.Connection:
    path = Path(url.removeprefix("sqlite:///"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"cannot open SQLite database {path}: {exc}") from exc
    # isolation_level=None: we issue BEGIN ourselves; commit() outside one is a no-op.
    return conn


def _connect_postgres(url: str) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a declared dependency
        raise StorageError("PostgreSQL storage needs psycopg: pip install 'psycopg[binary]'") from exc
    try:
        return psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=10)
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}".strip()) from exc


def _redact(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
