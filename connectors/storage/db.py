"""One small database handle for SQLite and PostgreSQL.

Repositories (articles, dedup index, feed state, residue statistics, dead
letters) write their SQL once with ``?`` placeholders and ``ON CONFLICT``
upserts, which both engines understand; :class:`Database` adapts placeholders
and translates driver errors into :class:`~pipeline.errors.StorageError`.

Values are always bound, never formatted into SQL. Statements run with
parameters must not contain a literal ``?`` (it is the placeholder); a literal
``%`` is fine on both engines::

    db = Database("sqlite:///data/newsflow.db")     # or postgresql://user@host/db
    with db.transaction():
        db.execute("INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING", ("a", 1))
    rows = db.execute("SELECT v FROM t WHERE k = ?", ("a",))

A command says how it uses the store (:data:`Access`): ``newsflow run`` creates
it, ``newsflow dlq drop`` changes one that exists, ``newsflow export`` only
reads, and works on a copy it cannot write (a backup, a read-only mount, a
file owned by the service's user).
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pipeline.errors import StorageError, StoreReadOnly, StoreUnavailable
from pipeline.models import carriable

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any]
Access = Literal["create", "write", "read"]
"""How a command uses the store.

``create``: the service and its workers; a missing SQLite file is created with
its directories. ``write``: a command that changes a store that must exist
already (a missing file is refused, never created). ``read``: a command that
only reads; it never writes, so it neither migrates the schema (it checks it),
nor switches the journal mode, nor takes the write lock: it can read a store
this user may not write.

