"""Clients that fail to start leave nothing running behind them.

A service retries while its broker is away (the readiness probe every 20 s, a
member rejoining its group at every poll), each time with a new client: what a
failed one leaves open adds up over an outage of hours.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kafka_support import closed_port

from connectors.kafka.clients import make_admin, make_consumer, make_producer
from pipeline.config import KafkaConfig
from pipeline.errors import TransportError

ATTEMPTS = 10


@pytest.fixture(autouse=True)
def kafka_logs_not_kept(caplog: pytest.LogCaptureFixture) -> None:
    """kafka-python logs a failed connection with the connection among the arguments: the
    records pytest keeps would keep its socket open (a service's log lets them go)."""
    caplog.set_level(logging.CRITICAL, logger="kafka")


def open_descriptors() -> int:
    gc.collect()  # sockets of a client closed properly but not yet collected are not a leak
    return len(os.listdir("/proc/self/fd"))


def failed_attempts(connect: Callable[[], Any]) -> tuple[list[str], int]:
    """``connect`` ATTEMPTS times, each failing: the threads left running after them (by
    name) and how many more descriptors are open (give or take a few that threads left by
    earlier tests open and close meanwhile)."""
    threads, descriptors = set(threading.enumerate()), open_descriptors()
    for _ in range(ATTEMPTS):
        with pytest.raises(TransportError):
            connect()
    left = sorted(t.name for t in threading.enumerate() if t not in threads)
    return left, open_descriptors() - descriptors


CLIENTS: dict[str, Callable[[KafkaConfig], Any]] = {
    "admin": lambda config: make_admin(config),
    "consumer": lambda config: make_consumer(config, client_id="lookout"),
    "group member": lambda config: make_consumer(
        config, client_id="member", group="newsflow.extract", topics=["news.pages"]
    ),
}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_client_that_cannot_reach_its_broker_leaves_nothing_open(client: str) -> None:
    """kafka-python starts the client's io thread and opens its selector before it
    bootstraps, and a bootstrap that failed left both open: a thread and 4 descriptors
    per attempt."""
    config = KafkaConfig(bootstrap_servers=[f"127.0.0.1:{closed_port()}"], bootstrap_timeout_ms=100)
    threads, descriptors = failed_attempts(lambda: CLIENTS[client](config))
    assert threads == []
    assert descriptors < ATTEMPTS


@pytest.mark.kafka
def test_a_transactional_producer_the_broker_refuses_leaves_nothing_open(
    kafka_bootstrap: str,
) -> None:
    """The producer's network thread runs before ``init_transactions`` asks the broker, which
    refuses a transaction timeout above its ``transaction.max.timeout.ms`` (15 min)."""
    config = KafkaConfig(bootstrap_servers=[kafka_bootstrap], transaction_timeout_ms=1_000_000)
    tid = f"refused-{uuid.uuid4().hex[:8]}"
    threads, descriptors = failed_attempts(
        lambda: make_producer(config, client_id=tid, transactional_id=tid)
    )
    assert threads == []
    assert descriptors < ATTEMPTS


@pytest.mark.kafka
def test_a_member_of_topics_that_do_not_exist_leaves_nothing_open(kafka_bootstrap: str) -> None:
    config = KafkaConfig(bootstrap_servers=[kafka_bootstrap])
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    threads, descriptors = failed_attempts(
        lambda: make_consumer(config, client_id="member", group=missing, topics=[missing])
    )
    assert threads == []
    assert descriptors < ATTEMPTS
