"""What the status page shows, as one JSON document (``/api/status``).

The config file and when the running config was loaded; while the file on
disk is rejected (a reload found it invalid), when and why, since the older
config keeps running. Feeds with their health and last poll (configured feeds joined with the feed
state), throughput over the last hour, the newest articles with their tags
and duplicate clusters, and recent errors (dead letters and this process's
warnings). The store is read through its own connection (:class:`StoreAccess`),
opened lazily and used on a :class:`~pipeline.service.lookout.Lookout`'s thread,
and a document is reused for :data:`CACHE_SECONDS`, so a dozen open pages cost
one set of queries.

The document answers within a second whatever the store does. Asked from the
HTTP thread, the reads and the write the page used to make itself waited as
long as the store did (a SQLite file locked by another connection: the 30 s
busy timeout; a PostgreSQL lock: as long as it is held), and the page with
them. The write problem is now the store probe's last look
(:meth:`~pipeline.service.store_health.StoreProbe.last_write_problem`); reads
that do not answer within :data:`~pipeline.service.lookout.ANSWER_SECONDS`
leave the last good store section in place, marked ``store_stale`` with its
age, or, before any, a ``store_error`` saying for how long the store has not
answered. The service part (process state, configured feeds) is always there.
The DLQ size ``/metrics`` reports is counted on the same lookout, the same way
(:meth:`StatusBuilder.dead_letter_count`).

Values are plain data; the page inserts them as text, never as markup.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from typing import Any, Generic, NamedTuple, TypeVar

from connectors.storage.db import store_location
from connectors.storage.feed_state import FeedState, FeedStateRepository
from connectors.storage.status import StatusReads, StoredArticle
from connectors.storage.store import Store, open_store
from pipeline.config import Config, FeedConfig
from pipeline.errors import StorageError
from pipeline.logs import RecentRecords
from pipeline.service.health import Health
from pipeline.service.lookout import Lookout
from pipeline.service.throughput import Throughput

log = logging.getLogger(__name__)
T = TypeVar("T")

CACHE_SECONDS = 2.0
MAX_FEEDS = 500
RECENT_ERRORS = 20
_FEED_ORDER = {"unhealthy": 0, "failing": 1, "never polled": 2, "ok": 3, "disabled": 4}


class StoreAccess:
    """A store connection for the HTTP side: opened on first use, reopened after a failure."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.migrate = migrate
        self._store: Store | None = None
        self._feed_state: FeedStateRepository | None = None
        self._lock = threading.Lock()

    @contextmanager
    def open(self) -> Iterator[tuple[Store, StatusReads, FeedStateRepository]]:
        """The store, its status reads and feed state; a StorageError drops the connection."""
        with self._lock:
            try:
                if self._store is None:
                    self._store = open_store(self.url, migrate=self.migrate)
                    self._feed_state = FeedStateRepository(self._store.db)
                assert self._feed_state is not None
                yield self._store, StatusReads(self._store.db), self._feed_state
            except StorageError:
                self._drop()
                raise

    def _drop(self) -> None:
        if self._store is not None:
            with suppress(StorageError):
                self._store.close()
        self._store = None
        self._feed_state = None

    def close(self) -> None:
        with self._lock:
            self._drop()


class Stamped(NamedTuple, Generic[T]):
    """An answer read from the store, and when it was read (epoch seconds)."""

    at: float
    value: T


class Newest(Generic[T]):
    """The newest answer by read time: an answer read earlier never replaces a newer one,
    whichever arrives last (two scrapes, or a request that waited longer than the next)."""

    def __init__(self) -> None:
        self._kept: Stamped[T] | None = None
        self._lock = threading.Lock()

    def offer(self, answer: Stamped[T] | None) -> Stamped[T] | None:
        """Keep ``answer`` if it was read no earlier than the one kept; the one kept now
        (None before the first)."""
        with self._lock:  # compare and keep at once: requests on other threads race
            kept = self._kept
            if answer is not None and (kept is None or answer.at >= kept.at):
                self._kept = kept = answer
            return kept