Separately, ``migrate=False`` opens a store whose schema this process must not
change (``storage.migrate_on_start: false``: only ``newsflow store migrate``
runs DDL): its schema is checked as a reader's is, and a pending migration is
refused instead of applied.
"""


class Database:
    """A connection plus its dialect; one per thread of work (not shared across threads).

    Outside :meth:`transaction` every statement commits on its own. Inside, the
    statements commit together or not at all; nested calls join the outer one.

    A store that cannot take work now raises :class:`StoreUnavailable`: a full
    disk, a write refused by a file size limit, a database locked past the busy
    timeout (see :func:`sqlite_unavailable`, :func:`postgres_unavailable`), or a
    PostgreSQL connection lost (a server restart, a failover, a network cut).
    After a lost connection the next statement or transaction begun outside a
    transaction connects again, so a long-running process recovers when the
    server is back. (A transaction the failure cut short is gone: its caller
    tries the whole unit again.)
    """

    def __init__(self, url: str, *, access: Access = "create", migrate: bool = True) -> None:
        self.url = url
        self.access = access
        self.migrates = migrate and access != "read"
        """Whether opening a repository may apply its pending schema migrations."""
        self.dialect: Dialect = "sqlite" if url.startswith("sqlite:") else "postgresql"
        self._conn = (
            _connect_sqlite(url, access)
            if self.dialect == "sqlite"
            else _connect_postgres(url, read_only=self.read_only)
        )
        self._lock = threading.RLock()
        self._depth = 0
        # A reader never checkpoints: that writes the database file.
        writes_sqlite = self.dialect == "sqlite" and not self.read_only
        self._checkpointer = WalCheckpointer(url) if writes_sqlite else None
        if self._checkpointer is not None:
            # A database dropped without close() must not leave its thread behind.
            weakref.finalize(self, self._checkpointer.stop_soon)

    def __repr__(self) -> str:
        return f"Database({_redact(self.url)!r})"

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @property
    def read_only(self) -> bool:
        """Opened with ``access="read"``: nothing may be written through this handle."""
        return self.access == "read"

    @property
    def location(self) -> str:
        """Where the data is, as the user names it (:func:`store_location`)."""
        return store_location(self.url)

    def _sql(self, sql: str, params: Params) -> str:
        if self.dialect == "sqlite" or not params:
            return sql
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run one statement; rows are returned for queries."""
        with self._lock, self._translate(sql):
            self._reconnect_if_lost()
            cur = self._conn.cursor()
            if params:
                cur.execute(self._sql(sql, params), tuple(params))
            else:
                cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement once per row of parameters (batched by the driver)."""
        if not rows:
            return
        with self._lock, self._translate(sql):
            self._reconnect_if_lost()
            self._conn.cursor().executemany(self._sql(sql, rows[0]), [tuple(r) for r in rows])

    def insert_rows(self, insert: str, rows: Sequence[Params], *, chunk: int = 500) -> None:
        """``insert`` (``INSERT INTO t (a, b)``) with one ``VALUES`` row per item.

        One statement per ``chunk`` rows: a single round trip where
        :meth:`executemany` on PostgreSQL costs a pipeline sync per call.
        """
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            row = "(" + ",".join("?" * len(part[0])) + ")"
            values = [value for item in part for value in item]
            self.execute(f"{insert} VALUES {','.join([row] * len(part))}", values)

    def script(self, statements: Sequence[str]) -> None:
        """Run schema statements in one transaction."""
        with self.transaction():
            for statement in statements:
                self.execute(statement)

    @contextmanager
    def transaction(self, *, savepoint: bool = True) -> Iterator[None]:
        """Group statements so they commit together or not at all.

        A nested call joins the outer transaction through a savepoint: if the
        inner block raises, only its own statements are undone, and the outer
        block may catch the error and carry on (on PostgreSQL too, where a failed
        statement would otherwise poison the whole transaction). With
        ``savepoint=False`` a nested call joins it as it is, for a block whose
        caller undoes it together with its own statements anyway: a savepoint
        is not free (SQLite journals the pages written under it; an article
        upsert costs a third more).

        SQLite begins with ``BEGIN IMMEDIATE``: the write lock is taken up front,
        so two processes cannot both read a row and then both decide to insert it.
        A read-only handle begins with a plain ``BEGIN``: a reader holding the
        write lock would stall the service's writes for as long as it reads.
        """
        with self._lock:
            if self._depth and not savepoint:
                yield
                return
            depth = self._depth
            if depth == 0:
                self._reconnect_if_lost()
                self._raw(self._begin())
            else:
                self._raw(f"SAVEPOINT nf_{depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth = depth
                self._undo(depth)
                raise
            self._depth = depth
            if depth == 0:
                try:
                    self._raw("COMMIT")
                except StorageError:
                    self._undo(0)
                    raise
            else:
                self._raw(f"RELEASE SAVEPOINT nf_{depth}")

    def _begin(self) -> str:
        return "BEGIN IMMEDIATE" if self.dialect == "sqlite" and not self.read_only else "BEGIN"

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            self._conn.close()

    def _reconnect_if_lost(self) -> None:
        """Outside a transaction, replace a PostgreSQL connection the server dropped."""
        if self._depth or not self._connection_lost():
            return
        with suppress(Exception):
            self._conn.close()
        self._conn = _connect_postgres(self.url, read_only=self.read_only)

    def _connection_lost(self) -> bool:
        """PostgreSQL: the server dropped the connection (psycopg marks it broken)."""
        return self.dialect == "postgresql" and bool(getattr(self._conn, "broken", False))

    def _raw(self, sql: str) -> None:
        with self._translate(sql):
            self._conn.execute(sql)

    def _undo(self, depth: int) -> None:
        """Roll back one level, keeping the first error: a failed rollback must not mask it."""
        sql = "ROLLBACK" if depth == 0 else f"ROLLBACK TO SAVEPOINT nf_{depth}"
        with suppress(Exception):  # the connection is unusable; the caller's error wins
            self._conn.execute(sql)
            if depth:
                self._conn.execute(f"RELEASE SAVEPOINT nf_{depth}")

    @contextmanager
    def _translate(self, sql: str) -> Iterator[None]:
        """Driver errors become :class:`StorageError`; those that say the store cannot take
        work now, whatever the statement (a full disk, a lost server), :class:`StoreUnavailable`."""
        try:
            yield
        except sqlite3.Error as exc:
            unavailable = sqlite_unavailable(exc, self.url)
            if unavailable is not None:
                # A writer's store found read-only at open is refused then (StoreReadOnly);
                # one that turns read-only later (a remount after disk errors) is waited out.
                raise StoreUnavailable(f"{unavailable} (in: {_head(sql)})") from exc
            raise StorageError(f"SQLite error: {exc} (in: {_head(sql)})") from exc
        except StorageError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                message = (str(exc).strip() or type(exc).__name__).splitlines()[0]
                if self._connection_lost():
                    raise StoreUnavailable(
                        f"PostgreSQL connection lost: {message} (in: {_head(sql)})"
                    ) from exc
                unavailable = postgres_unavailable(getattr(exc, "sqlstate", None), message)
                if unavailable is not None:
                    raise StoreUnavailable(f"{unavailable} (in: {_head(sql)})") from exc
                raise StorageError(f"PostgreSQL error: {message} (in: {_head(sql)})") from exc
            raise


SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL = 5, 6, 8, 10, 13


def sqlite_unavailable(error: sqlite3.Error, url: str) -> str | None:
    """What to do about a SQLite error that is the store's state, not the statement's; else None.

    These codes (primary code: the low byte of ``sqlite_errorcode``, so the
    extended ``SQLITE_IOERR_*`` codes count too) say the database cannot take
    writes *now*; an operator's fix makes the same statement succeed, so the
    work waits instead of becoming dead letters:

    - ``SQLITE_FULL``: the disk is full (``ENOSPC``) or ``max_page_count`` reached.
    - ``SQLITE_IOERR``: a write failed; a file size limit (``EFBIG``, as
      ``RLIMIT_FSIZE`` gives) is ``SQLITE_IOERR_WRITE``, and so is a failing disk
      (plain ``SQLITE_IOERR`` when the refused write is a savepoint journal's
      spill to a temporary file).
    - ``SQLITE_BUSY`` / ``SQLITE_LOCKED``: another process held the database
      past the 30 s busy timeout.
    - ``SQLITE_READONLY``: the file or its filesystem became read-only (ext4
      remounts read-only after disk errors). A database that was never writable
      waits too, visibly: the warning and ``/readyz`` say why.

    Every other code (a constraint, a syntax error, ``SQLITE_CORRUPT``) stays
    a :class:`StorageError`: trying the same work again would fail again.
    """
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    path = url.removeprefix("sqlite:///")
    primary = code & 0xFF
    if primary == SQLITE_FULL:
        return f"database or disk is full: free space on the disk holding {path}"
    if primary == SQLITE_IOERR:
        name = getattr(error, "sqlite_errorname", "SQLITE_IOERR")
        return (
            f"disk I/O error ({name}) on {path}: check that its disk is not full, over a"
            " file size limit (ulimit -f) or failing"
        )
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return f"database {path} stayed locked by another process past the busy timeout: {error}"
    if primary == SQLITE_READONLY:
        return (
            f"database {path} is read-only: make the file and its directory writable by this"
            " user, or remount its filesystem read-write"
        )
    return None


POSTGRES_UNAVAILABLE = {
    "53100": "PostgreSQL is out of disk space: free space on the server's data volume",
    "53200": "PostgreSQL is out of memory",
    "53300": "PostgreSQL has no connection slot free: too many clients (max_connections or"
    " the role's CONNECTION LIMIT)",
    "57P01": "PostgreSQL is shutting down (administrator command)",
    "57P02": "PostgreSQL is restarting after a crash",
    "57P03": "PostgreSQL cannot accept connections yet (starting up or in recovery)",
}
"""SQLSTATEs that say the server cannot take work now, with what the user reads."""


def postgres_unavailable(sqlstate: str | None, message: str) -> str | None:
    """What to say about a PostgreSQL error that is the server's state, not the statement's.

    Class 53 (insufficient resources: disk full, out of memory, too many
    connections), 57P01-57P03 (shutting down, crashed, not accepting connections
    yet) and class 08 (connection exceptions) pass once the server recovers;
    anything else (a constraint, bad SQL, a permission) is the statement's.
    """
    if not sqlstate:
        return None
    known = POSTGRES_UNAVAILABLE.get(sqlstate)
    if known is not None:
        return f"{known} (SQLSTATE {sqlstate}): {message}"
    if sqlstate.startswith("53"):
        return f"PostgreSQL has run out of a resource (SQLSTATE {sqlstate}): {message}"
    if sqlstate.startswith("08"):
        return f"PostgreSQL connection failed (SQLSTATE {sqlstate}): {message}"
    return None


def storable_text(value: str | None) -> str | None:
    """Text both engines accept: PostgreSQL refuses NUL, neither stores lone surrogates.

    NUL characters are dropped and lone surrogates become U+FFFD, on both
    engines alike, so the same input gives the same rows on either.
    """
    if value is None:
        return None
    return carriable(value.replace("\x00", ""))


def _head(sql: str) -> str:
    """The first words of a statement: enough to say which one failed, never its values."""
    return " ".join(sql.split()[:4])


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///PATH`` URL names."""
    if not url.startswith("sqlite:///") or url == "sqlite:///":
        # "sqlite://x.db" would otherwise become a file named "sqlite:" (a path, not a URL)
        raise StorageError(f"not a SQLite URL: {url!r} (expected sqlite:///PATH)")
    return Path(url.removeprefix("sqlite:///"))


