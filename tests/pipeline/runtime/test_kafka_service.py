"""The worker processes of ``newsflow run`` on Kafka, stopped while their broker is silent.

A worker process waits for its broker like ``newsflow stage``; the service stopping
(SIGTERM, or Ctrl-C, which reaches every process of the group) must end that wait at
once, not leave each worker to wait out its 15 s while the service gives up on it after
``STOP_GRACE_S`` (9 s) and kills it. No broker needed.
"""

from __future__ import annotations

import time
from pathlib import Path

from kafka_support import SilentBroker, wait_for

from pipeline.config import parse_config
from pipeline.runtime.kafka_service import WorkerProcesses

STOP_S = 5.0
"""A bound on the stop, not a speed benchmark: below ``STOP_GRACE_S``, so no worker was
killed."""


def test_workers_waiting_for_their_broker_stop_at_once_and_exit_0(tmp_path: Path) -> None:
    with SilentBroker() as broker:
        config = parse_config({
            "transport": "kafka",
            "storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
            "kafka": {"bootstrap_servers": [broker.address]},
            "extract": {"workers": 1},
            "service": {"http_enabled": False},
        })  # fmt: skip
        workers = WorkerProcesses(config)
        expected = sum(workers.counts().values())
        workers.start()
        try:
            wait_for(lambda: len(broker.connections) >= expected, timeout=60,
                     what="every worker to wait for the broker")  # fmt: skip
        finally:
            stopping = time.monotonic()
            workers.stop()
        took = time.monotonic() - stopping
    codes = {child.worker: child.process.exitcode for child in workers._children}
    assert took < STOP_S, codes
    assert set(codes.values()) == {0}, codes
