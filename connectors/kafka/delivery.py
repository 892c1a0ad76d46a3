"""Delivering a batch: its output records acknowledged, then its input offsets committed.

Two modes, one contract: when :meth:`Delivery.deliver` returns, every record
of the batch is acknowledged by the broker (acks=all) *and* the consumer
offsets are committed; when it raises :class:`TransportError`, the offsets
are not committed, so the batch's input is consumed again.

- :class:`TransactionalDelivery`: records and offsets go in one Kafka
  transaction (``send_offsets_to_transaction`` with the consumer's group
  metadata, KIP-447). Read-committed readers see a batch's output exactly
  once, even when the worker crashes between producing and committing; a
  member evicted from the group (a zombie) cannot commit.
- :class:`AtLeastOnceDelivery`: send, ``flush``, check every ack, then commit
  the offsets. A crash between the acks and the commit re-produces the
  batch: downstream sees duplicates, which the idempotent store absorbs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

import kafka.errors as kerrors
from kafka import KafkaProducer

from connectors.kafka.consumer import GroupConsumer, to_kafka_offsets
from connectors.kafka.errors import kafka_errors, translate
from connectors.kafka.records import OutRecord, Partition
from pipeline.errors import TransportError

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 60.0


class Delivery(Protocol):
    def deliver(self, records: Sequence[OutRecord], offsets: Mapping[Partition, int]) -> None:
        """Produce ``records`` and commit ``offsets``, both or (as far as readers see) neither."""

    def abort(self) -> None:
        """Settle anything left open (a transaction) before partitions move away."""

    def close(self, timeout_s: float) -> None: ...


class AtLeastOnceDelivery:
    def __init__(self, producer: KafkaProducer, consumer: GroupConsumer) -> None:
        self.producer = producer
        self.consumer = consumer

    def deliver(self, records: Sequence[OutRecord], offsets: Mapping[Partition, int]) -> None:
        with kafka_errors("produce the batch"):
            futures = [_send(self.producer, r) for r in records]
            self.producer.flush(timeout=FLUSH_TIMEOUT_S)
        failed = [f.exception for f in futures if not f.succeeded()]
        if failed:
            raise translate(
                failed[0] or kerrors.KafkaTimeoutError("not acknowledged"),
                f"produce the batch ({len(failed)} of {len(futures)} records failed)",
            )
        self.consumer.commit(offsets)

    def abort(self) -> None:
        """Nothing is ever left open: each batch is flushed before it is committed."""

    def close(self, timeout_s: float) -> None:
        with kafka_errors("close the producer"):
            self.producer.close(timeout=timeout_s)


class TransactionalDelivery:
    def __init__(self, producer: KafkaProducer, consumer: GroupConsumer) -> None:
        self.producer = producer
        self.consumer = consumer
        self._open = False

    def deliver(self, records: Sequence[OutRecord], offsets: Mapping[Partition, int]) -> None:
        if not records and not offsets:
            return
        try:
            with kafka_errors("produce the batch in a transaction"):
                self.producer.begin_transaction()
                self._open = True
                for record in records:
                    _send(self.producer, record)
                if offsets:
                    self.producer.send_offsets_to_transaction(
                        to_kafka_offsets(offsets), self.consumer.group_metadata()
                    )
                self.producer.commit_transaction()
                self._open = False
        except TransportError:
            self.abort()
            raise
        self.consumer.committed(offsets)

    def abort(self) -> None:
        """Abort the open transaction, if any: its records are never seen by readers."""
        if not self._open:
            return
        self._open = False
        try:
            with kafka_errors("abort the transaction"):
                self.producer.abort_transaction()
        except TransportError as exc:  # fenced or broken: the broker aborts it on timeout
            log.warning("%s", exc)

    def close(self, timeout_s: float) -> None:
        self.abort()
        with kafka_errors("close the producer"):
            self.producer.close(timeout=timeout_s)


def _send(producer: KafkaProducer, record: OutRecord):  # type: ignore[no-untyped-def]
    return producer.send(record.topic, value=record.value, key=record.key, headers=record.headers)