def store_location(url: str) -> str:
    """Where a store URL's data is, as the user names it: a SQLite file's path, or the
    PostgreSQL URL without its password."""
    if url.startswith("sqlite:"):
        return str(sqlite_path(url))
    return _redact(url)


def _connect_sqlite(url: str, access: Access) -> sqlite3.Connection:
    path = sqlite_path(url)
    if access == "read":
        return _connect_sqlite_read_only(path)
    if access == "write" and not path.exists():
        # mode=rw below would refuse it too; this says so in words
        raise StorageError(f"no SQLite database at {path}")
    if path.exists():
        _check_writable(path)
    try:
        if access == "create":
            path.parent.mkdir(parents=True, exist_ok=True)
        # mode=rw: a file removed since the check above is not created again
        target = path if access == "create" else _uri(path, "mode=rw")
        # isolation_level=None: the driver never opens transactions; we issue BEGIN ourselves.
        conn = sqlite3.connect(
            target,
            timeout=30,
            isolation_level=None,
            check_same_thread=False,
            uri=access != "create",
        )
        conn.execute("PRAGMA busy_timeout=30000")
        _enable_wal(conn)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # see WalCheckpointer
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        if _refused_as_read_only(exc):
            raise _cannot_write(path, str(exc)) from exc
        raise StorageError(f"cannot open SQLite database {path}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot open SQLite database {path}: {exc}") from exc
    return conn


