"""Transactional delivery while the broker is killed and restarted (a broker of the test's own).

kafka-python 3.0 waits for ``send_offsets_to_transaction`` / ``commit_transaction`` without
a limit. With the broker killed mid-run, a store worker waited there for ever, even after
the broker came back (a request lost with its connection), holding its partitions while
``/readyz`` said ready. Each transactional step now gives up after the transaction
timeout, and the next batch's fresh producer delivers once the broker is back.
``at_least_once``'s plain offset commit is bounded by kafka-python itself (its request
timeout); a test keeps it so.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka.admin import NewTopic

from connectors.kafka.clients import make_admin, make_producer
from connectors.kafka.consumer import GroupConsumer
from connectors.kafka.delivery import AtLeastOnceDelivery, TransactionalDelivery, discard
from connectors.kafka.records import OutRecord, Partition
from pipeline.config import KafkaConfig
from pipeline.errors import TransportError

pytestmark = pytest.mark.kafka

TRANSACTION_TIMEOUT_MS = 2000


class _Group:
    """The two things delivery asks of its consumer: group metadata and committed offsets."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.offsets: dict[Partition, int] = {}

    def group_metadata(self) -> str:
        return self.group  # a bare group id: kafka-python's older form, enough here

    def committed(self, offsets: dict[Partition, int]) -> None:
        self.offsets.update(offsets)


def _read_committed(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        values = []
        for record in consumer:
            values.append(record.value)
            if len(values) >= count:
                break
        return values
    finally:
        consumer.close()


def test_a_commit_gives_up_while_the_broker_is_down_and_the_next_producer_delivers(
    own_broker,
) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"restart{run}"
    config = KafkaConfig(
        bootstrap_servers=[own_broker.bootstrap], transaction_timeout_ms=TRANSACTION_TIMEOUT_MS
    )
    admin = make_admin(config)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    group = _Group(f"g{run}")
    delivery = TransactionalDelivery(
        lambda: make_producer(config, client_id=f"c{run}", transactional_id=f"tx{run}"), group
    )
    delivery.connect()
    stuck = False
    try:
        delivery.deliver([OutRecord(topic, b"k", b"before")], {(topic, 0): 1})

        own_broker.kill()
        waited, stuck, raised = deliver_while_down(delivery, {(topic, 0): 2}, 30)
        assert not stuck, f"deliver() still waiting for the dead broker after {waited:.0f} s"
        assert len(raised) == 1 and isinstance(raised[0], TransportError), raised
        assert group.offsets == {(topic, 0): 1}  # the failed commit is not recorded

        own_broker.start()
        delivery.deliver([OutRecord(topic, b"k", b"after")], {(topic, 0): 2})
        assert group.offsets == {(topic, 0): 2}
        assert _read_committed(own_broker.bootstrap, topic, 2) == [b"before", b"after"]
    finally:
        if stuck:  # its abort would wait for ever too: close the producer alone
            delivery.producer.close(timeout=1)
        else:
            delivery.close(2.0)


def test_a_producer_discarded_while_the_broker_is_down_stops_its_network_thread(
    own_broker,
) -> None:
    """A failed batch's producer is thrown away; with records unsent (broker down),
    kafka-python's close raised before stopping its sender, which kept running."""
    run = uuid.uuid4().hex[:8]
    topic = f"discard{run}"
    config = KafkaConfig(bootstrap_servers=[own_broker.bootstrap])
    admin = make_admin(config)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    producer = make_producer(config, client_id=f"c{run}")
    producer.send(topic, b"before").get(timeout=30)
    own_broker.kill()
    producer.send(topic, b"never acknowledged")
    discard(producer)
    sender = producer._sender
    assert not sender.is_alive(), "the discarded producer's network thread still runs"


COMMIT_BOUND_S = 45.0
"""kafka-python 3.0's ``KafkaConsumer.commit`` gives up after ``request_timeout_ms`` (30 s,
its default, which the project keeps); a little more for a loaded machine."""


def test_an_at_least_once_commit_gives_up_while_the_broker_is_down(own_broker) -> None:
    """``delivery: at_least_once`` commits the batch's offsets with ``KafkaConsumer.commit``,
    not a transaction. With the broker killed just before, the commit must fail as a
    TransportError in bounded time (the batch is then consumed again), not wait for ever
    like the transactional steps did (kafka-python issue #3121)."""
    run = uuid.uuid4().hex[:8]
    topic = f"alo{run}"
    config = KafkaConfig(bootstrap_servers=[own_broker.bootstrap])
    admin = make_admin(config)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    consumer = GroupConsumer(config, group=f"g{run}", topics=[topic], client_id=f"c{run}")
    delivery = AtLeastOnceDelivery(lambda: make_producer(config, client_id=f"p{run}"), consumer)
    delivery.connect()
    stuck = False
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment():
            assert time.monotonic() < deadline, "the consumer never joined its group"
            consumer.poll(timeout_ms=200, max_records=10)
        delivery.deliver([OutRecord(topic, b"k", b"before")], {(topic, 0): 1})
        assert consumer._committed == {(topic, 0): 1}

        own_broker.kill()
        waited, stuck, raised = deliver_while_down(delivery, {(topic, 0): 2}, COMMIT_BOUND_S + 30)
        assert not stuck, f"the commit still waits for the dead broker after {waited:.0f} s"
        assert len(raised) == 1 and isinstance(raised[0], TransportError), raised
        assert waited < COMMIT_BOUND_S, f"the commit gave up only after {waited:.0f} s"
        assert consumer._committed == {(topic, 0): 1}  # the failed commit is not recorded
    finally:
        delivery.close(1.0)
        if not stuck:
            consumer.consumer.close(autocommit=False, timeout_ms=1000)


def deliver_while_down(
    delivery: Any, offsets: dict[tuple[str, int], int], timeout: float
) -> tuple[float, bool, list[BaseException]]:
    """``delivery.deliver([], offsets)`` on a thread, waited for ``timeout`` seconds: how long
    it took, whether it still waits, and what it raised."""
    raised: list[BaseException] = []

    def deliver() -> None:
        try:
            delivery.deliver([], offsets)
        except BaseException as exc:
            raised.append(exc)

    started = time.monotonic()
    attempt = threading.Thread(target=deliver, daemon=True)
    attempt.start()
    attempt.join(timeout=timeout)
    return time.monotonic() - started, attempt.is_alive(), raised
