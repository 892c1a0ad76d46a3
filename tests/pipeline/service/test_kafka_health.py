"""The Kafka readiness probe with nothing listening at the bootstrap address, or a silent
one (no broker needed, but to see the probe recover).

Connecting to such an address takes the client 15 s to give up; a probe
(Kubernetes' times out after 1 s) must not wait for that, and a service left
looking through a day's outage must not pile up what each look left behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

import kafka.errors as kerrors
import pytest
from kafka_support import SilentBroker, closed_port, unreachable_broker
from service_support import sqlite_file_locked

from connectors.storage.store import open_store
from pipeline.config import Config, parse_config
from pipeline.errors import TransportError
from pipeline.service import endpoints as endpoints_module
from pipeline.service import health, lookout
from pipeline.service.kafka_health import CACHE_SECONDS, BrokerProbe, stage_endpoints
from pipeline.service.lookout import STALE_SECONDS

T = TypeVar("T")

BOUND_S = 3.0
"""A bound on blocking, not a speed benchmark: the probe waits 0.8 s at most, the
client's bootstrap 15 s."""
LOOKS = 30
"""Looks at an unreachable broker: ten minutes of an outage."""
FAST_BOOTSTRAP_MS = 100
"""How long each client tries to connect, so that 30 failed looks take seconds (15 s in
production)."""


WIDE_ANSWER_S = 2.0
""":data:`~pipeline.service.lookout.ANSWER_SECONDS` (0.8 s) widened for the tests that
tell one wait from two by time, so a loaded machine's scheduling cannot make one wait
look like two (the 0.4 s margin of 0.8 s against 1.6 s becomes 1 s of 2 s against 4 s)."""


@pytest.fixture
def wide_answer_wait(monkeypatch: pytest.MonkeyPatch) -> float:
    for module in (lookout, health, endpoints_module):
        monkeypatch.setattr(module, "ANSWER_SECONDS", WIDE_ANSWER_S)
    return WIDE_ANSWER_S


@pytest.fixture
def unreachable(tmp_path: Path) -> Config:
    return parse_config(
        {
            "transport": "kafka",
            "storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
            "kafka": {"bootstrap_servers": [f"127.0.0.1:{closed_port()}"]},
        }
    )


def answered_within(seconds: float, ask: Callable[[], T]) -> T:
    """``ask()`` on a daemon thread; its answer, or TimeoutError after ``seconds`` (the
    thread is left to finish, so a blocking probe fails the test without holding it)."""
    answer: Future[T] = Future()

    def run() -> None:
        try:
            answer.set_result(ask())
        except BaseException as exc:
            answer.set_exception(exc)

    threading.Thread(target=run, name="answered_within", daemon=True).start()
    return answer.result(timeout=seconds)


def test_readiness_names_an_unreachable_broker_within_a_second(unreachable: Config) -> None:
    address = unreachable.kafka.bootstrap_servers[0]
    probe = BrokerProbe(unreachable, [])
    try:
        problem = answered_within(BOUND_S, probe.check)
        assert problem is not None
        assert problem.startswith(f"broker unreachable at {address}: no answer for ")
        again = answered_within(BOUND_S, probe.check)
        assert again is not None and again.startswith(f"broker unreachable at {address}")
    finally:
        answered_within(BOUND_S, probe.close)