class StatusBuilder:
    """Builds (and briefly caches) the status document; reads the DLQ size for ``/metrics``
    on the same lookout (one connection, one read at a time)."""

    READS = "reads"
    LETTERS = "dead letters"

    def __init__(
        self,
        *,
        config: Callable[[], Config],
        role: str,
        store: StoreAccess | None,
        health: Health,
        throughput: Throughput,
        recent_log: RecentRecords,
        write_problem: Callable[[], str | None] = lambda: None,
        config_state: Callable[[], dict[str, Any] | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.letters: Callable[[], dict[str, Any] | None] | None = None
        """Where the dead letters come from when they are not rows of the store (Kafka):
        ``{"total": ..., "recent": [...]}``, or None while it cannot say."""
        self.config = config
        self.role = role
        self.store = store
        self.health = health
        self.throughput = throughput
        self.recent_log = recent_log
        self.write_problem = write_problem
        """What the store probe's last look found of its write (it writes; the page must not)."""
        self.config_state = config_state
        """The reloader's :meth:`~pipeline.service.reload.ConfigReloader.state`; None in a
        process that does not reload."""
        self.clock = clock
        self.started_at = clock()
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._reads = Lookout("status-store", cache_seconds=0.0)
        self._last_read: Newest[dict[str, Any]] = Newest()
        self._last_letters: Newest[int] = Newest()

    def status(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            if self._cached is None or now - self._cached[0] > CACHE_SECONDS:
                self._cached = (now, self._build(now))
            return self._cached[1]

    def dead_letter_count(self, until: float) -> Stamped[int] | None:
        """The store's dead letters, counted on the reads' lookout and waited for until
        ``until`` (a ``time.monotonic()``); while the store does not answer, the last count
        (None before the first), and after a failed count too: a scrape answered with a
        stale gauge beats a failed one."""
        if self.store is None:
            return None
        try:
            counted, _ = self._reads.ask(self.LETTERS, self._count_letters, until=until)
        except StorageError as exc:
            log.debug("DLQ size not refreshed: %s", exc)
            counted = None
        return self._last_letters.offer(counted)

    def close(self) -> None:
        """Close the store connection on the reads' thread, after the read in hand."""
        if self.store is not None:
            self._reads.close(finish=self.store.close)

    def _build(self, now: float) -> dict[str, Any]:
        config = self.config()
        document: dict[str, Any] = {
            "generated_at": now,
            "service": self._service(config, now),
            "config": self.config_state(),
            "throughput": self.throughput.per_minute(),
            "log": self.recent_log.newest(RECENT_ERRORS),
        }
        document.update(self._from_store(config, now))
        if self.letters is not None:
            document["dead_letters"] = self.letters() or {"total": None, "recent": []}
        return document

    def _service(self, config: Config, now: float) -> dict[str, Any]:
        live = self.health.liveness()
        return {
            "role": self.role,
            "transport": config.transport,
            "started_at": self.started_at,
            "uptime_seconds": round(now - self.started_at),
            "live": live.ok,
            "loops": live.details.get("loops", {}),
        }

    def _from_store(self, config: Config, now: float) -> dict[str, Any]:
        """The store's section: read now, or the last one marked stale, or the store's
        silence; with the write problem the store probe found."""
        if self.store is None:
            return {"store_error": "this process has no store", **_empty_store(config)}
        asked = self.clock()
        try:
            read, silent_for = self._reads.ask(self.READS, lambda: self._read(config))
        except StorageError as exc:
            log.warning("status page: %s", exc, extra={"event": "status_store_error"})
            return {"store_error": str(exc), **_empty_store(config)}
        last = self._last_read.offer(read)
        write = self.write_problem()
        problems: dict[str, Any] = {"store_error": write} if write else {}
        if last is None:
            silent = silent_for if silent_for is not None else self.clock() - asked
            location = store_location(self.store.url)
            silence = f"store {location} is not answering: no read answered for {silent:.1f} s"
            problems["store_error"] = "; ".join(filter(None, [silence, write]))
            return {**_empty_store(config), **problems}
        if last.at < asked:  # not answered in time: what it held when it last answered
            problems["store_stale"] = {"read_at": last.at, "age_seconds": round(now - last.at, 1)}
        return {**last.value, **problems}

    def _read(self, config: Config) -> Stamped[dict[str, Any]]:
        """On the reads' thread: the store's section of the document, stamped when read."""
        assert self.store is not None
        with self.store.open() as (store, reads, feed_state):
            recent = reads.recent_articles(config.service.status_recent_articles)
            section = {
                "feeds": feed_rows(config.feeds, feed_state.all()),
                "articles": {
                    "total": store.articles.count(duplicates=False),
                    "duplicates": store.articles.count(duplicates=True),
                    "recent": [article_row(a) for a in recent],
                },
                "clusters": _clusters(reads, recent),
                "dead_letters": {
                    "total": reads.dead_letter_count(),
                    "recent": [asdict(d) for d in reads.recent_dead_letters(RECENT_ERRORS)],
                },
            }
        return Stamped(self.clock(), section)

    def _count_letters(self) -> Stamped[int]:
        """On the reads' thread: the dead letters waiting, stamped when counted."""
        assert self.store is not None
        with self.store.open() as (_, reads, _state):
            return Stamped(self.clock(), reads.dead_letter_count())


def _empty_store(config: Config) -> dict[str, Any]:
    return {
        "feeds": feed_rows(config.feeds, {}),
        "articles": {"total": None, "duplicates": None, "recent": []},
        "clusters": [],
        "dead_letters": {"total": None, "recent": []},
    }


def feed_status(feed: FeedConfig, state: FeedState | None) -> str:
    if not feed.enabled:
        return "disabled"
    if state is None or state.last_attempt_at is None:
        return "never polled"
    if state.unhealthy:
        return "unhealthy"
    return "failing" if state.failures else "ok"


def feed_rows(feeds: list[FeedConfig], states: dict[str, FeedState]) -> dict[str, Any]:
    """Configured feeds with their state, troubled ones first, at most :data:`MAX_FEEDS`."""
    rows: list[dict[str, Any]] = []
    for feed in feeds:
        state = states.get(feed.name)
        rows.append(
            {
                "name": feed.name,
                "url": feed.url,
                "kind": feed.kind,
                "status": feed_status(feed, state),
                "last_attempt_at": state.last_attempt_at if state else None,
                "last_success_at": state.last_success_at if state else None,
                "last_error": state.last_error if state else None,
                "last_error_at": state.last_error_at if state else None,
                "failures": state.failures if state else 0,
                "next_due_at": state.next_due_at if state else None,
                "interval_seconds": state.interval_seconds if state else None,
            }
        )
    rows.sort(key=lambda r: (_FEED_ORDER[r["status"]], r["name"]))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"total": len(rows), "by_status": counts, "items": rows[:MAX_FEEDS]}


def article_row(stored: StoredArticle) -> dict[str, Any]:
    article = stored.article
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "language": article.language,
        "feeds": article.feeds,
        "topics": article.topics,
        "entities": [{"name": e.name, "type": e.type} for e in article.entities],
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "stored_at": stored.stored_at,
        "duplicate_of": article.duplicate_of,
        "cluster_id": article.cluster_id,
    }


def _clusters(reads: StatusReads, recent: list[StoredArticle]) -> list[dict[str, Any]]:
    """The clusters of the recent articles that hold more than one article."""
    ids = [a.article.cluster_id for a in recent if a.article.cluster_id]
    members: dict[str, list[dict[str, Any]]] = {}
    for member in reads.cluster_members(ids):
        members.setdefault(member.cluster_id, []).append(asdict(member))
    return [
        {"cluster_id": cid, "size": len(rows), "members": rows}
        for cid, rows in members.items()
        if len(rows) > 1
    ]
