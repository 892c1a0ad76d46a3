"""kafka-python's lines while a broker of the test's own is down: one connection line."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress

import pytest
from kafka import KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError
from kafka_support import client_lines

from connectors.kafka.clients import make_admin  # (installs the filter, as every client user)
from connectors.kafka.library_logs import CONNECTION_SAID, RepeatsAsDebug
from pipeline.config import KafkaConfig

pytestmark = pytest.mark.kafka

OUTAGE_S = 8.0
"""Long enough for every retrying client to fail several times (about once a second)."""


def _make_topic(bootstrap: str, topic: str) -> None:
    admin = make_admin(KafkaConfig(bootstrap_servers=[bootstrap]))
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()


@pytest.fixture
def debug_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The root logger at DEBUG (held-back lines are kept), the repeat filter fresh."""
    for name in ("kafka.cluster", "kafka.net.manager"):
        for installed in logging.getLogger(name).filters:
            if isinstance(installed, RepeatsAsDebug):
                monkeypatch.setattr(installed, "_shown", {})
                monkeypatch.setattr(installed, "service_wide", None)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.setLevel(previous)


def test_a_killed_broker_shows_one_kafka_line(
    own_broker, debug_root: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Was a line per failed retry (~800 a minute under ``newsflow run``), then one per
    logger and message template."""
    topic = f"outage{uuid.uuid4().hex[:8]}"
    _make_topic(own_broker.bootstrap, topic)
    producer = KafkaProducer(bootstrap_servers=own_broker.bootstrap, max_block_ms=500)
    try:
        producer.send(topic, b"before").get(timeout=30)
        caplog.clear()
        held_before = client_lines("connection", "debug")
        own_broker.kill()
        with caplog.at_level(logging.DEBUG, logger="kafka"):
            deadline = time.monotonic() + OUTAGE_S
            while time.monotonic() < deadline:
                with suppress(KafkaTimeoutError):  # asks the broker, leaves nothing pending
                    producer.partitions_for(f"{topic}-unknown")
    finally:
        producer.close(timeout=1)
    kafka = [r for r in caplog.records if r.name.startswith("kafka")]
    shown = [r.getMessage() for r in kafka if r.levelno >= logging.WARNING]
    held = client_lines("connection", "debug") - held_before
    assert shown, "the outage logged nothing: the test saw no outage"
    assert len(shown) == 1, shown
    assert shown[0].startswith(CONNECTION_SAID)
    assert held, "no repeats held back: the test saw no retries"
