"""Clients that fail to start leave nothing running behind them, and a stop ends their wait.

A service retries while its broker is away (the readiness probe every 20 s, a
member rejoining its group at every poll), each time with a new client: what a
failed one leaves open adds up over an outage of hours.

kafka-python's constructors wait up to ``bootstrap_timeout_ms`` (15 s) for a broker
to answer. Given the runner's ``stop``, the wait ends within a fraction of a second of
the stop with :class:`StoppedWhileWaiting` naming the address, and nothing of the
half-built client is left either. No broker needed, but for the clients the broker refuses.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kafka_support import closed_port, unreachable_broker

from connectors.kafka.clients import make_admin, make_consumer, make_producer
from pipeline.config import KafkaConfig
from pipeline.errors import StoppedWhileWaiting, TransportError

ATTEMPTS = 10
STOP_AFTER_S = 1.0
BOUND_S = 1.0
"""A bound on the time from the stop to the raise, not a speed benchmark (it takes ~0.01 s;
without the stop, the client waits out its 15 s)."""


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


CLIENTS: dict[str, Callable[[KafkaConfig, threading.Event | None], Any]] = {
    "admin": lambda config, stop: make_admin(config, stop=stop),
    "consumer": lambda config, stop: make_consumer(config, client_id="lookout", stop=stop),
    "group member": lambda config, stop: make_consumer(
        config, client_id="member", group="newsflow.extract", topics=["news.pages"], stop=stop
    ),
    "producer": lambda config, stop: make_producer(config, client_id="poll", stop=stop),
}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_client_that_cannot_reach_its_broker_leaves_nothing_open(client: str) -> None:
    """kafka-python starts the client's io thread and opens its selector before it
    bootstraps, and a bootstrap that failed left both open: a thread and 4 descriptors
    per attempt."""
    config = KafkaConfig(bootstrap_servers=[f"127.0.0.1:{closed_port()}"], bootstrap_timeout_ms=100)
    threads, descriptors = failed_attempts(lambda: CLIENTS[client](config, None))
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


def stopped_after(make: Callable[[threading.Event], Any]) -> tuple[StoppedWhileWaiting, float]:
    """Make a client, setting its ``stop`` after :data:`STOP_AFTER_S`; the error and the
    seconds from the stop to the raise."""
    stop = threading.Event()
    timer = threading.Timer(STOP_AFTER_S, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(StoppedWhileWaiting) as raised:
            make(stop)
    finally:
        timer.cancel()
    return raised.value, time.monotonic() - started - STOP_AFTER_S


@pytest.mark.parametrize("kind", ["closed", "silent"])
@pytest.mark.parametrize("client", CLIENTS)
def test_a_stop_ends_the_wait_for_the_broker_and_leaves_nothing_behind(
    client: str, kind: str
) -> None:
    before = set(threading.enumerate())
    with unreachable_broker(kind) as (address, silent):
        config = KafkaConfig(bootstrap_servers=[address])
        error, took = stopped_after(lambda stop: CLIENTS[client](config, stop))
        assert took < BOUND_S
        assert f"for the Kafka broker at {address}, which did not answer" in str(error)
        if silent is not None:
            assert silent.all_closed_by_clients(timeout=2.0), "a connection was left open"
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == [], "threads of the half-built client are still running"


def test_a_stop_before_the_client_is_made_does_not_wait_at_all() -> None:
    config = KafkaConfig(bootstrap_servers=[f"127.0.0.1:{closed_port()}"])
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    with pytest.raises(StoppedWhileWaiting):
        make_admin(config, stop=stop)
    assert time.monotonic() - started < BOUND_S