def _uri(path: Path, query: str) -> str:
    """A ``file:`` URI for ``path``: any byte of the name that a URI would misread
    (``?``, ``#``, ``%``, a space, bytes that are not UTF-8) is percent-encoded."""
    return f"file:{quote(os.fsencode(path.absolute()))}?{query}"


def _check_writable(path: Path) -> None:
    """Refuse, before anything is done, a database this user cannot write.

    SQLite opens a read-only file read-only without a word (and ``BEGIN
    IMMEDIATE`` still succeeds), so a writing command would find out at its
    first write: ``newsflow dlq replay`` after fetching every page again.
    """
    reason = _unwritable(path)
    if reason is not None:
        raise StoreReadOnly(f"cannot write to the database at {path}: {reason}")


def _unwritable(path: Path) -> str | None:
    """Why this user cannot write the database at ``path``; None if the OS lets it.

    (``os.access`` answers for the real user, capabilities, ACLs, a read-only
    mount and ``chattr +i`` included.) SQLite also writes the ``-wal`` and
    ``-shm`` files beside it, creating them in its directory when missing.
    """
    if _read_only_file_system(path):
        return "read-only file system"
    if not os.access(path, os.W_OK):
        return "read-only for this user"
    for companion in (_companion(path, "-wal"), _companion(path, "-shm")):
        if companion.exists() and not os.access(companion, os.W_OK):
            return f"{companion.name} beside it is read-only for this user"
        if not companion.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
            return f"read-only directory for this user (SQLite creates {companion.name} there)"
    return None


def _cannot_write(path: Path, error: str) -> StoreReadOnly:
    reason = _unwritable(path) or f"read-only ({error})"
    return StoreReadOnly(f"cannot write to the database at {path}: {reason}")


def _refused_as_read_only(exc: sqlite3.Error) -> bool:
    """SQLITE_READONLY and its extended codes (_DIRECTORY, _CANTINIT, ...)."""
    return str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_READONLY")


