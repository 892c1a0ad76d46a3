"""Delivering a batch: its output records acknowledged, then its input offsets committed.

Two modes, one contract: when :meth:`Delivery.deliver` returns, every record
of the batch is acknowledged by the broker (acks=all) *and* the consumer
offsets are committed; when it raises :class:`TransportError`, the outcome is
not known for sure: a commit whose answer was lost may have committed. The
caller settles it (:meth:`Delivery.connect`, then the group's committed
offsets) before it consumes the batch's partitions again.

- :class:`TransactionalDelivery`: records and offsets go in one Kafka
  transaction (``send_offsets_to_transaction`` with the consumer's group
  metadata, KIP-447). Read-committed readers see a batch's output exactly
  once, even when the worker crashes between producing and committing; a
  member evicted from the group (a zombie) cannot commit.
- :class:`AtLeastOnceDelivery`: send, ``flush``, check every ack, then commit
  the offsets. A crash between the acks and the commit re-produces the
  batch: downstream sees duplicates, which the idempotent store absorbs.

After a failed delivery the producer is thrown away and a new one is made
for the next batch: kafka-python 3.0 leaves an idempotent producer in a
fatal state after some errors (a record refused as too large, for one), and
a transactional one may report a later transaction committed although one of
its records failed. Both modes also check every record's ack before they
commit, rather than trusting ``commit_transaction`` alone.

Every transactional step is bounded by the transaction timeout
(``kafka.transaction_timeout_ms``, 30 s: by then the broker aborts the
transaction anyway; the Java client bounds them too, by ``max.block.ms``, since
KAFKA-7763/KAFKA-10309): kafka-python 3.0's
``send_offsets_to_transaction``, ``commit_transaction`` and
``abort_transaction`` wait without a limit, and a broker killed (``kill -9``)
mid-transaction lost one such request for good: the store worker waited on it
for ever after the broker was back, holding its partitions, while ``/readyz``
said ready (:func:`await_transaction_step`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError
from kafka.producer.future import FutureRecordMetadata
from kafka.producer.transaction_manager import TransactionalRequestResult, TransactionManager

from connectors.kafka.consumer import GroupConsumer, to_kafka_offsets
from connectors.kafka.errors import kafka_errors, translate
from connectors.kafka.records import OutRecord, Partition
from pipeline.errors import TransportError

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 60.0
DISCARD_TIMEOUT_S = 2.0


class Delivery(Protocol):
    def connect(self) -> None:
        """Make the producer now, so a broken configuration fails at start, not mid-batch.

        After a failed delivery, a new one: a transactional producer's ``init_transactions``
        (same transactional id) completes or aborts the transaction the failed one left,
        so the group's committed offsets say which it was.
        """

    def deliver(self, records: Sequence[OutRecord], offsets: Mapping[Partition, int]) -> None:
        """Produce ``records`` and commit ``offsets``, both or (as far as readers see) neither."""

    def abort(self) -> None:
        """Settle anything left open (a transaction) before partitions move away."""

    def close(self, timeout_s: float) -> None: ...


class _ProducerOwner:
    """Holds the producer, making it on first use and again after a failure."""

    def __init__(self, make_producer: Callable[[], KafkaProducer], consumer: GroupConsumer) -> None:
        self._make_producer = make_producer
        self._producer: KafkaProducer | None = None
        self.consumer = consumer

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self._make_producer()
        return self._producer

    def connect(self) -> None:
        if self._producer is None:
            self._producer = self._make_producer()

    def _send_all(self, records: Sequence[OutRecord]) -> None:
        produce_all(self.producer, records, what="the batch")

    def _discard(self) -> None:
        """Drop the producer after a failure; the next batch gets a fresh one."""
        producer, self._producer = self._producer, None
        if producer is not None:
            discard(producer)

    def close(self, timeout_s: float) -> None:
        if self._producer is not None:
            with kafka_errors("close the producer"):
                self._producer.close(timeout=timeout_s)
            self._producer = None


class AtLeastOnceDelivery(_ProducerOwner):
    def deliver(self, records: Sequence[OutRecord], offsets: Mapping[Partition, int]) -> None:
        try:
            self._send_all(records)
        except TransportError:
            self._discard()
            raise
        self.consumer.commit(offsets)

    def abort(self) -> None:
        """Nothing is ever left open: each batch is flushed before it is committed."""


class TransactionalDelivery(_ProducerOwner):
    def __init__(self, make_producer: Callable[[], KafkaProducer], consumer: GroupConsumer) -> None:
        super().__init__(make_producer, consumer)
        self._open = False

    def deliver(self, records: Sequence[OutRecord], offsets: Mapping[Partition, int]) -> None:
        if not records and not offsets:
            return
        try:
            with kafka_errors("begin a transaction"):
                self.producer.begin_transaction()
            self._open = True
            self._send_all(records)
            with kafka_errors("commit the transaction"):
                if offsets:
                    kafka_offsets = to_kafka_offsets(offsets)
                    group = self.consumer.group_metadata()
                    await_transaction_step(
                        self.producer,
                        "send_offsets_to_transaction",
                        lambda tm: tm.send_offsets_to_transaction(kafka_offsets, group),
                    )
                await_transaction_step(
                    self.producer, "commit_transaction", TransactionManager.begin_commit
                )
            self._open = False
        except TransportError:
            self.abort()
            raise
        self.consumer.committed(offsets)

    def abort(self) -> None:
        """Abort the open transaction, if any (its records are never read), and start afresh.

        If the abort itself fails, the next producer's ``init_transactions``
        (same transactional id) aborts it, or the broker does on timeout. A commit or
        abort already asked for and not answered cannot be aborted (kafka-python
        refuses, "Invalid transition"): the next producer settles it, and the caller
        finds out which it was (:meth:`Delivery.connect`).
        """
        if not self._open:
            return
        self._open = False
        manager = self.producer._transaction_manager
        if manager is not None and manager.is_completing():
            log.info("the transaction's end was not answered; the next producer settles it")
            self._discard()
            return
        try:
            with kafka_errors("abort the transaction"):
                await_transaction_step(
                    self.producer, "abort_transaction", TransactionManager.begin_abort
                )
        except TransportError as exc:
            log.warning("%s", exc)
        self._discard()

    def close(self, timeout_s: float) -> None:
        self.abort()
        super().close(timeout_s)


def await_transaction_step(
    producer: KafkaProducer,
    step: str,
    begin: Callable[[TransactionManager], TransactionalRequestResult],
) -> None:
    """Run one transactional ``step`` of ``producer`` as kafka-python's method of that name
    does, but wait at most its ``transaction_timeout_ms`` (the broker aborts the transaction
    after that anyway); raise ``KafkaTimeoutError`` past that.

    Same calls as ``KafkaProducer.commit_transaction`` and its siblings in kafka-python 3.0
    (begin the step on the transaction manager, wake the sender, wait for the result), whose
    ``result.wait()`` has no limit. After the timeout the caller throws the producer away
    (:meth:`TransactionalDelivery.abort`); the next one's ``init_transactions``, same
    transactional id, aborts what was left open.
    """
    manager = producer._transaction_manager
    if manager is None:
        raise RuntimeError(f"{step} needs a transactional producer")
    result = begin(manager)
    producer._sender.wakeup()
    timeout_ms = producer.config["transaction_timeout_ms"]
    if not result.wait(timeout_ms=timeout_ms):
        raise KafkaTimeoutError(
            f"{step} not answered within the transaction timeout ({timeout_ms} ms)"
        )


def produce_all(producer: KafkaProducer, records: Sequence[OutRecord], *, what: str) -> None:
    """Send and flush ``records``; raise :class:`TransportError` unless every one was acked."""
    with kafka_errors(f"produce {what}"):
        futures = [_send(producer, r) for r in records]
        producer.flush(timeout=FLUSH_TIMEOUT_S)
    failed = [f for f in futures if not f.succeeded()]
    if failed:
        raise translate(
            failed[0].exception or TimeoutError("not acknowledged"),
            f"produce {what} ({len(failed)} of {len(futures)} records failed)",
        )


def discard(producer: KafkaProducer) -> None:
    """Close a producer that failed; closing may fail too, and it is gone either way.

    kafka-python's ``close`` flushes first and raises when records are still unsent (the
    broker is down), before it stops the producer's network thread: that thread was left
    running, retrying the dead broker and logging every attempt, one more per failed batch
    of an outage, and the producer's ``__del__`` printed a traceback later. Then the
    sender is closed without sending what is pending (those records were never
    acknowledged: their batch is consumed again) and the close finished.
    """
    try:
        producer.close(timeout=DISCARD_TIMEOUT_S)
    except Exception as exc:
        log.debug("closing a failed producer: %s; closing it without sending", exc)
        _force_close(producer)


def _force_close(producer: KafkaProducer) -> None:
    """Stop the sender without sending (it fails what is pending), then finish the close."""
    sender = producer._sender
    if sender is not None:
        sender.force_close()
        sender.join(DISCARD_TIMEOUT_S)
    try:
        producer.close(timeout=0)
    except Exception as exc:
        log.debug("closing a failed producer without sending: %s", exc)


def _send(producer: KafkaProducer, record: OutRecord) -> FutureRecordMetadata:
    return producer.send(record.topic, value=record.value, key=record.key, headers=record.headers)
