"""``newsflow run`` on Kafka: the feed poller plus every worker, on one machine.

The poller runs in this process; each worker runs in a process of its own
(forked from the worker fork server, :mod:`pipeline.runtime.processes`; the same
code as ``newsflow stage NAME``), with one extraction process per
core (``extract.workers``, 0 = one per core). Processes, not threads,
because extraction is CPU-bound Python: threads would share one core through
the GIL, processes use them all; a crashing worker also cannot take the
others down, and the supervisor restarts it: one that exits, and one whose loop
has not moved (no record handled, no idle poll) for
``service.liveness_timeout_seconds`` (a hung worker, which a ``newsflow stage``
process's ``/healthz`` would report; here no probe sees the children, so the
supervisor kills and restarts it itself). To spread the stages over
several machines, run ``newsflow stage NAME`` there instead: it is the same
code.

``run_kafka(config, stop, once=True)`` polls every feed once, waits until
every consumer group has caught up (lag 0 on every topic, checked in
topology order so nothing can still be in flight), then stops the workers
and returns the summary of the run, counted by the poller and the workers.
``once=False`` follows the schedule until ``stop`` is set, and sends dead
letters of transient fetch failures back when their time has come
(:mod:`pipeline.runtime.kafka_retry_later`).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.queues
import os
import queue
import threading
import time
from collections.abc import Callable
from ctypes import c_double
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

from connectors.kafka.clients import make_admin, make_consumer
from connectors.kafka.library_logs import ServiceWide, share_connection_lines
from connectors.kafka.topics import ensure_topics, group_lag, topic_specs
from pipeline.config import Config
from pipeline.errors import StoppedWhileWaiting, TransportError
from pipeline.logs import ChildRecords
from pipeline.runtime.kafka_retry_later import letters_retried
from pipeline.runtime.kafka_runner import group_id, run_worker
from pipeline.runtime.kafka_source import KafkaFeedSource
from pipeline.runtime.processes import (
    ForkServerStart,
    LeftBehind,
    exit_with_parent,
    worker_context,
)
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources
from pipeline.topology import WORKERS, topic_name

if TYPE_CHECKING:
    from pipeline.service.control import LoopControl
    from pipeline.service.store_health import ArticleWrites, WorkerArticleWrites

log = logging.getLogger(__name__)

DRAIN_CHECK_S = 0.5
STOP_GRACE_S = 9.0
MAX_RESTARTS = 5
"""A worker restarted this often within :data:`RESTART_WINDOW_S` is given up on."""
RESTART_WINDOW_S = 60.0
ORPHAN_GRACE_S = 5.0
"""How long a worker whose service died may take to end its batch and leave its group."""

_CONTEXT = worker_context()


def run_kafka(
    config: Config,
    stop: threading.Event,
    *,
    once: bool,
    control: LoopControl | None = None,
) -> RunSummary:
    """Run the poller and every worker on Kafka; see the module docstring.

    ``control`` (from ``newsflow run``) gets the poller's heartbeats, hands
    it reloaded configs (feeds and schedule) and hears the store worker's writes.
    """
    admin = make_admin(config.kafka, stop=stop)
    try:
        ensure_topics(admin, topic_specs(config.kafka))
    finally:
        admin.close()
    resources = Resources(config)
    workers = WorkerProcesses(config, control.article_writes if control is not None else None)
    try:
        workers.start()
        source = KafkaFeedSource(config, resources, control=control, stop=stop)
        try:
            if once:
                summary = source.run_once(stop)
                wait_until_drained(config, stop, tick=_ticker(workers, control))
            else:
                summary = _run_forever(source, stop, workers, config)
        finally:
            source.close()
    finally:
        summary_of_workers = workers.stop()
        resources.close()
    summary.merge(summary_of_workers)
    _count_store(config, summary)
    return summary


def _count_store(config: Config, summary: RunSummary) -> None:
    """What the store holds after the run, as the embedded runtime reports it."""
    resources = Resources(config)
    try:
        summary.stored_total = resources.articles.count(duplicates=False)
        summary.duplicates_total = resources.articles.count(duplicates=True)
    finally:
        resources.close()


def _ticker(workers: WorkerProcesses, control: LoopControl | None) -> Callable[[], None]:
    """While waiting for the workers to catch up: restart dead ones, keep the heartbeat."""

    def tick() -> None:
        workers.supervise()
        if control is not None:
            control.beat()

    return tick


def _run_forever(
    source: KafkaFeedSource, stop: threading.Event, workers: WorkerProcesses, config: Config
) -> RunSummary:
    """The poller here; beside it, threads that keep the workers running and send dead
    letters back when their ``retry_at`` has come."""
    supervisor = threading.Thread(target=_supervise_until, args=(workers, stop), daemon=True)
    supervisor.start()
    try:
        with letters_retried(config):
            return source.run_forever(stop)
    finally:
        stop.set()
        supervisor.join()


def _supervise_until(workers: WorkerProcesses, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            workers.supervise()
        except TransportError as exc:
            log.error("%s", exc)
            stop.set()


def wait_until_drained(
    config: Config,
    stop: threading.Event,
    *,
    tick: Callable[[], None] | None = None,
    settle_checks: int = 2,
) -> bool:
    """Block until every worker's group has lag 0 on all its topics (or ``stop``).

    Groups are checked in topology order, so once the last one is caught up
    nothing is still on its way: each worker commits its input only after its
    output is acknowledged. Returns False if ``stop`` ended the wait.
    """
    admin = make_admin(config.kafka)
    consumer = make_consumer(config.kafka, client_id=f"{config.kafka.group_prefix}.drain")
    prefix = config.kafka.topic_prefix
    clean = 0
    try:
        while not stop.is_set():
            if tick is not None:
                tick()
            lag = sum(
                sum(group_lag(admin, consumer, group_id(config, w),
                              [topic_name(prefix, t) for t in w.consumes]).values())
                for w in WORKERS
            )  # fmt: skip
            clean = clean + 1 if lag == 0 else 0
            if clean >= settle_checks:
                return True
            stop.wait(DRAIN_CHECK_S)
        return False
    finally:
        consumer.close()
        admin.close()


@dataclass
class _Child:
    worker: str
    process: BaseProcess
    beat: c_double
    """``time.monotonic()`` (one clock for every process) of the worker's last loop turn;
    without a lock, like :class:`StopFlag`, so a worker killed mid-write cannot hold one."""
    restarts: list[float] = field(default_factory=list)


class WorkerProcesses:
    """One process per worker (several for extraction), restarted when one dies.

    ``article_writes`` (the service's readiness) hears the store worker's writes.
    """

    def __init__(self, config: Config, article_writes: ArticleWrites | None = None) -> None:
        self.config = config
        self._stop = StopFlag()
        self._results: multiprocessing.queues.Queue[RunSummary] = _CONTEXT.Queue()
        self._children: list[_Child] = []
        self._starting: ForkServerStart | None = None
        """The processes' start, until their fork server forks and they are started."""
        self._start_failed: str | None = None
        self._child_records: ChildRecords | None = None
        self._left_behind: LeftBehind | None = None
        """What a ``kill -9`` of this process leaves, for the workers to remove."""
        self._connection_lines = ServiceWide(_CONTEXT)
        """kafka-python's connection lines: one a minute for the service, not per process."""
        self._article_writes = article_writes
        self._writes_of_workers: WorkerArticleWrites | None = None

    def counts(self) -> dict[str, int]:
        extract = self.config.extract.workers or os.cpu_count() or 1
        return {w.name: extract if w.name == "extract" else 1 for w in WORKERS}

    def start(self) -> None:
        """Start every worker process, from a thread once their fork server forks.

        The fork server first imports the workers' code (a second; 3-20 s on a
        loaded machine), and the first process started waits for it: from the
        main thread, a stop meanwhile waited for all of it, then for every worker
        to start only to be stopped. :class:`ForkServerStart` waits instead, and
        :meth:`stop` kills a server still importing. Call it from the main thread
        (the server is started here, deaf to Ctrl-C); :meth:`wait_started` waits
        for the processes.
        """
        self._child_records = ChildRecords(_CONTEXT)
        self._left_behind = LeftBehind().add(self._results, self._child_records.queue)
        share_connection_lines(self._connection_lines)
        if self._article_writes is not None:
            self._writes_of_workers = self._article_writes.in_workers(_CONTEXT)
        self._starting = ForkServerStart(_CONTEXT)
        self._starting.when_forking(self._start_all)

    def wait_started(self, timeout: float) -> bool:
        """Until every worker process is started (or :meth:`stop` came first); whether."""
        return self._starting is None or self._starting.join(timeout)

    def _start_all(self) -> None:
        """One process per worker (several for extraction); none more once stopping. A
        start that fails is told by :meth:`supervise`, on the thread that runs the service."""
        try:
            for worker, count in self.counts().items():
                for _ in range(count):
                    if self._stop.is_set():
                        return
                    beat = _CONTEXT.RawValue(c_double, time.monotonic())
                    self._children.append(_Child(worker, self._start(worker, beat), beat))
        except (EOFError, OSError) as exc:  # the fork server died, or could not start one
            self._start_failed = f"{type(exc).__name__}: {exc}"

    def _start(self, worker: str, beat: c_double) -> BaseProcess:
        assert self._child_records is not None, "start() first"
        beat.value = time.monotonic()  # connecting counts as a turn: the timeout starts now
        process = _CONTEXT.Process(
            target=_worker_main,
            args=(
                self.config,
                worker,
                self._stop,
                self._results,
                self._child_records.queue,
                self._child_records.level,
                self._connection_lines,
                self._writes_of_workers,
                beat,
                self._left_behind,
            ),
            name=f"newsflow-{worker}",
        )
        process.start()
        return process

    def supervise(self) -> None:
        """Restart workers that died or hung; give up (TransportError) on one that keeps
        dying, or on their start's failure."""
        if self._start_failed is not None:
            raise TransportError(f"the worker processes did not start ({self._start_failed})")
        now = time.monotonic()
        for child in self._children:
            if self._stop.is_set():
                continue
            if child.process.is_alive() and not self._killed_if_hung(child, now):
                continue
            child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(child.restarts) > MAX_RESTARTS:
                raise TransportError(
                    f"worker {child.worker} exited {len(child.restarts)} times within"
                    f" {RESTART_WINDOW_S:.0f} s (last exit code {child.process.exitcode})"
                )
            log.warning(
                "worker %s exited with code %s; restarting it",
                child.worker,
                child.process.exitcode,
                extra={"stage": child.worker, "event": "worker_restart"},
            )
            child.process = self._start(child.worker, child.beat)

    def _killed_if_hung(self, child: _Child, now: float) -> bool:
        """Kill ``child`` if its loop has not turned for the liveness timeout; say whether.

        SIGKILL, not SIGTERM: a hung loop never reaches the stop check. Nothing is lost:
        its batch was not committed, and its successor takes the same transactional id
        back, which aborts the transaction it may have left open.
        """
        timeout = self.config.service.liveness_timeout_seconds
        stalled = now - child.beat.value
        if stalled <= timeout:
            return False
        log.error(
            "worker %s (pid %s) has not handled a record or finished an idle poll for %.0f s"
            " (service.liveness_timeout_seconds: %.0f); killing it",
            child.worker,
            child.process.pid,
            stalled,
            timeout,
            extra={"stage": child.worker, "event": "worker_hung"},
        )
        child.process.kill()
        child.process.join(STOP_GRACE_S)
        return True

    def stop(self) -> RunSummary:
        """Ask every worker to finish its batch and leave; collect their summaries.

        Their fork server still importing is killed: no worker was started."""
        self._stop.set()
        if self._starting is not None:
            self._starting.close()
            if not self._starting.join(STOP_GRACE_S):
                log.warning("the worker processes' start did not end in %.0f s", STOP_GRACE_S)
        deadline = time.monotonic() + STOP_GRACE_S
        summary = RunSummary()
        expected = sum(1 for c in self._children if c.process.exitcode in (None, 0))
        for _ in range(expected):
            try:
                summary.merge(self._results.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
        for child in self._children:
            child.process.join(max(0.1, deadline - time.monotonic()))
            if child.process.is_alive():
                log.warning("worker %s did not stop in time; killing it", child.worker)
                child.process.kill()
                child.process.join()
        if self._child_records is not None:
            self._child_records.stop()
        return summary


def _worker_main(
    config: Config,
    worker: str,
    stop: StopFlag,
    results: multiprocessing.queues.Queue[RunSummary],
    recent_to: multiprocessing.queues.Queue[Any],
    level_from: Synchronized[int],
    connection_lines: ServiceWide,
    article_writes: WorkerArticleWrites | None,
    beat: c_double,
    left_behind: LeftBehind | None = None,
) -> None:
    """Entry point of a worker process: run until the supervisor's stop event, report.

    A service killed outright never sets that event: the worker then stops as
    if it had been set (the batch in flight ends at a message boundary, what
    is done is committed, it leaves its group so that its partitions move at
    once to a restarted service) and exits within :data:`ORPHAN_GRACE_S`
    whatever happens (:func:`exit_with_parent`). Stopped while its broker had not
    answered yet, it has nothing to report and ends at once. kafka-python's connection lines
    are shown once a minute for all the processes (``connection_lines``). The store worker
    tells its writes to ``article_writes``, the service's readiness. Every turn of its
    loop (a batch, or an idle poll) and every record it handles sets ``beat``, which the
    supervisor watches. What a service killed outright left behind (``left_behind``)
    the worker removes.
    """
    from pipeline.logs import setup
    from pipeline.runtime.signals import handle_signals

    local_stop = threading.Event()
    exit_with_parent(local_stop.set, grace_s=ORPHAN_GRACE_S, left_behind=left_behind)
    setup(
        config.service.log_format,
        config.service.log_level,
        recent_to=recent_to,
        level_from=level_from,
    )
    share_connection_lines(connection_lines)
    threading.Thread(target=_relay, args=(stop, local_stop), daemon=True).start()
    with handle_signals(local_stop):
        try:
            on_stored = article_writes.record if article_writes is not None else None
            stamp = _stamp(beat)
            summary = run_worker(
                config,
                worker,
                local_stop,
                on_tick=lambda _consumer: stamp(),
                on_progress=stamp,
                on_stored=on_stored,
            )
        except StoppedWhileWaiting as exc:
            log.info("worker %s: %s", worker, exc, extra={"stage": worker})
            summary = RunSummary()
    results.put(summary)


def _stamp(beat: c_double) -> Callable[[], None]:
    """Sets ``beat`` to now, for the supervisor: at every turn of the worker's loop and
    after every record it handles (a batch may take longer than the liveness timeout)."""

    def stamp() -> None:
        beat.value = time.monotonic()

    return stamp


class StopFlag:
    """The supervisor's "stop" to its worker processes: one shared byte, without a lock.

    Not a ``multiprocessing.Event``: a worker waiting on one counts as a sleeper of its
    condition, and once that worker is killed (``kill -9``, the OOM killer, or the
    supervisor killing a hung worker), ``Event.set()`` waits for the dead sleeper to wake,
    for ever: ``newsflow run`` never stopped. Workers look at the flag every
    :data:`RELAY_CHECK_S` instead; a byte needs no lock a dying process could hold.
    """

    def __init__(self) -> None:
        self._flag = _CONTEXT.RawValue("b", 0)

    def set(self) -> None:
        self._flag.value = 1

    def is_set(self) -> bool:
        return bool(self._flag.value)


RELAY_CHECK_S = 0.1


def _relay(source: StopFlag, target: threading.Event) -> None:
    """Set ``target`` when the supervisor's (cross-process) ``source`` flag is set."""
    while not source.is_set():
        if target.wait(RELAY_CHECK_S):
            return
    target.set()
