"""A client's connections are closed on its own I/O thread, never under it.

A consumer and an admin client read their connections on a ``kafka-io`` thread.
kafka-python's ``close()`` closed those connections from the caller's thread while the
I/O thread still ran, and a response arriving just then was read from a socket already
set to None: an ERROR with an ``AttributeError`` traceback in 4 Kafka ``run --once``
in 148. The window is a few instructions wide; to hit it every time, the I/O thread is
held at the start of a read (where kafka-python's selector logs ``net.unregister_event``
at its trace level) while the client closes. The other tests watch the mechanism: every
connection is closed on the I/O thread, or once that thread has ended.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka.admin import NewTopic
from kafka.net.transport import KafkaTCPTransport

from connectors.kafka.clients import make_admin, make_consumer, make_producer
from pipeline.config import KafkaConfig

pytestmark = pytest.mark.kafka


@pytest.fixture
def closed_under_io_thread(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each connection closed by a thread other than its client's running I/O thread."""
    offenders: list[str] = []
    close = KafkaTCPTransport._close

    def watched(transport: KafkaTCPTransport, error: Any = None) -> None:
        io_thread = transport._net._io_thread
        here = threading.current_thread()
        if transport._sock is not None and io_thread is not None and io_thread is not here:
            offenders.append(f"{transport} closed by {here.name} while {io_thread.name} ran")
        close(transport, error)

    monkeypatch.setattr(KafkaTCPTransport, "_close", watched)
    return offenders


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    """A topic with records in it, so that a member's fetches are answered until it closes."""
    config = KafkaConfig(bootstrap_servers=[kafka_bootstrap])
    name = f"close-{uuid.uuid4().hex[:10]}"
    admin = make_admin(config)
    try:
        admin.create_topics([NewTopic(name, 2, 1)])
        producer = make_producer(config, client_id="close-test")
        for n in range(20):
            producer.send(name, f"record {n}".encode())
        producer.close(timeout=10)
        yield name
    finally:
        admin.delete_topics([name])
        admin.close()


def test_a_member_closes_its_connections_on_its_io_thread(
    kafka_bootstrap: str, topic: str, closed_under_io_thread: list[str]
) -> None:
    config = KafkaConfig(bootstrap_servers=[kafka_bootstrap])
    consumer = make_consumer(
        config, client_id="close-test", group=f"close-{uuid.uuid4().hex[:10]}", topics=[topic]
    )
    polled = 0
    for _ in range(20):
        polled += sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
        if polled:
            break
    consumer.close(autocommit=False, timeout_ms=5000)

    assert polled
    assert closed_under_io_thread == []


def test_an_admin_client_closes_its_connections_on_its_io_thread(
    kafka_bootstrap: str, topic: str, closed_under_io_thread: list[str]
) -> None:
    admin = make_admin(KafkaConfig(bootstrap_servers=[kafka_bootstrap]))
    assert topic in admin.list_topics()
    admin.close()

    assert closed_under_io_thread == []


HOLD_S = 2.0
"""How long the I/O thread is held at the start of its read: the close happens meanwhile
(without the fix at once; with it, the close waits for the read, then runs on the loop)."""


class HoldTheNextRead(logging.Filter):
    """Once armed, holds the I/O thread at the start of its next read of a broker's socket
    until the client has closed (or :data:`HOLD_S` has passed)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = threading.Event()
        self.reading = threading.Event()
        self.closed = threading.Event()

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            self.armed.is_set()
            and not self.reading.is_set()
            and record.msg.startswith("net.unregister_event")
            and record.args
            and record.args[1] == selectors.EVENT_READ
            and threading.current_thread().name.startswith("kafka-io")
        ):
            self.reading.set()
            self.closed.wait(HOLD_S)
        return False  # the trace records themselves are not wanted


@pytest.fixture
def read_hold() -> Iterator[HoldTheNextRead]:
    selector_log = logging.getLogger("kafka.net.selector")
    hold, level = HoldTheNextRead(), selector_log.level
    selector_log.addFilter(hold)
    selector_log.setLevel(5)  # kafka-python's trace level
    yield hold
    selector_log.removeFilter(hold)
    selector_log.setLevel(level)


def test_a_client_closed_while_its_io_thread_reads_logs_no_traceback(
    kafka_bootstrap: str, read_hold: HoldTheNextRead, caplog: pytest.LogCaptureFixture
) -> None:
    admin = make_admin(KafkaConfig(bootstrap_servers=[kafka_bootstrap]))
    read_hold.armed.set()
    asking = threading.Thread(target=ask_for_topics, args=(admin,), daemon=True)
    asking.start()
    assert read_hold.reading.wait(10), "the answer was never read"
    admin.close()
    read_hold.closed.set()
    asking.join(10)

    tracebacks = [r for r in caplog.records if r.name.startswith("kafka") and r.exc_info]
    assert [f"{r.getMessage()}: {r.exc_info and r.exc_info[1]!r}" for r in tracebacks] == []


def ask_for_topics(admin: Any) -> None:
    """A request whose answer the I/O thread reads while the client closes; its outcome
    (topics, or an error as the client went away) does not matter."""
    with contextlib.suppress(Exception):
        admin.list_topics()
