"""The Kafka runtime: one worker of the topology as a consumer-group member.

``KafkaWorkerRunner(config, WORKER_BY_NAME["extract"], Resources(config))``
joins group ``<group_prefix>.extract``, consumes ``news.pages`` and loops::

    poll a batch ─▶ decode ─▶ process_safely (retrying transient failures)
        ─▶ produce outputs + dead letters ─▶ commit the batch's offsets

Start more processes (``newsflow stage extract``) to scale a worker out: the
group spreads the partitions over them, and when one dies its partitions move
to the others after ``kafka.session_timeout_ms``.

Delivery. Offsets are committed only once everything the batch produced
(outputs and dead letters) is acknowledged, so nothing is lost: a crash, a
failed produce or a failed dead-letter write leaves the offsets where they
were and the batch is consumed again, from the group's committed offsets (a
transaction whose commit went unanswered may have committed all the same: then
the batch is not consumed again; see :meth:`KafkaWorkerRunner._resume_after_failure`).
Storage is idempotent, so a replay changes nothing there. ``kafka.delivery``
picks how the commit is made (see :mod:`connectors.kafka.delivery`):

- ``transactional`` (default): outputs and offsets in one Kafka transaction
  per batch. Readers of ``news.enriched`` (read_committed) see every article
  exactly once even across crashes and rebalances, and a zombie member cannot
  commit. Measured on this machine (2 cores, one local broker; ``python -m
  bench.kafka_delivery``: 5,000 small records through one pass-through
  worker, batch 200, best of 3, three runs): transactional 5,500-5,800
  msg/s against at-least-once 7,600-8,900 msg/s, i.e. about 11 ms more per
  batch (the transaction's round trips). Extraction takes ~12 ms per page,
  so a batch of 200 pages takes ~2.4 s and the transaction adds under 1 %;
  end to end (500 corpus articles, all workers) both modes ran at 60-87
  articles/s, run-to-run noise larger than any difference. Exactly-once
  output for downstream readers is worth that.
- ``at_least_once``: produce, flush, check the acks, then commit. A crash
  between the acks and the commit re-produces the batch; downstream readers
  see duplicates (the store absorbs them).

A transactional worker's ``transactional.id`` is ``<group>.<host>.<slot>``
(:class:`~connectors.kafka.instance.InstanceSlot`): stable across restarts, so
a worker killed mid-transaction that comes back aborts its open transaction at
once; otherwise the broker aborts it after ``kafka.transaction_timeout_ms``.

Failures. A message that cannot be decoded is a failure of the worker
(reason ``undecodable``); a stage's failure comes back from
:func:`~pipeline.runtime.outcome.process_safely`. Retryable failures are
tried again ``kafka.retry_attempts`` times with doubling backoff; then every
failure is dead-lettered to ``news.dlq``: the original bytes, key and headers
naming where it came from and why (:mod:`connectors.kafka.headers`). A fetch
that failed for a while (a timeout, 429, 5xx) goes to ``news.retry`` instead,
with the time to fetch it again (:mod:`pipeline.runtime.kafka_retry_later`). Except
a store that cannot be reached (``StoreUnavailable``): that is not the
message's fault, so the batch ends there, the records done are delivered, the
rest is polled again, and the worker backs off as for a broker outage.

Shutdown. When ``stop`` is set, the batch in flight ends at the next message
boundary: the completed prefix is delivered and committed, the rest is left
for the next owner, the producer is flushed and the member leaves the group
(so its partitions move at once, not after the session timeout).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kafka import KafkaProducer
from prometheus_client import Counter, Histogram

from connectors.kafka.clients import make_admin, make_producer
from connectors.kafka.consumer import GroupConsumer
from connectors.kafka.delivery import AtLeastOnceDelivery, Delivery, TransactionalDelivery
from connectors.kafka.errors import is_fatal
from connectors.kafka.headers import DeadLetterInfo, letter_attempts, timestamp
from connectors.kafka.instance import InstanceSlot
from connectors.kafka.records import InRecord, OutRecord, Partition
from connectors.kafka.topics import ensure_topics, topic_specs
from pipeline.config import Config
from pipeline.errors import MessageError, StoreUnavailable, TransportError
from pipeline.models import MESSAGE_BY_TOPIC, Message, decode, utcnow
from pipeline.runtime.daemon_pool import DaemonPool
from pipeline.runtime.embedded import DEAD_LETTERS, MESSAGES, message_context
from pipeline.runtime.outcome import Failure, Outcome, RetryPolicy, readiness_writes
from pipeline.runtime.retry_later import RetryLater
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.service.metrics import STORE_UNAVAILABLE, timed_process
from pipeline.stages.base import Stage
from pipeline.stages.store import changed_by_store
from pipeline.topology import WORKER_BY_NAME, Worker, topic_name

if TYPE_CHECKING:
    from pipeline.service.control import LoopControl

log = logging.getLogger(__name__)

BATCHES = Counter(
    "newsflow_kafka_batches_total",
    "Batches per worker by result: committed, failed (the delivery raised; consumed again"
    " unless it turns out to have committed all the same, then counted committed too), empty.",
    ["worker", "result"],
)
BATCH_SECONDS = Histogram(
    "newsflow_kafka_batch_seconds",
    "Time from poll to commit of one batch, per worker.",
    ["worker"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

TRANSPORT_BACKOFF_S = (0.5, 1, 2, 5, 10)
STORE_LOST = StoreUnavailable.default_reason
CLOSE_TIMEOUT_S = 5.0
STOP_CHECK_S = 0.2
STOPPING = "stopping"
PAST_DEADLINE = "the batch ran past its deadline"
REBALANCING = "the group is rebalancing"
"""Why a batch ends before its last record (:meth:`KafkaWorkerRunner._handle`)."""


@dataclass(frozen=True)
class Handled:
    """One consumed record and what came of it: records to produce, or a failure."""

    record: InRecord
    message: Message | None
    outputs: Sequence[OutRecord]
    failure: Failure | None = None
    stored: Message | None = None
    """On the store worker, the message as stored when it changed the store (not for a
    replay): what the run summary counts."""


def group_id(config: Config, worker: Worker) -> str:
    """``<group_prefix>.<worker>``: one consumer group per worker of the topology."""
    return f"{config.kafka.group_prefix}.{worker.name}"


class KafkaWorkerRunner:
    """Runs one worker's stages on its topics; call :meth:`start`, :meth:`run`, :meth:`close`."""

    def __init__(
        self,
        config: Config,
        worker: Worker,
        resources: Resources,
        *,
        stages: Sequence[Stage] | None = None,
        lock_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.kafka = config.kafka
        self.worker = worker
        self.resources = resources
        self.group = group_id(config, worker)
        self.logical = {topic_name(self.kafka.topic_prefix, t): t for t in worker.consumes}
        self.dlq_topic = topic_name(self.kafka.topic_prefix, "dlq")
        self.retry_topic = topic_name(self.kafka.topic_prefix, "retry")
        self.summary = RunSummary()
        self.retry_later = RetryLater.from_config(config.fetch)
        self._stages = list(stages) if stages is not None else None
        self._lock_dir = lock_dir
        self._slot: InstanceSlot | None = None
        self._consumer: GroupConsumer | None = None
        self._delivery: Delivery | None = None
        self._pool: DaemonPool | None = None
        self._store_lost: str | None = None
        """Why the batch in hand ended early: the store could not be reached."""
        self._undelivered: list[InRecord] = []
        """The batch whose delivery failed: the next poll starts from the group's committed
        offsets of its partitions (:meth:`_resume_after_failure`)."""
        self._unconfirmed: list[Handled] = []
        """What came of that batch's records: counted if it turns out to have committed."""
        self.on_tick: Callable[[GroupConsumer | None], None] | None = None
        """Called after every batch (or idle poll): heartbeat, lag, assignment."""
        self.on_progress: Callable[[], None] | None = None
        """Called after each record is handled: the loop is moving even while one batch
        takes longer than the liveness timeout (a slow stage on a big batch)."""
        self.on_stored: Callable[[str | None], None] | None = None
        """On the store worker, told after each record's write: None when it committed, else
        the error of a write the store refused (for readiness)."""

    # -- lifecycle ------------------------------------------------------------

    def start(self, stop: threading.Event | None = None) -> None:
        """Create missing topics, claim an instance slot, join the group.

        Each client waits for the broker to answer; ``stop`` ends that wait
        (:class:`~pipeline.errors.StoppedWhileWaiting`).
        """
        admin = make_admin(self.kafka, stop=stop)
        try:
            ensure_topics(admin, topic_specs(self.kafka))
        finally:
            admin.close()
        if self._stages is None:
            self._stages = [build_stage(name, self.resources) for name in self.worker.stages]
        self._slot = InstanceSlot.claim(self.group, lock_dir=self._lock_dir)
        instance = self._slot.instance_id
        self._consumer = GroupConsumer(
            self.kafka,
            group=self.group,
            topics=list(self.logical),
            client_id=instance,
            on_revoked=self._on_revoked,
            stop=stop,
        )
        transactional = self.kafka.delivery == "transactional"

        def producer() -> KafkaProducer:
            tid = instance if transactional else None
            return make_producer(self.kafka, client_id=instance, transactional_id=tid, stop=stop)

        delivery_class = TransactionalDelivery if transactional else AtLeastOnceDelivery
        self._delivery = delivery_class(producer, self._consumer)
        self._delivery.connect()
        if self.worker.name == "fetch" and self.config.fetch.concurrency > 1:
            self._pool = DaemonPool(self.config.fetch.concurrency, name="fetch")
        log.info(
            "%s: joined group %s as %s (%s delivery)",
            self.worker.name,
            self.group,
            instance,
            self.kafka.delivery,
        )

    def run(self, stop: threading.Event, *, idle_timeout: float | None = None) -> RunSummary:
        """Process batches until ``stop`` is set (or nothing came for ``idle_timeout`` seconds).

        Transient transport errors are logged and retried with backoff; fatal
        ones (fenced, refused credentials, bad config) are raised.
        """
        failures = 0
        idle_since = time.monotonic()
        while not stop.is_set():
            if self.on_tick is not None:
                self.on_tick(self._consumer)
            try:
                handled = self.run_batch(stop)
                failures = 0
            except (TransportError, StoreUnavailable) as exc:
                if isinstance(exc, TransportError) and is_fatal(exc):
                    raise
                if isinstance(exc, StoreUnavailable):
                    STORE_UNAVAILABLE.labels(self.worker.name).inc()
                delay = TRANSPORT_BACKOFF_S[min(failures, len(TRANSPORT_BACKOFF_S) - 1)]
                failures += 1
                log.warning("%s: %s; retrying in %.1f s", self.worker.name, exc, delay)
                stop.wait(delay)
                continue
            now = time.monotonic()
            if handled:
                idle_since = now
            elif idle_timeout is not None and now - idle_since >= idle_timeout:
                break
        return self.summary

    def close(self) -> None:
        """Flush and close the producer, leave the group, release the slot and the stages."""
        if self._pool is not None:
            self._pool.shutdown()
        for closer in (self._close_delivery, self._close_consumer):
            try:
                closer()
            except TransportError as exc:
                log.warning("%s: %s", self.worker.name, exc)
        for stage in self._stages or []:
            stage.close()
        if self._slot is not None:
            self._slot.release()

    def _close_delivery(self) -> None:
        if self._delivery is not None:
            self._delivery.close(CLOSE_TIMEOUT_S)

    def _close_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.close()

    # -- one batch ------------------------------------------------------------

    def run_batch(self, stop: threading.Event) -> int:
        """Poll, process, deliver and commit one batch; return how many records were handled."""
        consumer, delivery = self._require()
        if self._undelivered:
            self._resume_after_failure(consumer, delivery)
        records = consumer.poll(self.kafka.poll_timeout_ms, self.kafka.batch_size)
        if not records:
            self._commit_idle(consumer)
            BATCHES.labels(self.worker.name, "empty").inc()
            return 0
        started = time.monotonic()
        deadline = started + self.kafka.max_poll_interval_ms / 2000
        handled = list(self._handle(records, stop, deadline, consumer.rebalance_pending))
        outputs = [out for h in handled for out in h.outputs]
        offsets = consumer.next_offsets([h.record for h in handled], records)
        lost, self._store_lost = self._store_lost, None  # this batch's: told below or moot
        try:
            delivery.deliver(outputs, offsets)
        except TransportError:
            BATCHES.labels(self.worker.name, "failed").inc()
            self._undelivered, self._unconfirmed = records, handled
            raise
        if len(handled) < len(records):
            taken = {(h.record.where, h.record.offset) for h in handled}
            consumer.rewind([r for r in records if (r.where, r.offset) not in taken])
        self._count(handled)
        BATCHES.labels(self.worker.name, "committed").inc()
        BATCH_SECONDS.labels(self.worker.name).observe(time.monotonic() - started)
        if lost is not None:
            raise StoreUnavailable(f"{lost}; the rest of the batch is polled again")
        return len(handled)

    def _resume_after_failure(self, consumer: GroupConsumer, delivery: Delivery) -> None:
        """Before the next poll after a failed delivery: settle it, then go on from the
        group's committed offsets, not from the failed batch's first record.

        A transactional step that timed out (``commit_transaction`` unanswered within
        the transaction timeout) may have committed on the broker all the same. The new
        producer's ``init_transactions`` (same transactional id) completes or aborts
        whatever the failed one left, and only then are the committed offsets final:
        past the batch if it committed (it is not handled again: its outputs would be
        read twice), at its start if it aborted. Until both succeed (the broker may be
        away), nothing is polled: this raises and the next turn tries again.
        """
        delivery.connect()
        batch, self._undelivered = self._undelivered, []
        try:
            resumed = consumer.resume_from_committed(batch)
        except TransportError:
            self._undelivered = batch
            raise
        handled, self._unconfirmed = self._unconfirmed, []
        first = {r.where: r.offset for r in reversed(batch)}  # each partition's first record
        committed = {where for where, offset in resumed.items() if offset > first[where]}
        if committed:
            log.info(
                "%s: the failed delivery had committed %s all the same; not handling it again",
                self.worker.name,
                ", ".join(f"{t}[{p}]" for t, p in sorted(committed)),
            )
        self._count_settled(handled, resumed)

    def _count_settled(self, handled: Sequence[Handled], resumed: Mapping[Partition, int]) -> None:
        """Count what a failed delivery turns out to have done, once the group's committed
        offsets (``resumed``) say it.

        Records below a partition's committed offset committed: they are not handled
        again, so they are counted here as a delivered batch's are (outputs, dead letters,
        the run summary) and the batch also counts as ``committed`` in
        ``newsflow_kafka_batches_total``. Its ``failed`` stays: the delivery did fail, and
        the worker acted on that (a new producer, a look at the offsets); so such a batch
        is in both, and ``committed`` is every batch the group's offsets moved past. Before,
        none of it was counted. Records of a partition no longer held are not counted:
        whether they committed is not known here.

        The rest is handled again, and counted then; except what a store stage wrote in
        the failed attempt: the rows are in the store whatever Kafka did, and the second
        attempt finds them unchanged (a replay is not counted as stored), so they are
        counted now or never.
        """
        done: list[Handled] = []
        again: list[Handled] = []
        for h in handled:
            committed = h.record.offset < resumed.get(h.record.where, -1)
            (done if committed else again).append(h)
        if done:
            self._count(done)
            BATCHES.labels(self.worker.name, "committed").inc()
        for h in again:
            if h.stored is not None:
                self.summary.count_stored(h.stored)

    def _commit_idle(self, consumer: GroupConsumer) -> None:
        """Commit positions that moved without records; during a rebalance, at a later poll.

        Members joining the group (every start) make the commits of an idle
        member fail with "rebalance in progress" until its next poll joins the
        new generation. Nothing is lost by waiting: the positions are
        committed at the next idle poll or with the next batch. It is not a
        transport failure, so it costs no backoff and no warning.
        """
        try:
            consumer.commit_idle()
        except TransportError as exc:
            if exc.reason != "kafka_rebalanced":
                raise
            log.info("%s: idle positions not committed during a rebalance", self.worker.name)

    def _require(self) -> tuple[GroupConsumer, Delivery]:
        if self._consumer is None or self._delivery is None:
            raise RuntimeError("KafkaWorkerRunner.start() must be called before running")
        return self._consumer, self._delivery

    def _handle(
        self,
        records: Sequence[InRecord],
        stop: threading.Event,
        deadline: float,
        rebalancing: Callable[[], bool],
    ) -> Iterator[Handled]:
        """Handle records; end early on ``stop``, past ``deadline``, or when the group is
        ``rebalancing`` (every member waits until this one rejoins, so a long batch would
        hold up the whole group; the rest is polled again after).

        What is handled is, in each partition, a prefix of the batch's records:
        committing it never skips one. Ending early, the records already done
        are still delivered (on the fetch worker, pages fetched in parallel),
        up to each partition's first one not done: fetched pages are not thrown
        away, to be fetched again from their publisher by the next owner.
        """
        MESSAGES.labels(self.worker.name, "in").inc(len(records))
        decoded = [self._decode(r) for r in records]

        def ending() -> str | None:
            if stop.is_set():
                return STOPPING
            if time.monotonic() > deadline:
                return PAST_DEADLINE
            return REBALANCING if rebalancing() else None

        done = self._outcomes(decoded, [r.where for r in records], stop, ending)
        for index, outcome in done:
            if self.on_progress is not None:
                self.on_progress()
            if outcome is None:  # abandoned while waiting to retry: stop was set
                return
            self._tell_stored(outcome.failure)
            if outcome.failure is not None and outcome.failure.reason == STORE_LOST:
                self._store_lost = outcome.failure.error  # not the message's fault: no DLQ
                return
            item = decoded[index]
            yield self._checked(
                records[index], item if isinstance(item, Message) else None, outcome
            )

    def _tell_stored(self, failure: Failure | None) -> None:
        """The store worker's write of one record (its stage commits it): what readiness
        follows (:func:`~pipeline.runtime.outcome.readiness_writes`)."""
        if self.on_stored is None or self.worker.name != "store":
            return
        for error in readiness_writes(failure):
            self.on_stored(error)

    def _decode(self, record: InRecord) -> Message | Failure:
        logical = self.logical.get(record.topic, record.topic)
        try:
            if record.value is None:
                raise MessageError("empty record (no value)")
            return decode(MESSAGE_BY_TOPIC[logical], record.value)
        except MessageError as exc:
            return Failure(
                stage=self.worker.name,
                topic=logical,
                error_class=type(exc).__name__,
                reason=exc.reason,
                error=str(exc),
                payload="",
                retryable=False,
            )

    def _outcomes(
        self,
        decoded: Sequence[Message | Failure],
        wheres: Sequence[Partition],
        stop: threading.Event,
        ending: Callable[[], str | None],
    ) -> Iterator[tuple[int, Outcome | None]]:
        """(index, outcome) in batch order until ``ending`` gives a reason (checked after
        each record, and while waiting on the fetch worker's pool); then only those
        already done, up to each partition's first one that is not."""
        if self._pool is None:
            for index, item in enumerate(decoded):
                reason = ending() if index else (STOPPING if stop.is_set() else None)
                if reason is not None:
                    self._log_ending(reason)
                    return
                yield index, self._outcome(item, stop)
            return
        futures: list[Future[Outcome | None]] = [
            self._pool.submit(self._outcome, item, stop) for item in decoded
        ]
        try:
            yield from _done_in_order(futures, wheres, ending, self._log_ending)
        finally:
            for future in futures:
                future.cancel()

    def _log_ending(self, reason: str) -> None:
        if reason != STOPPING:  # every worker stops so: nothing to say about this one
            level = logging.WARNING if reason == PAST_DEADLINE else logging.INFO
            log.log(level, "%s: %s; delivering what is done", self.worker.name, reason)

    def _outcome(self, item: Message | Failure, stop: threading.Event) -> Outcome | None:
        """Run the stages, retrying transient failures; None if ``stop`` came during a wait."""
        if isinstance(item, Failure):
            return Outcome([], item)
        retry = RetryPolicy(self.kafka.retry_attempts, self.kafka.retry_backoff_seconds)
        return retry.run(
            self.worker.name,
            lambda: timed_process(self.worker.name, self._stages or [], item),
            stop.wait,
        )

    def _checked(self, record: InRecord, message: Message | None, outcome: Outcome) -> Handled:
        """The records to produce for one input: its outputs, or its dead letter."""
        failure = outcome.failure
        stored = self._stored()  # taken in any case: it must not be credited to the next record
        if failure is None:
            outputs = [self._output(m) for m in outcome.produced]
            too_large = [o for o in outputs if o.size > self.kafka.max_message_bytes]
            if not too_large:
                return Handled(record, message, outputs, stored=stored)
            failure = Failure(
                stage=self.worker.name,
                topic=self.logical.get(record.topic, record.topic),
                error_class="MessageTooLarge",
                reason="too_large",
                error=f"output of {too_large[0].size} bytes for {too_large[0].topic} exceeds"
                f" kafka.max_message_bytes ({self.kafka.max_message_bytes})",
                payload="",
                retryable=False,
            )
        return Handled(record, message, [self._dead_letter(record, failure)], failure)

    def _stored(self) -> Message | None:
        """What the store stage changed with the record just handled. Only the fetch worker
        handles records in parallel; the store worker runs them one at a time, and each is
        checked right after its stages ran, so the stage's last write is this record's."""
        return changed_by_store(self._stages or [])

    def _output(self, message: Message) -> OutRecord:
        return OutRecord(
            topic=topic_name(self.kafka.topic_prefix, message.topic),
            key=message.key().encode("utf-8"),
            value=message.to_json(),
        )

    def _dead_letter(self, record: InRecord, failure: Failure) -> OutRecord:
        """The letter of ``record``; a transient fetch failure gets its time to be fetched
        again (:class:`RetryLater`), counted on from the letter it was replayed from, and
        waits for it in ``news.retry`` instead of ``news.dlq``."""
        attempts = letter_attempts(record.headers) + 1
        retry_at = self.retry_later.schedule(failure)(attempts)
        info = DeadLetterInfo(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            worker=self.worker.name,
            stage=failure.stage,
            error_class=failure.error_class,
            error_message=failure.error,
            reason=failure.reason,
            retryable=failure.retryable,
            failed_at=timestamp(utcnow()),
            attempts=attempts,
            retry_at=timestamp(retry_at) if retry_at is not None else None,
        )
        topic = self.dlq_topic if retry_at is None else self.retry_topic
        return OutRecord(topic, record.key, record.value or b"", info.to_headers())

    def _count(self, handled: Sequence[Handled]) -> None:
        """Count a delivered batch: metrics, log lines for dead letters, the run summary."""
        produced = 0
        for h in handled:
            if h.failure is not None:
                DEAD_LETTERS.labels(h.failure.stage, h.failure.reason).inc()
                MESSAGES.labels(self.worker.name, "failed").inc()
                self.summary.failures += 1
                log.warning(
                    "%s failed on %s[%d]@%d: %s",
                    h.failure.stage,
                    h.record.topic,
                    h.record.partition,
                    h.record.offset,
                    h.failure.error,
                    extra={
                        "stage": h.failure.stage,
                        "reason": h.failure.reason,
                        "event": "dead_letter",
                        **(message_context(h.message) if h.message is not None else {}),
                    },
                )
                continue
            produced += len(h.outputs)
            if h.stored is not None:
                self.summary.count_stored(h.stored)
        MESSAGES.labels(self.worker.name, "out").inc(produced)

    def _on_revoked(self, partitions: set[tuple[str, int]]) -> None:
        """Partitions are moving away: settle an open transaction so the next owner can start.

        Batches are delivered before the next poll, and callbacks run inside
        poll, so normally nothing is open here; if a failed delivery left a
        transaction open, it is aborted (its records are never read).
        """
        if self._delivery is not None:
            self._delivery.abort()


def run_worker(
    config: Config,
    worker_name: str,
    stop: threading.Event,
    *,
    idle_timeout: float | None = None,
    lock_dir: Path | None = None,
    on_tick: Callable[[GroupConsumer | None], None] | None = None,
    on_progress: Callable[[], None] | None = None,
    on_stored: Callable[[str | None], None] | None = None,
) -> RunSummary:
    """Run worker ``worker_name`` in this process until ``stop`` (what ``newsflow stage`` does).

    ``on_tick`` is called every turn of the loop (``newsflow stage``'s
    heartbeat, lag and assignment; see :mod:`pipeline.service.kafka_health`);
    ``on_progress`` after each record handled (liveness within a long batch);
    ``on_stored`` after each write of the store worker (its readiness).
    """
    worker = WORKER_BY_NAME[worker_name]
    resources = Resources(config)
    runner = KafkaWorkerRunner(config, worker, resources, lock_dir=lock_dir)
    runner.on_tick = on_tick
    runner.on_progress = on_progress
    runner.on_stored = on_stored
    try:
        runner.start(stop)
        return runner.run(stop, idle_timeout=idle_timeout)
    finally:
        runner.close()
        resources.close()


def run_kafka(
    config: Config, stop: threading.Event, *, once: bool, control: LoopControl | None = None
) -> RunSummary:
    """The poller plus every worker on Kafka (``newsflow run`` with ``transport: kafka``).

    See :mod:`pipeline.runtime.kafka_service`; imported here late because
    that module runs :func:`run_worker` in its worker processes.
    """
    from pipeline.runtime.kafka_service import run_kafka as run

    return run(config, stop, once=once, control=control)


def _done_in_order(
    futures: Sequence[Future[Outcome | None]],
    wheres: Sequence[Partition],
    ending: Callable[[], str | None],
    on_ending: Callable[[str], None],
) -> Iterator[tuple[int, Outcome | None]]:
    """The futures' results in order, waiting for each, until ``ending`` gives a reason;
    then only those already done, skipping a partition from its first one not done."""
    reason: str | None = None
    blocked: set[Partition] = set()
    for index, future in enumerate(futures):
        while reason is None and not future.done():
            reason = ending()
            if reason is not None:
                on_ending(reason)
            else:
                wait([future], timeout=STOP_CHECK_S)
        if reason is not None and (wheres[index] in blocked or not future.done()):
            blocked.add(wheres[index])
            continue
        yield index, future.result()
        if reason is None:
            reason = ending()
            if reason is not None:
                on_ending(reason)
