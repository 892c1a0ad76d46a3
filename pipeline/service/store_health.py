"""Readiness of the store: a write the probe commits, and the articles the store stage writes.

Two signals, because neither is enough alone:

- :class:`StoreProbe` commits one tiny row
  (:class:`~connectors.storage.write_probe.WriteProbe`): a ``SELECT 1``
  answers on a full disk and from a read-only file. It runs on a thread of
  the probe's own (a :class:`~pipeline.service.lookout.Lookout`), with a
  connection opened and used only there, so a store that hangs (a PostgreSQL
  row or SQLite file locked by another connection, a server stalled or cut
  off) makes no request wait more than
  :data:`~pipeline.service.lookout.ANSWER_SECONDS`: the last answer stands
  for :data:`~pipeline.service.lookout.STALE_SECONDS`, then the store is
  reported not answering, by its location and for how long.
- :class:`ArticleWrites`: what the store stage's own writes did. The probe's
  one-row UPDATE can commit while every article fails: a disk with room for a
  page but not an article, a trigger, permission or constraint on the
  ``articles`` table only. Under ``newsflow run`` on Kafka the store stage
  runs in a worker process: it tells through :class:`WorkerArticleWrites`,
  memory shared with the service (see :meth:`ArticleWrites.in_workers`).
"""

from __future__ import annotations

import ctypes
import threading
from contextlib import suppress
from multiprocessing.context import BaseContext

from connectors.storage.db import Database, store_location
from connectors.storage.write_probe import WriteProbe
from pipeline.errors import StorageError
from pipeline.service.health import Answer
from pipeline.service.lookout import Lookout


class ArticleWrites:
    """Whether the store stage's article writes commit, as the runtime last told.

    The rule: from an article write that failed with a
    :class:`~pipeline.errors.StorageError` (a
    :class:`~pipeline.errors.StoreUnavailable` included, and a transaction
    storing articles whose commit failed) until the next one that commits, the
    store is not ready, with that write's error. Nothing else clears it: the
    write probe commits in exactly the cases this is for. One failure is
    enough and one success clears it, so a single article the store refuses
    holds readiness at 503 only until the next one is stored. Thread-safe: the
    runtime tells, the HTTP threads ask.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing: str | None = None
        self._workers: WorkerArticleWrites | None = None

    def record(self, error: str | None) -> None:
        """Articles were committed (``error`` None), or their write failed with ``error``."""
        with self._lock:
            self._failing = error

    def in_workers(self, context: BaseContext) -> WorkerArticleWrites:
        """Where worker processes started from ``context`` tell their writes, for this
        process's check: ``newsflow run`` on Kafka, whose store worker is a child."""
        self._workers = WorkerArticleWrites(context)
        return self._workers

    def check(self) -> str | None:
        with self._lock:
            failing = self._failing
        if failing is None and self._workers is not None:
            failing = self._workers.failing()
        return None if failing is None else f"article writes fail: {failing}"


class WorkerArticleWrites:
    """A worker process's :meth:`ArticleWrites.record`, read by its service's check.

    The error of the failing write, empty once one commits, in memory shared
    with the worker processes (as :class:`pipeline.logs.ChildRecords` shares
    the log level): given to a worker as it starts, it outlives a worker the
    supervisor restarts, so a failure holds until a write commits, as the rule
    says. An error of more than :attr:`ERROR_BYTES` (UTF-8) is cut: one that did
    not fit would end the worker that tells it.

    The memory has no lock (``RawArray``): a worker killed while it held one (``kill -9``, the
    OOM killer) would leave it held for good, and ``/readyz`` (on its request
    thread) and every store worker started after waited on it. Unlocked, a read
    during a write may see a mix of two errors for that one answer; "committed"
    is one byte (the first, zeroed), so it is never half seen.
    """

    ERROR_BYTES = 1024

    def __init__(self, context: BaseContext) -> None:
        self._error = context.RawArray(ctypes.c_char, self.ERROR_BYTES)

    def record(self, error: str | None) -> None:
        """As :meth:`ArticleWrites.record`; ``error`` is never empty (a failure names at
        least its error's class), so empty can mean committed."""
        self._error.value = b"" if error is None else error.encode()[: self.ERROR_BYTES]

    def failing(self) -> str | None:
        return self._error.value.decode(errors="ignore") or None


class StoreProbe:
    """The ``store`` readiness check: the probe's write, then the store stage's writes."""

    KEY = "write"

    def __init__(self, url: str, article_writes: ArticleWrites, *, migrate: bool = True) -> None:
        self.url = url
        self.migrate = migrate
        self.location = store_location(url)
        self.article_writes = article_writes
        self._lookout = Lookout("store-probe", cache_seconds=0.0)
        self._probe: WriteProbe | None = None
        """Opened, used and closed on the lookout's thread only."""

    def ask(self) -> Answer:
        """Readiness (a :data:`~pipeline.service.health.SlowCheck`): the probe's write begun,
        and what answers ``None`` when it commits and articles are not failing.

        Every request looks again (joining a look in hand): a commit of one row costs
        less than a stale answer would, once the store has recovered.
        """
        asked = self._lookout.begin(self.KEY, self._prove)

        def answer(until: float | None) -> str | None:
            write = self._write_problem(*asked.answer(until))
            problems = [p for p in (write, self.article_writes.check()) if p is not None]
            return "; ".join(problems) or None

        return answer

    def last_write_problem(self) -> str | None:
        """What the probe's last look found of its write (None: it committed, or no look
        yet), without writing again: for the status page, which must answer whatever the
        store does."""
        return self._write_problem(*self._lookout.last(self.KEY))

    def _write_problem(self, problem: str | None, silent_for: float | None) -> str | None:
        if silent_for is None:
            return problem
        return f"store {self.location} is not answering: no write committed for {silent_for:.1f} s"

    def _prove(self) -> str | None:
        """On the lookout's thread: one committed write; a failed one drops the connection,
        so the next look connects anew."""
        try:
            if self._probe is None:
                self._probe = _open_probe(self.url, migrate=self.migrate)
            self._probe.prove()
        except StorageError as exc:
            self._drop()
            return f"{type(exc).__name__}: {exc}"
        return None

    def _drop(self) -> None:
        if self._probe is not None:
            with suppress(StorageError):
                self._probe.db.close()
        self._probe = None

    def close(self) -> None:
        """Close the probe's connection on its thread, after the look in hand."""
        self._lookout.close(self._drop)


def _open_probe(url: str, *, migrate: bool) -> WriteProbe:
    """A connection of the probe's own, its ``store_probe`` row migrated (or checked)."""
    db = Database(url, migrate=migrate)
    try:
        return WriteProbe(db)
    except BaseException:
        db.close()
        raise