def _companion(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _connect_sqlite_read_only(path: Path) -> sqlite3.Connection:
    """Open ``path`` for reading only: nothing is written, not even the journal mode.

    A file this user may write is opened as the service opens it, with every
    write refused (``query_only``): closing it, the last connection still
    checkpoints and removes ``-wal`` and ``-shm``, where a ``mode=ro`` one would
    leave them behind, owned by this user (in a shared directory, the service's
    user might not be able to write that ``-shm``).

    Any other file is opened ``mode=ro``. A reader of a WAL database needs the
    ``-shm`` file (and ``-wal``) beside it; SQLite opens them read-only when they
    exist, but when they do not it must create them, and in a directory this
    user cannot write it fails. Then, and only when nothing can change the file
    while it is read (see :func:`_frozen`), it is opened ``immutable=1``: no
    locks, no WAL. Anywhere
    else immutable would be wrong: it ignores commits still in the WAL, and a
    writer changing the file under a reader that takes no locks can hand it
    torn pages.
    """
    if path.exists() and _unwritable(path) is None:
        try:
            return _open_read_only(path, "mode=rw", query_only=True)
        except sqlite3.Error as exc:
            raise _cannot_read(path, exc) from exc
    try:
        return _open_read_only(path, "mode=ro")
    except sqlite3.Error as exc:
        if not (_cannot_create_beside(exc) and _frozen(path)):
            raise _cannot_read(path, exc) from exc
    try:
        return _open_read_only(path, "mode=ro&immutable=1")
    except sqlite3.Error as exc:
        raise _cannot_read(path, exc) from exc


def _open_read_only(path: Path, query: str, *, query_only: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        _uri(path, query), uri=True, timeout=30, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        if query_only:
            conn.execute("PRAGMA query_only=1")
        # SQLite opens lazily: read the schema now, so an unusable file fails here.
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
    except BaseException:
        conn.close()
        raise
    return conn


def _cannot_create_beside(exc: sqlite3.Error) -> bool:
    """The failure of a WAL reader that may not create ``-wal``/``-shm``: READONLY_DIRECTORY
    in a directory it cannot write, CANTOPEN on a read-only file system."""
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_READONLY_DIRECTORY", "SQLITE_CANTOPEN")


def _frozen(path: Path) -> bool:
    """Nothing can change the database while it is read without locks.

    No ``-wal`` file: no connection has it open (the last one to close
    checkpoints and removes it; one that crashed leaves it, with commits that
    only it holds). And no one may write it: the file system is read-only, or
    neither the file nor its directory has any write permission (a backup
    copied read-only; its owner would have to chmod it first). A file its
    owner may write (the service's, say) is not frozen: the service may start
    and checkpoint into it during the read.
    """
    if path.exists() and not _companion(path, "-wal").exists():
        if _read_only_file_system(path):
            return True
        return not any(p.stat().st_mode & 0o222 for p in (path, path.parent))
    return False


def _cannot_read(path: Path, exc: sqlite3.Error) -> StorageError:
    if _cannot_create_beside(exc) and path.exists() and os.access(path, os.R_OK):
        return StorageError(
            f"cannot read the database at {path}: SQLite must create"
            f" {_companion(path, '-shm').name} beside it, in a directory this user cannot"
            " write, and the database may still change (its owner may write it):"
            " run as the user that owns it, or read a copy"
        )
    return StorageError(f"cannot open SQLite database {path}: {exc}")


WAL_TRUNCATE_BYTES = 64 * 1024 * 1024
"""A write-ahead log larger than this is emptied by a TRUNCATE checkpoint."""


class WalCheckpointer:
    """Checkpoints the SQLite write-ahead log from a thread of its own, off the commit path.

    SQLite's automatic checkpoint runs inside whichever commit crosses the WAL
    size limit and fsyncs every page dirtied since the last one: one article
    in a thousand paid for all the others (p95 of a dedup write 19 ms against
    a 1.5 ms median). Here commits never checkpoint (``wal_autocheckpoint=0``
    on the writing connection) and a daemon thread runs a PASSIVE checkpoint,
    which waits for no one, every ``interval`` seconds. Should the thread die
    with the process, the next opener checkpoints as usual.

    A PASSIVE checkpoint copies frames back but never rewinds the log, and
    with several processes reading and writing all the time the writers
    never find it free to rewind either: the WAL grew without end (740 MB
    after 2,000 soak articles, and every process's RSS with its mapped index).
    So once it exceeds :data:`WAL_TRUNCATE_BYTES` a TRUNCATE checkpoint
    follows: it waits (up to this connection's 1 s busy timeout, else it is
    tried again next time) for readers to move on, then empties the file.
    """

    def __init__(self, url: str, interval: float = 1.0) -> None:
        self.path = Path(url.removeprefix("sqlite:///"))
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=1, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    if self._wal_bytes() > WAL_TRUNCATE_BYTES:
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()

    def _wal_bytes(self) -> int:
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_size
        except OSError:
            return 0

    def stop(self) -> None:
        self.stop_soon()
        self._thread.join(timeout=5)

    def stop_soon(self) -> None:
        """Ask the thread to end after its current checkpoint, without waiting for it."""
        self._stop.set()


def _enable_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch a new database to WAL, waiting out other processes doing the same.

    Changing the journal mode needs an exclusive lock and SQLite answers
    "database is locked" at once instead of calling the busy handler, so
    several processes opening a fresh file together must retry.
    """
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + random.random() * 0.1)


def _connect_postgres(url: str, *, read_only: bool = False) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a declared dependency
        raise StorageError("PostgreSQL storage needs psycopg: pip install psycopg[binary]") from exc
    try:
        # autocommit: like SQLite above, transactions are only the ones we BEGIN.
        conn = psycopg.connect(
            url.replace("postgres://", "postgresql://", 1), connect_timeout=10, autocommit=True
        )
        if read_only:  # the server refuses any write, as SQLite's mode=ro does
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())  # libpq adds "\n\tIs the server running...?"
        raise StoreUnavailable(f"cannot connect to PostgreSQL at {_redact(url)}: {reason}") from exc
    return conn


def _redact(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
