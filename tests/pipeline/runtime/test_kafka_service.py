"""The worker processes of ``newsflow run`` on Kafka, stopped while their broker is silent.

A worker process waits for its broker like ``newsflow stage``; the service stopping
(SIGTERM, or Ctrl-C, which reaches every process of the group) must end that wait at
once, not leave each worker to wait out its 15 s while the service gives up on it after
``STOP_GRACE_S`` (9 s) and kills it. No broker needed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from kafka_support import SilentBroker, wait_for

from pipeline.config import parse_config
from pipeline.errors import TransportError
from pipeline.runtime.kafka_service import WorkerProcesses

STOP_S = 5.0
"""A bound on the stop, not a speed benchmark: below ``STOP_GRACE_S``, so no worker was
killed."""
ORPHAN_S = 5.0
"""The restarted worker connects to the silent broker afresh: its stop may wait its
``ORPHAN_GRACE_S``-bounded connect too."""


def _started_workers(broker: SilentBroker, tmp_path: Path) -> tuple[WorkerProcesses, int]:
    """Every worker process of ``newsflow run``, started against ``broker``; and how many."""
    config = parse_config({
        "transport": "kafka",
        "storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
        "kafka": {"bootstrap_servers": [broker.address]},
        "extract": {"workers": 1},
        "service": {"http_enabled": False},
    })  # fmt: skip
    workers = WorkerProcesses(config)
    workers.start()
    return workers, sum(workers.counts().values())


def test_workers_waiting_for_their_broker_stop_at_once_and_exit_0(tmp_path: Path) -> None:
    with SilentBroker() as broker:
        workers, expected = _started_workers(broker, tmp_path)
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


def test_the_service_still_stops_after_a_worker_was_killed(tmp_path: Path) -> None:
    """A worker killed outright (kill -9, the OOM killer) is restarted; stopping the
    service afterwards must not wait for the dead one: with a ``multiprocessing.Event``,
    ``set()`` waited for ever for the killed worker, a sleeper on its condition, to wake."""
    with SilentBroker() as broker:
        workers, expected = _started_workers(broker, tmp_path)
        stopper: threading.Thread | None = None
        try:
            wait_for(lambda: len(broker.connections) >= expected, timeout=60,
                     what="every worker to wait for the broker")  # fmt: skip
            store = next(c for c in workers._children if c.worker == "store")
            killed = store.process
            killed.kill()
            killed.join(10)
            workers.supervise()
            assert store.process is not killed and store.process.is_alive()
            stopping = time.monotonic()
            stopper = threading.Thread(target=workers.stop, daemon=True)
            stopper.start()
            stopper.join(timeout=30)
            took = time.monotonic() - stopping
            assert not stopper.is_alive(), f"stop() still waiting after {took:.0f} s"
            assert took < STOP_S + ORPHAN_S, took
        finally:
            if stopper is None:
                workers.stop()
            for child in workers._children:  # a stop that hung left them running
                if child.process.is_alive():
                    child.process.kill()


def test_a_failed_start_of_the_worker_processes_is_told_by_the_supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The processes start on a thread of their own once their fork server forks; one that
    cannot be started (the server died) must stop the service with a clear error, not leave
    it running without workers (``--once`` would wait for ever for them to drain)."""
    config = parse_config({
        "transport": "kafka",
        "storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
        "service": {"http_enabled": False},
    })  # fmt: skip

    def cannot_start(worker: str, beat: object) -> None:
        raise EOFError("the fork server is gone")

    workers = WorkerProcesses(config)
    monkeypatch.setattr(workers, "_start", cannot_start)
    workers.start()
    try:
        assert workers.wait_started(60), "the start did not end in 60 s"
        with pytest.raises(TransportError, match=r"worker processes did not start.*EOFError"):
            workers.supervise()
    finally:
        workers.stop()


HUNG_AFTER_S = 10.0


def test_a_worker_whose_loop_stands_still_is_killed_and_restarted(kafka_env) -> None:
    """A worker process that hangs (here: SIGSTOP) is replaced after the liveness timeout.

    Seen with a broker killed mid-commit: the store worker waited for ever, and `newsflow
    run`'s /healthz, which only sees the poller's loop, stayed 200; only an exit was
    restarted.
    """
    kafka_env.configure(service={"http_enabled": False, "liveness_timeout_seconds": HUNG_AFTER_S})
    kafka_env.create_topics()
    workers = WorkerProcesses(kafka_env.config)
    workers.start()
    try:
        assert workers.wait_started(60), "the worker processes did not start in 60 s"
        names = {c.worker for c in workers._children}
        wait_for(lambda: all(kafka_env.group_members(n) for n in names), timeout=90,
                 what="every worker in its group")  # fmt: skip
        store = next(c for c in workers._children if c.worker == "store")
        hung = store.process
        os.kill(hung.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        wait_for(lambda: _state(hung.pid) == "T", timeout=10, what="the SIGSTOP", every=0.01)
        # The timeout counts from the worker's last turn, which may have begun a while
        # before the SIGSTOP (an idle poll's commit to a busy broker).
        last_beat = store.beat.value

        def replaced() -> bool:
            workers.supervise()
            return store.process is not hung

        wait_for(replaced, timeout=HUNG_AFTER_S + 30, what="the hung store worker's replacement")
        replaced_at = time.monotonic()
        assert not hung.is_alive()
        assert replaced_at - last_beat > HUNG_AFTER_S, "killed before its liveness timeout"
        assert replaced_at - stopped_at < HUNG_AFTER_S + 15, replaced_at - stopped_at
        assert all(c.process.is_alive() for c in workers._children)
    finally:
        workers.stop()


def _state(pid: int) -> str:
    """The state letter of process ``pid`` (``T``: stopped by a signal)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
