"""The embedded runtime: every worker of the topology in one process.

Workers run in topology order on a batch of entries. Fetching is I/O-bound
and runs on a thread pool; extraction is CPU-bound and runs on a process pool
(each process builds its own stages); tagging, dedup and storage run in the
main thread, which owns the database writes. Failures become dead letters in
the store, and a feed's poll is committed only after its entries are stored,
so a crash re-delivers entries instead of losing them (storage is idempotent).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from prometheus_client import Counter

from pipeline.config import Config
from pipeline.models import FeedEntry, Message
from pipeline.runtime.outcome import Failure, Outcome
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.service.metrics import timed_process
from pipeline.stages.base import Stage
from pipeline.topology import WORKERS, Worker

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

BATCH_SIZE = 64

# Set in each extraction process by _init_process_worker: a process pool can only
# reach per-process state through a module global.
_PROCESS_STAGES: dict[str, list[Stage]] = {}


def _init_process_worker(config: Config, worker_name: str) -> None:
    # Ctrl-C reaches the whole process group; the parent stops the pool itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resources = Resources(config)
    worker = next(w for w in WORKERS if w.name == worker_name)
    _PROCESS_STAGES[worker_name] = [build_stage(s, resources) for s in worker.stages]


def _process_in_worker(worker_name: str, message: Message) -> Outcome:
    return timed_process(worker_name, _PROCESS_STAGES[worker_name], message)


Observer = Callable[[str, int, int], None]
"""Told after each message a worker handled: ``(worker, handled, failed)``."""


class EmbeddedPipeline:
    """Runs batches of feed entries through every worker, in one process.

    ``on_handled`` (optional) is called after each message a worker handled,
    in the main thread: the service beats its heartbeat there and the
    progress line counts.
    """

    def __init__(
        self, config: Config, resources: Resources, *, on_handled: Observer | None = None
    ) -> None:
        self.config = config
        self.resources = resources
        self.on_handled = on_handled
        self._stages: dict[str, list[Stage]] = {}
        self._executors: dict[str, Executor] = {}
        self._lock = threading.Lock()

    def process(
        self,
        entries: Sequence[FeedEntry],
        summary: RunSummary,
        *,
        stop: threading.Event | None = None,
    ) -> bool:
        """Push ``entries`` through all workers; failures become dead letters.

        Returns False when ``stop`` was set before every entry was through:
        the caller must then not commit the poll (its entries come again).
        """
        for start in range(0, len(entries), BATCH_SIZE):
            pending: list[Message] = list(entries[start : start + BATCH_SIZE])
            for worker in WORKERS:
                if stop is not None and stop.is_set():
                    return False
                batch = [m for m in pending if m.topic in worker.consumes]
                rest = [m for m in pending if m.topic not in worker.consumes]
                if worker.name == "store":
                    for message in batch:
                        summary.count_stored(message)
                pending = rest + self._run_worker(worker, batch, summary, stop)
        return stop is None or not stop.is_set()

    def _run_worker(
        self,
        worker: Worker,
        batch: list[Message],
        summary: RunSummary,
        stop: threading.Event | None = None,
    ) -> list[Message]:
        if not batch:
            return []
        MESSAGES.labels(worker.name, "in").inc(len(batch))
        produced: list[Message] = []
        for message, outcome in zip(batch, self._map(worker, batch), strict=False):
            if stop is not None and stop.is_set():
                break  # the caller leaves the poll uncommitted: these entries come again
            produced.extend(outcome.produced)
            if outcome.failure:
                MESSAGES.labels(worker.name, "failed").inc()
                self._dead_letter(outcome.failure, message)
                summary.failures += 1
            if self.on_handled is not None:
                self.on_handled(worker.name, 1, int(outcome.failure is not None))
        MESSAGES.labels(worker.name, "out").inc(len(produced))
        return produced

    def _map(self, worker: Worker, batch: list[Message]) -> Iterable[Outcome]:
        executor = self._executor(worker)
        if executor is None:
            stages = self._local_stages(worker)
            return (timed_process(worker.name, stages, m) for m in batch)
        if isinstance(executor, ProcessPoolExecutor):
            return executor.map(_process_in_worker, [worker.name] * len(batch), batch, chunksize=4)
        stages = self._local_stages(worker)
        return executor.map(lambda m: timed_process(worker.name, stages, m), batch)

    def _local_stages(self, worker: Worker) -> list[Stage]:
        with self._lock:
            if worker.name not in self._stages:
                self._stages[worker.name] = [build_stage(s, self.resources) for s in worker.stages]
            return self._stages[worker.name]

    def _executor(self, worker: Worker) -> Executor | None:
        factory = self._executor_factories().get(worker.name)
        if factory is None:
            return None
        with self._lock:
            if worker.name not in self._executors:
                executor = factory(worker)
                if executor is None:
                    return None
                self._executors[worker.name] = executor
            return self._executors[worker.name]

    def _executor_factories(self) -> dict[str, Callable[[Worker], Executor | None]]:
        return {"fetch": self._thread_pool, "extract": self._process_pool}

    def _thread_pool(self, worker: Worker) -> Executor:
        return ThreadPoolExecutor(self.config.fetch.concurrency, thread_name_prefix=worker.name)

    def _process_pool(self, worker: Worker) -> Executor | None:
        processes = self.config.extract.workers or os.cpu_count() or 1
        if processes <= 1:
            return None
        return ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_process_worker,
            initargs=(self.config, worker.name),
        )

    def _dead_letter(self, failure: Failure, message: Message) -> None:
        DEAD_LETTERS.labels(failure.stage, failure.reason).inc()
        log.warning(
            "%s failed: %s",
            failure.stage,
            failure.error,
            extra={
                "stage": failure.stage,
                "reason": failure.reason,
                "event": "dead_letter",
                **message_context(message),
            },
        )
        self.resources.dead_letters.add(
            stage=failure.stage,
            topic=failure.topic,
            error_class=failure.error_class,
            reason=failure.reason,
            error=failure.error,
            payload=failure.payload,
        )

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=True, cancel_futures=True)
        for stages in self._stages.values():
            for stage in stages:
                stage.close()


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