def test_probes_asked_together_neither_queue_nor_hold_up_close(unreachable: Config) -> None:
    """Each waited for the one before (15 s apiece), and so did the process's exit."""
    probe = BrokerProbe(unreachable, ["newsflow.fetch"])
    answers: list[Future[str | None]] = []
    for _ in range(4):
        answer: Future[str | None] = Future()
        threading.Thread(target=lambda a=answer: a.set_result(probe.check()), daemon=True).start()
        answers.append(answer)
    deadline = time.monotonic() + BOUND_S
    for answer in answers:
        problem = answer.result(timeout=max(0.0, deadline - time.monotonic()))
        assert problem is not None and problem.startswith("broker unreachable at ")
    assert answered_within(BOUND_S, probe.dead_letters) is None
    answered_within(BOUND_S, probe.refresh_gauges)
    answered_within(BOUND_S, probe.close)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_refusal_is_reused_from_when_it_came(
    unreachable: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stamped with when it was asked, a 15 s failure was stale on arrival: every request
    waiting meanwhile started another 15 s look."""
    clock = Clock()
    probe = BrokerProbe(unreachable, [], clock=clock)
    looks: list[float] = []

    def refused_after_15_s() -> str | None:
        looks.append(clock.now)
        clock.now += 15
        raise TransportError(
            "Kafka: cannot connect the admin client: KafkaTimeoutError: Unable to bootstrap",
            reason="kafka_unavailable",
        )

    monkeypatch.setattr(probe, "_check", refused_after_15_s)
    address = unreachable.kafka.bootstrap_servers[0]
    try:
        first = probe.check()
        clock.now += 4
        second = probe.check()
        assert len(looks) == 1, "the answer that came 4 s ago is asked for again"
        refused = "Kafka: cannot connect the admin client: KafkaTimeoutError: Unable to bootstrap"
        assert first == second == f"broker unreachable at {address}: {refused}"
    finally:
        probe.close()


@pytest.mark.parametrize("stage", ["poll", "extract"])
def test_a_stage_member_is_not_live_until_its_loop_starts(unreachable: Config, stage: str) -> None:
    """It connects to the broker first (15 s to fail where nothing listens, then it exits);
    meanwhile /healthz said ok with no loop at all."""
    endpoints, ticker = stage_endpoints(unreachable, stage)
    loop = "poll" if stage == "poll" else "worker"
    try:
        report = endpoints.health.liveness()
        assert not report.ok
        assert report.details["problem"].startswith(f"loop {loop} has not started after ")
        if ticker is None:
            endpoints.control.tick()
        else:
            ticker(None)
        assert endpoints.health.liveness().ok
    finally:
        endpoints.close()


def test_a_slow_look_keeps_the_last_answer_until_the_broker_is_silent_too_long(
    unreachable: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that takes over a second to answer failed one readiness probe each time
    the cached answer ran out; one silent for longer than STALE_SECONDS is unreachable."""
    clock = Clock()
    probe = BrokerProbe(unreachable, [], clock=clock)
    release = threading.Event()
    looks = 0

    def ready_then_slow() -> str | None:
        nonlocal looks
        looks += 1
        if looks > 1:
            release.wait(BOUND_S * 3)
        return None

    monkeypatch.setattr(probe, "_check", ready_then_slow)
    try:
        assert answered_within(BOUND_S, probe.check) is None
        clock.now += CACHE_SECONDS + 1
        assert answered_within(BOUND_S, probe.check) is None  # the look in hand is slow
        clock.now += STALE_SECONDS
        silent = answered_within(BOUND_S, probe.check)
        assert silent is not None and silent.startswith("broker unreachable at ")
        assert looks == 2
    finally:
        release.set()
        probe.close()


def test_a_scrape_waits_for_a_silent_broker_once(
    unreachable: Config, monkeypatch: pytest.MonkeyPatch, wide_answer_wait: float
) -> None:
    """``/metrics`` refreshes the gauges, then readiness: the second look, queued behind the
    first, was waited for ANSWER_SECONDS more (1.6 s a scrape while the broker is silent)."""
    probe = BrokerProbe(unreachable, [])
    release = threading.Event()
    monkeypatch.setattr(probe, "_gauges", lambda: release.wait(BOUND_S * 3))
    try:
        answered_within(wide_answer_wait * 2, probe.refresh_gauges)
        started = time.monotonic()
        problem = answered_within(wide_answer_wait * 2, probe.check)
        assert time.monotonic() - started < wide_answer_wait / 2
        assert problem is not None and problem.startswith("broker unreachable at ")
    finally:
        release.set()
        probe.close()


def test_readiness_waits_for_a_stalled_store_and_a_silent_broker_at_once(
    tmp_path: Path, wide_answer_wait: float
) -> None:
    """A poller's store (its SQLite file locked: the probe's write waits 30 s) and broker
    (connected, never answering: 15 s) both stalled: its checks, asked in turn, each waited
    ANSWER_SECONDS, 1.6 s a /readyz, past Kubernetes' 1 s; together, one wait."""
    db = tmp_path / "store.db"
    with SilentBroker() as broker:
        config = parse_config({
            "transport": "kafka", "storage": {"url": f"sqlite:///{db}"},
            "kafka": {"bootstrap_servers": [broker.address]},
            "service": {"http_enabled": False},
        })  # fmt: skip
        open_store(config.storage.url).close()
        endpoints, _ = stage_endpoints(config, "poll")
        try:
            endpoints.start()
            with sqlite_file_locked(db):
                started = time.monotonic()
                report = answered_within(wide_answer_wait * 3, endpoints.health.readiness)
                took = time.monotonic() - started
        finally:
            endpoints.close()
    print(f"\n/readyz with the store and the broker stalled: {took:.3f} s")
    assert not report.ok
    assert report.details["store"].startswith(f"store {db} is not answering: ")
    assert report.details["kafka"].startswith(f"broker unreachable at {broker.address}: ")
    assert took < wide_answer_wait * 1.5, took


def test_readiness_starts_no_thread_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each /readyz started a thread per check (two on a poller) to wait for its checks
    together, while each check already waited on a lookout's thread: the checks now begin
    their looks, then wait for them until one deadline."""
    config = parse_config({
        "transport": "kafka", "storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
        "kafka": {"bootstrap_servers": [f"127.0.0.1:{closed_port()}"]},
        "service": {"http_enabled": False},
    })  # fmt: skip
    open_store(config.storage.url).close()
    endpoints, _ = stage_endpoints(config, "poll")
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    try:
        endpoints.start()
        answered_within(BOUND_S, endpoints.health.readiness)  # the lookouts' threads start
        monkeypatch.setattr(threading.Thread, "start", counted)
        for _ in range(5):
            report = answered_within(BOUND_S, endpoints.health.readiness)
            assert set(report.details) == {"kafka", "store"}
    finally:
        monkeypatch.undo()
        endpoints.close()
    assert started == ["answered_within"] * 5, "threads started beside the test's own"


def kafka_config(tmp_path: Path, address: str) -> Config:
    return parse_config(
        {
            "transport": "kafka",
            "storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
            "kafka": {"bootstrap_servers": [address], "bootstrap_timeout_ms": FAST_BOOTSTRAP_MS},
        }
    )


def counted_looks(probe: BrokerProbe, monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One item per look at readiness the probe has finished (its real look at the broker)."""
    finished: list[None] = []
    look = probe._check

    def counted() -> str | None:
        try:
            return look()
        finally:
            finished.append(None)

    monkeypatch.setattr(probe, "_check", counted)
    return finished


@pytest.mark.parametrize("kind", ["closed", "silent"])
def test_looks_at_an_unreachable_broker_leave_no_thread_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """kafka-python starts an admin client's io thread before it bootstraps, and a failed
    bootstrap left it running: one thread per look (one every 20 s, ~4,300 a day)."""
    clock = Clock()
    with unreachable_broker(kind) as (address, _):
        before = set(threading.enumerate())
        probe = BrokerProbe(kafka_config(tmp_path, address), [], clock=clock)
        looks = counted_looks(probe, monkeypatch)
        try:
            deadline = time.monotonic() + LOOKS * BOUND_S
            while len(looks) < LOOKS and time.monotonic() < deadline:
                clock.now += CACHE_SECONDS
                problem = probe.check()
                assert problem is not None
                assert problem.startswith(f"broker unreachable at {address}")
            assert len(looks) == LOOKS
            started = sorted(t.name for t in threading.enumerate() if t not in before)
            assert started == ["broker-probe-0"], f"left running after {LOOKS} looks"
        finally:
            probe.close()


@pytest.mark.kafka
def test_the_probe_says_ready_once_the_broker_answers_again(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    clock = Clock()
    with SilentBroker() as broker:
        probe = BrokerProbe(kafka_config(tmp_path, broker.address), [], clock=clock)
        try:
            problem = probe.check()
            assert problem is not None
            assert problem.startswith(f"broker unreachable at {broker.address}")
            broker.relay_to(kafka_bootstrap)
            deadline = time.monotonic() + BOUND_S * 5
            while problem is not None and time.monotonic() < deadline:
                clock.now += CACHE_SECONDS
                problem = probe.check()
            assert problem is None
        finally:
            probe.close()


class FormingGroupAdmin:
    """An admin client whose broker answers, but has not yet elected the groups' coordinator."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def describe_groups(self, groups: list[str]) -> dict[str, object]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [kerrors.CoordinatorNotAvailableError(), kerrors.CoordinatorLoadInProgressError()],
    ids=["not elected", "loading"],
)
def test_a_forming_group_is_not_ready_but_not_an_unreachable_broker(
    unreachable: Config, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """Read "broker unreachable at ...: CoordinatorNotAvailableError" in the first seconds
    after a broker start, while the broker answered."""
    probe = BrokerProbe(unreachable, ["newsflow.fetch", "newsflow.extract"])
    monkeypatch.setattr(probe._clients, "get", lambda: (FormingGroupAdmin(error), None))
    try:
        problem = answered_within(BOUND_S, probe.check)
    finally:
        answered_within(BOUND_S, probe.close)
    assert problem == (
        "group newsflow.fetch, newsflow.extract: coordinator not available yet"
        f" (group forming: {type(error).__name__})"
    )


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    unreachable: Config, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """newsflow said nothing of its own while a broker was down (kafka-python said it
    ~800 times a minute)."""
    clock = Clock()
    probe = BrokerProbe(unreachable, [], clock=clock)
    answers: list[str | None] = ["down", "down", "down", None, None]

    def look() -> str | None:
        if answers.pop(0) is None:
            return None
        raise TransportError("Kafka: cannot describe the cluster: 111 ECONNREFUSED",
                             reason="kafka_unavailable")  # fmt: skip

    monkeypatch.setattr(probe, "_check", look)
    address = unreachable.kafka.bootstrap_servers[0]
    try:
        with caplog.at_level(logging.INFO, logger="pipeline.service.kafka_health"):
            for _ in range(5):
                probe.check()
                clock.now += CACHE_SECONDS + 25
    finally:
        probe.close()
    lines = [(r.levelname, r.getMessage(), getattr(r, "event", None)) for r in caplog.records]
    assert lines == [
        ("WARNING", f"Kafka broker unreachable at {address}, waiting for it: Kafka: cannot"
                    " describe the cluster: 111 ECONNREFUSED", "kafka_unavailable"),
        ("INFO", f"Kafka broker at {address} answers again (unreachable for 90 s, 3 failed"
                 " looks)", "kafka_back"),
    ]  # fmt: skip
