"""The embedded runtime: every worker of the topology in one process, overlapped.

Entries stream through the workers; no stage waits for another to finish a
batch::

    submit ─▶ fetch (thread pool) ─▶ extract + tag (process pool) ─▶ dedup + store (this thread)
                                                                       └─▶ on_done: commit the poll

Fetching is I/O-bound and runs on a thread pool. Extraction is CPU-bound
and runs on a process pool (one process per core, each building its own
stages); tagging runs there too, right after extraction: it is CPU-bound and
stateless, so it needs nothing from this process and, here, would only add
to the GIL contention of the thread that owns the database. Dedup and
storage run in the calling thread, which owns the database writes, while
the pools keep working on the next pages. Entries reach dedup in the order
they were submitted, so verdicts do not depend on which fetch was fastest.
The lines each article adds to its source's learned boilerplate travel back
from the extraction processes and are counted in the same transaction as the
article is stored: the processes never wait for the database's write lock,
and learned state and stored articles are committed together (a page
re-extracted after a crash meets the learned state it met the first time).

A failure becomes a dead letter in the store, except one that says the store
cannot take work (:class:`~pipeline.errors.StoreUnavailable`: a full disk, a
lost server): that is raised, for the caller to wait for the store.
``on_done`` runs (in the calling thread) only once every entry of its call is
stored or dead-lettered, so the service commits a feed's poll after its
entries are safe: a crash re-delivers them instead of losing them (storage
is idempotent). ``on_through`` runs inside each storing transaction with the
entries of the call it made safe, so they are marked seen with their
articles and a crash re-delivers only the rest (a service killed again and
again still gets through a long feed)::

    pipeline = EmbeddedPipeline(config, resources)
    pipeline.submit(result.entries, summary, on_done=lambda: poller.commit(feed, result),
                    on_through=lambda entries: poller.mark_seen(feed, result, entries))
    pipeline.drain(stop)          # False if ``stop`` cut it short: open polls stay uncommitted
    pipeline.process(entries, summary)   # submit + drain, for one batch

In-flight work is bounded (:data:`MAX_IN_FLIGHT` entries from fetch to
storage), so ``submit`` blocks, working, while the pipeline is full.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import (
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from prometheus_client import Counter

from connectors.storage.dead_letters import DeadLetter
from pipeline import logs
from pipeline.config import Config
from pipeline.errors import StorageError, StoreUnavailable
from pipeline.extraction.learned import DeferredLines, LineObservation
from pipeline.extraction.metadata import load_language_model
from pipeline.models import FeedEntry, Message
from pipeline.runtime.daemon_pool import DaemonPool
from pipeline.runtime.outcome import (
    Failure,
    Outcome,
    RetryPolicy,
    failure_from,
    process_safely,
    readiness_writes,
)
from pipeline.runtime.processes import (
    ForkServerStart,
    LeftBehind,
    exit_with_parent,
    worker_context,
)
from pipeline.runtime.retry_later import RETRIED, RetryLater
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.service.metrics import timed_process
from pipeline.stages.base import Stage
from pipeline.stages.extract import StoredLines
from pipeline.stages.store import changed_by_store
from pipeline.topology import WORKER_BY_NAME

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "newsflow_stage_messages_total",
    "Messages handled per worker: in, out, failed.",
    ["worker", "direction"],
)
DEAD_LETTERS = Counter(
    "newsflow_dead_letters_total",
    "Messages dead-lettered, by stage and reason.",
    ["stage", "reason"],
)

MAX_IN_FLIGHT = 96
"""Entries between fetch and storage at once; bounds the pages held in memory."""
QUEUED_PER_PROCESS = 6
"""Pages queued per extraction process: enough to keep it busy while this thread stores."""
STORE_BATCH = 8
"""Entries deduplicated and stored per transaction, between looks at completed work."""
WAIT_SECONDS = 0.1
"""Longest wait for a completion before ``stop`` is checked again."""

OFFLOADED = ("tag",)
"""Stages of the dedup worker run in the extraction processes, after extraction."""

Observer = Callable[[str, int, int], None]
"""Told after each message a worker handled: ``(worker, handled, failed)``."""
Context = dict[str, str]


@dataclass(frozen=True)
class Handled:
    """One message a worker handled off this thread, and what came of it."""

    worker: str
    outcome: Outcome
    context: Context


@dataclass(frozen=True)
class Extracted:
    """What an extraction process sends back for one entry."""

    handled: list[Handled]
    lines: list[LineObservation]
    """Its articles' lines, for this process to count with the articles (see
    :class:`~pipeline.extraction.learned.DeferredLines`)."""


@dataclass(frozen=True)
class Phase:
    """Stages run one after the other for one worker (``timed``: observed in the histogram)."""

    worker: str
    stages: list[Stage]
    timed: bool = True


def run_phases(phases: Sequence[Phase], messages: Sequence[Message]) -> list[Handled]:
    """Each message through each phase in turn; every message handled is reported."""
    handled: list[Handled] = []
    current = list(messages)
    for phase in phases:
        following: list[Message] = []
        for message in current:
            if phase.timed:
                outcome = timed_process(phase.worker, phase.stages, message)
            else:
                outcome = process_safely(phase.stages, message)
            handled.append(Handled(phase.worker, outcome, message_context(message)))
            following.extend(outcome.produced)
        current = following
    return handled


# Set in each extraction process by _init_process_worker: a process pool can only
# reach per-process state through a module global.
_PROCESS_PHASES: list[Phase] = []
_PROCESS_LINES = DeferredLines()


def _init_process_worker(
    config: Config,
    recent_to: Queue[Any],
    level_from: Synchronized[int],
    left_behind: LeftBehind | None = None,
) -> None:
    """Set up an extraction process: its log format, its stages, and its exit when the
    service dies.

    A process forked by the fork server starts without the service's logging:
    its warnings (metadata lost, learned boilerplate unavailable, its own exit)
    would reach the service's stream as bare text among JSON events, and the
    status page, served by the service, would show none of them.
    Ctrl-C reaches the whole process group; the service stops the pool itself.
    A service killed outright stops nothing: :func:`exit_with_parent` (before
    the slower set-up) ends this process then, at once: its results would have
    nobody to go to; it removes what the service left behind (``left_behind``).
    """
    logs.setup(
        config.service.log_format,
        config.service.log_level,
        recent_to=recent_to,
        level_from=level_from,
    )
    exit_with_parent(left_behind=left_behind)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resources = Resources(config, deferred_lines=_PROCESS_LINES)
    _PROCESS_PHASES.extend(offloaded_phases(resources))
    load_language_model()  # already loaded where the fork server preloaded it


def _queues_of(pool: ProcessPoolExecutor) -> list[object]:
    """The queues a process pool shares with its processes (the standard library keeps
    them privately): the tasks to them, the results from them."""
    return [getattr(pool, "_call_queue"), getattr(pool, "_result_queue")]  # noqa: B009


def _started() -> None:
    """A no-op task: submitted once per process so that every process starts at once."""


def _start_all(pool: Executor, processes: int) -> None:
    """Submit one no-op per process so that every process starts now."""
    try:
        for _ in range(processes):
            pool.submit(_started)  # while none is idle yet, each submit starts one more
    except RuntimeError:
        pass  # the pipeline closed first: nothing to start
    except (EOFError, OSError) as exc:  # the fork server died before it forked one
        log.warning(
            "extraction processes not started (%s: %s); the first page starts them",
            type(exc).__name__,
            exc,
        )


def _process_in_worker(messages: list[Message]) -> Extracted:
    handled = run_phases(_PROCESS_PHASES, messages)
    return Extracted(handled, _PROCESS_LINES.take())


def offloaded_phases(resources: Resources) -> list[Phase]:
    """What the extraction processes run: extraction, then the offloaded stages (untimed:
    the dedup worker's time is observed where its own stages run)."""
    extract = [build_stage(s, resources) for s in WORKER_BY_NAME["extract"].stages]
    offloaded = [build_stage(s, resources) for s in OFFLOADED]
    return [Phase("extract", extract), Phase("dedup", offloaded, timed=False)]


@dataclass(eq=False)
class _Ticket:
    """One ``submit`` call: its entries in order, and what to run once all are through."""

    summary: RunSummary
    on_done: Callable[[], None] | None
    remaining: int
    on_through: Callable[[Sequence[FeedEntry]], None] | None = None


@dataclass(eq=False)
class _Item:
    ticket: _Ticket
    seq: int
    """Submission order: dedup and storage take entries in this order."""
    entry: FeedEntry
    letter: DeadLetter | None = None
    """The dead letter this entry comes from (a retry): it goes when the entry is through."""


class EmbeddedPipeline:
    """Streams feed entries through every worker; see the module docstring.

    ``on_handled`` (optional) is called after each message a worker handled,
    in the calling thread: the service beats its heartbeat there and the
    progress line counts. ``on_stored`` (optional) hears how each batch's
    article writes went: None once they committed, else the error of the
    last one the store refused (or of the commit), for readiness.
    """

    def __init__(
        self,
        config: Config,
        resources: Resources,
        *,
        on_handled: Observer | None = None,
        on_stored: Callable[[str | None], None] | None = None,
    ) -> None:
        self.config = config
        self.resources = resources
        self.on_handled = on_handled
        self.on_stored = on_stored
        self._stages: dict[str, list[Stage]] = {}
        self._lines: StoredLines | None = None
        self._fetch_pool: DaemonPool | None = None
        self._extract_pool: Executor | None = None
        self._child_records: logs.ChildRecords | None = None
        self._worker_context = worker_context()
        self._starting: ForkServerStart | None = None
        """The extraction processes' start, until their fork server forks."""
        self._processes = config.extract.workers or os.cpu_count() or 1
        # Not a SimpleQueue: on CPython 3.11 its get(timeout=...) in this (the main) thread
        # blocks forever when a signal's handler outlasts the timeout (a stop never ends).
        self._completed: queue.Queue[Future[Any]] = queue.Queue()
        self._fetching: dict[Future[Outcome], _Item] = {}
        self._extracting: dict[Future[Extracted], tuple[_Item, Executor]] = {}
        self._waiting: deque[_Item] = deque()
        """Entries not yet fetched."""
        self._fetched: deque[tuple[_Item, list[Message]]] = deque()
        """Fetched pages waiting for room in the extraction queue."""
        self._ready: dict[int, _Ready] = {}
        """Outputs of the off-thread workers by entry, waiting for their turn (in order)."""
        self._seq = 0
        self._next_seq = 0
        self._in_flight = 0
        self._open: set[_Ticket] = set()
        self._dropped = threading.Event()
        """Set when the work in hand is dropped: fetch retries waiting for it give up."""
        self._retry = RetryPolicy(config.fetch.retry_attempts, config.fetch.retry_backoff_seconds)
        self._retry_later = RetryLater.from_config(config.fetch)
        self._start_processes()

    # -- public ---------------------------------------------------------------

    def submit(
        self,
        entries: Sequence[FeedEntry],
        summary: RunSummary,
        *,
        on_done: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
        letters: Sequence[DeadLetter] | None = None,
        on_through: Callable[[Sequence[FeedEntry]], None] | None = None,
    ) -> bool:
        """Start ``entries`` through the workers; ``on_done`` once all are stored or dead-lettered.

        ``on_through`` is called in each transaction that makes some of them
        safe (stored, or their dead letters kept), with those entries.

        ``letters``: the dead letters the entries come from, in the same order
        (:mod:`pipeline.runtime.retry_later`); each goes in the transaction that
        stores its entry's article, unless the entry failed again.

        Blocks (working) while :data:`MAX_IN_FLIGHT` entries are in flight;
        returns False if ``stop`` was set meanwhile (see :meth:`drain`).
        """
        ticket = _Ticket(summary, on_done, remaining=len(entries), on_through=on_through)
        if not entries:
            self._finish(ticket)
            return True
        self._open.add(ticket)
        for index, entry in enumerate(entries):
            letter = letters[index] if letters is not None else None
            self._waiting.append(_Item(ticket, self._seq, entry, letter))
            self._seq += 1
        while self._waiting:
            if stop is not None and stop.is_set():
                self._abandon()
                return False
            self._start_work()
            if self._waiting:
                self._step(block=True)
        self._step(block=False)
        return True

    def drain(self, stop: threading.Event | None = None) -> bool:
        """Work until everything submitted is through; False if ``stop`` cut it short.

        After a stop, what was in flight is dropped: its ``on_done`` never runs,
        so its polls stay uncommitted and their entries not yet stored come again.
        """
        while self._open:
            if stop is not None and stop.is_set():
                self._abandon()
                return False
            self._start_work()
            self._step(block=True)
        return True

    def process(
        self,
        entries: Sequence[FeedEntry],
        summary: RunSummary,
        *,
        stop: threading.Event | None = None,
    ) -> bool:
        """Push ``entries`` through all workers and return when they are through.

        Returns False when ``stop`` was set before every entry was through:
        the caller must then not commit the poll (its entries come again).
        """
        return self.submit(entries, summary, stop=stop) and self.drain(stop)

    def step(self) -> None:
        """Move work along for up to :data:`WAIT_SECONDS`: what a caller waiting for
        something else (polls) runs meanwhile."""
        self._start_work()
        self._step(block=True)

    def abandon(self) -> None:
        """Drop everything in flight, as after a stop: no ``on_done`` of it runs, so its
        polls stay uncommitted; the pipeline takes new work afterwards."""
        self._abandon()

    def close(self) -> None:
        """Stop the pools. Fetches still running (a stop came) are abandoned, not waited
        for: a stalled server would otherwise hold the exit for up to ``fetch.deadline``."""
        self._dropped.set()
        if self._fetch_pool is not None:
            self._fetch_pool.shutdown()
        if self._starting is not None:
            self._starting.close()  # first: a fork server still importing goes, with no wait
        if self._extract_pool is not None:
            self._extract_pool.shutdown(wait=True, cancel_futures=True)
        if self._child_records is not None:
            self._child_records.stop()
        for stages in self._stages.values():
            for stage in stages:
                stage.close()

    # -- moving work along ----------------------------------------------------

    def _start_work(self) -> None:
        """Hand fetched pages to extraction, and entries to fetching, while there is room."""
        while self._fetched and len(self._extracting) < self._extract_capacity():
            item, pages = self._fetched.popleft()
            self._start_extraction(item, pages)
        fetch_limit = self.config.fetch.concurrency
        while (
            self._waiting and self._in_flight < MAX_IN_FLIGHT and len(self._fetching) < fetch_limit
        ):
            self._start_fetch(self._waiting.popleft())

    def _step(self, *, block: bool) -> None:
        """Handle completed work (keeping the pools fed), then dedup and store a batch."""
        self._collect(block=block and not self._has_turn())
        if self._has_turn():
            self._dedup_and_store()

    def _collect(self, *, block: bool) -> bool:
        """Handle every completed fetch and extraction; wait briefly for one if ``block``."""
        handled = False
        timeout = WAIT_SECONDS if block else None
        while True:
            try:
                future = self._completed.get(block=block and not handled, timeout=timeout)
            except queue.Empty:
                return handled
            handled = True
            if future in self._fetching:
                self._fetched_one(self._fetching.pop(future), future)
            elif future in self._extracting:
                self._extracted_one(*self._extracting.pop(future), future)
            self._start_work()

    def _start_fetch(self, item: _Item) -> None:
        self._in_flight += 1
        pool = self._fetch_executor()
        future = pool.submit(self._fetch, self._local_stages("fetch"), item.entry, self._dropped)
        self._fetching[future] = item
        future.add_done_callback(self._completed.put)

    def _fetch(self, stages: list[Stage], entry: FeedEntry, dropped: threading.Event) -> Outcome:
        """Fetch one entry (in a fetch thread), trying a transient failure again.

        ``dropped`` is set when the work in hand is dropped (a stop, a store
        outage): a retry waiting then gives up, and nobody reads its result.
        """
        outcome = self._retry.run(
            "fetch", partial(timed_process, "fetch", stages, entry), dropped.wait
        )
        if outcome is None:
            raise CancelledError("dropped while waiting to retry")
        return outcome

    def _fetched_one(self, item: _Item, future: Future[Outcome]) -> None:
        outcome = _result(future, "fetch", item.entry)
        self._account(item.ticket, Handled("fetch", outcome, message_context(item.entry)))
        if outcome.produced:
            self._fetched.append((item, outcome.produced))
        else:
            self._ready[item.seq] = _Ready(item, [], [])  # nothing to store, but its turn counts

    def _start_extraction(self, item: _Item, pages: list[Message]) -> None:
        pool = self._extract_executor()
        if pool is None:
            self._extracted(item, Extracted(run_phases(self._local_phases(), pages), []))
            return
        future = pool.submit(_process_in_worker, pages)
        self._extracting[future] = (item, pool)
        future.add_done_callback(self._completed.put)

    def _extracted_one(self, item: _Item, pool: Executor, future: Future[Extracted]) -> None:
        try:
            extracted = future.result()
        except Exception as exc:  # the pool failed (a process died), not a stage
            if isinstance(exc, BrokenProcessPool) and pool is self._extract_pool:
                self._replace_broken_pool()
            crashed = _crashed("extract", item.entry, exc)
            extracted = Extracted([Handled("extract", crashed, message_context(item.entry))], [])
        self._extracted(item, extracted)

    def _extracted(self, item: _Item, extracted: Extracted) -> None:
        """Account for the extraction processes' work; tagged articles wait for dedup."""
        produced: list[Message] = []
        for each in extracted.handled:
            offloaded = each.worker != "extract"
            self._account(item.ticket, each, ends=not offloaded)
            if offloaded:
                produced.extend(each.outcome.produced)
        self._ready[item.seq] = _Ready(item, produced, extracted.lines)

    def _has_turn(self) -> bool:
        return self._next_seq in self._ready

    def _dedup_and_store(self) -> None:
        """Dedup and store up to :data:`STORE_BATCH` entries whose turn has come.

        One transaction for the batch (each message still in its own savepoint,
        so one failure is one dead letter): one commit and one wait for the
        write lock instead of several per article. Only after the commit are
        the entries counted through, so ``on_done`` never runs before its
        entries are durable.
        """
        batch: list[_Ready] = []
        while self._next_seq in self._ready and len(batch) < STORE_BATCH:
            batch.append(self._ready.pop(self._next_seq))
            self._next_seq += 1
        writes: list[str | None] = []
        try:
            with self.resources.store.db.transaction():
                for ready in batch:
                    for observation in ready.lines:
                        self._count_lines(observation)
                    writes += self._dedup_and_store_one(ready.item.ticket, ready.messages)
                    self._settle_letter(ready.item.letter)
                _report_through([ready.item for ready in batch])
        except StorageError as exc:
            self._stored(str(exc))  # not committed: none of the batch's articles is stored
            raise
        if writes:
            self._stored(writes[-1])
        for ready in batch:
            item = ready.item
            self._in_flight -= 1
            item.ticket.remaining -= 1
            if item.ticket.remaining == 0:
                self._open.discard(item.ticket)
                self._finish(item.ticket)

    def _dedup_and_store_one(self, ticket: _Ticket, articles: list[Message]) -> list[str | None]:
        """Dedup and store one entry's articles; the store stage's writes, in order: None for
        one that went through, the error of one the store refused."""
        dedup = self._local_stages("dedup")
        stored: list[Message] = []
        for article in articles:
            outcome = timed_process("dedup", dedup, article)
            self._account(ticket, Handled("dedup", outcome, message_context(article)), begins=False)
            stored.extend(outcome.produced)
        store = self._local_stages("store")
        writes: list[str | None] = []
        for message in stored:
            outcome = timed_process("store", store, message)
            self._account(ticket, Handled("store", outcome, message_context(message)))
            writes += readiness_writes(outcome.failure)
            written = changed_by_store(store)
            if written is not None:
                ticket.summary.count_stored(written)
        return writes

    def _stored(self, error: str | None) -> None:
        if self.on_stored is not None:
            self.on_stored(error)

    def _settle_letter(self, letter: DeadLetter | None) -> None:
        """Remove the letter an entry came from, unless the entry failed again (then its
        attempts have grown: :meth:`DeadLetterRepository.settle` leaves it)."""
        if letter is not None and self.resources.dead_letters.settle(letter.id, letter.attempts):
            RETRIED.labels("through").inc()

    def _finish(self, ticket: _Ticket) -> None:
        if ticket.on_done is not None:
            ticket.on_done()

    def _abandon(self) -> None:
        """Drop everything in flight (after a stop): no callback of an open ticket runs."""
        self._dropped.set()  # fetches waiting to retry give up; new ones get a fresh event
        self._dropped = threading.Event()
        futures: list[Future[Any]] = [*self._fetching, *self._extracting]
        for future in futures:
            future.cancel()
        self._fetching.clear()
        self._extracting.clear()
        self._waiting.clear()
        self._fetched.clear()
        self._ready.clear()
        self._next_seq = self._seq
        self._open.clear()
        self._in_flight = 0

    # -- accounting -----------------------------------------------------------

    def _account(
        self, ticket: _Ticket, handled: Handled, *, begins: bool = True, ends: bool = True
    ) -> None:
        """Metrics, dead letter and observer for one message a worker handled.

        The dedup worker's work on a message is split: tagging ``begins`` it in
        an extraction process, dedup ``ends`` it here; it is counted once.
        """
        worker, outcome = handled.worker, handled.outcome
        _raise_if_store_unavailable(outcome.failure)
        failed = outcome.failure is not None
        if begins:
            MESSAGES.labels(worker, "in").inc()
        if outcome.failure is not None:
            MESSAGES.labels(worker, "failed").inc()
            self._dead_letter(outcome.failure, handled.context)
            ticket.summary.failures += 1
        if ends:
            MESSAGES.labels(worker, "out").inc(len(outcome.produced))
        if (ends or failed) and self.on_handled is not None:
            self.on_handled(worker, 1, int(failed))

    def _dead_letter(self, failure: Failure, context: Context) -> None:
        DEAD_LETTERS.labels(failure.stage, failure.reason).inc()
        log.warning(
            "%s failed: %s",
            failure.stage,
            failure.error,
            extra={
                "stage": failure.stage,
                "reason": failure.reason,
                "event": "dead_letter",
                **context,
            },
        )
        self.resources.dead_letters.keep(failure, retry=self._retry_later.schedule(failure))

    # -- executors and stages -------------------------------------------------

    def _local_stages(self, worker: str) -> list[Stage]:
        if worker not in self._stages:
            names = [s for s in WORKER_BY_NAME[worker].stages if s not in OFFLOADED]
            self._stages[worker] = [build_stage(s, self.resources) for s in names]
        return self._stages[worker]

    def _count_lines(self, observation: LineObservation) -> None:
        if self._lines is None:
            self._lines = StoredLines(self.resources.residue_stats, self.config.extract)
        self._lines.count(observation)

    def _local_phases(self) -> list[Phase]:
        if "offloaded" not in self._stages:
            self._stages["offloaded"] = [build_stage(s, self.resources) for s in OFFLOADED]
        return [
            Phase("extract", self._local_stages("extract")),
            Phase("dedup", self._stages["offloaded"], timed=False),
        ]

    def _fetch_executor(self) -> DaemonPool:
        if self._fetch_pool is None:
            self._fetch_pool = DaemonPool(self.config.fetch.concurrency, name="fetch")
        return self._fetch_pool

    def _extract_executor(self) -> Executor | None:
        """The extraction process pool; None with one worker (extraction runs in this thread)."""
        if self._processes <= 1:
            return None
        if self._extract_pool is None:
            context = self._worker_context
            if self._child_records is None:
                self._child_records = logs.ChildRecords(context)
            left_behind = LeftBehind().add(self._child_records.queue)
            self._extract_pool = ProcessPoolExecutor(
                self._processes,
                mp_context=context,
                initializer=_init_process_worker,
                initargs=(
                    self.config,
                    self._child_records.queue,
                    self._child_records.level,
                    left_behind,
                ),
            )
            # The pool's own queues; it starts no process before its first task, and
            # each start pickles ``left_behind`` as it is then.
            left_behind.add(*_queues_of(self._extract_pool))
        return self._extract_pool

    def _start_processes(self) -> None:
        """Start the extraction processes now, while the first feeds are polled, not when
        the first page is waiting.

        From a thread, once their fork server has imported their code (a second,
        3-20 s on a loaded machine; :class:`ForkServerStart`), which this thread
        spends polling. Until then the pool gets no page (:meth:`_extract_capacity`):
        starting a process holds the pool's lock, which :meth:`close` would wait for.
        """
        if self._processes <= 1:
            return
        self._starting = ForkServerStart(self._worker_context)  # this (the main) thread
        pool = self._extract_executor()
        assert pool is not None
        self._starting.when_forking(partial(_start_all, pool, self._processes))

    def _extract_capacity(self) -> int:
        """Pages the extraction processes may hold: none until their fork server forks (see
        :meth:`_start_processes`)."""
        if self._processes <= 1:
            return 1
        if self._starting is not None and not self._starting.forking:
            return 0
        return self._processes * QUEUED_PER_PROCESS

    def _replace_broken_pool(self) -> None:
        """A process died (a crash in native code): start a fresh pool for what comes next."""
        if self._extract_pool is not None:
            log.error("an extraction process died; starting a new process pool")
            self._extract_pool.shutdown(wait=False, cancel_futures=True)
            self._extract_pool = None


@dataclass(frozen=True)
class _Ready:
    """An entry's articles back from extraction, waiting for their turn at dedup and storage."""

    item: _Item
    messages: list[Message]
    lines: list[LineObservation]


def _report_through(items: list[_Item]) -> None:
    """Each ticket's ``on_through`` with its entries among ``items``, in order."""
    by_ticket: dict[_Ticket, list[FeedEntry]] = {}
    for item in items:
        by_ticket.setdefault(item.ticket, []).append(item.entry)
    for ticket, entries in by_ticket.items():
        if ticket.on_through is not None:
            ticket.on_through(entries)


def _result(future: Future[Outcome], worker: str, message: Message) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # timed_process never raises for a stage; this is the executor
        return _crashed(worker, message, exc)


def _raise_if_store_unavailable(failure: Failure | None) -> None:
    """A stage that failed because the store cannot take work (a full disk, a lost server)
    is not the message's fault: no dead letter (whose write would fail too, or worse,
    succeed and keep good work out of the store); the service waits for the store."""
    if failure is not None and failure.reason == StoreUnavailable.default_reason:
        raise StoreUnavailable(f"{failure.stage}: {failure.error}")


def _crashed(worker: str, message: Message, error: BaseException) -> Outcome:
    return Outcome([], failure_from(worker, message, error))


def message_context(message: Message) -> dict[str, str]:
    """Log fields naming a message: its URL and, once it has one, the article id."""
    context = {"url": str(getattr(message, "url", "") or message.key())}
    article_id = getattr(message, "id", None)
    if article_id:
        context["article_id"] = str(article_id)
    return context


def shutdown_quietly(*closers: Any) -> None:
    for closer in closers:
        try:
            closer.close()
        except Exception:  # pragma: no cover - best effort at exit
            log.exception("error while closing %r", closer)
