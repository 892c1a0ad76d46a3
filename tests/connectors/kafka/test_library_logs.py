"""kafka-python's slow-task warning and the repeats of a broker outage are DEBUG detail,
not an operator's WARNINGs; a broker outage is one connection line, not one per template."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator

import pytest
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, UnknownMemberIdError
from kafka_support import client_lines, closed_port

from connectors.kafka.clients import make_admin  # (installs the filter, as every client user)
from connectors.kafka.library_logs import (
    CONNECTION_SAID,
    REPEAT_WINDOW_S,
    REPEATS,
    SELECTOR_LOGGER,
    RepeatsAsDebug,
    ServiceWide,
    is_connection_line,
    share_connection_lines,
)
from pipeline.config import KafkaConfig
from pipeline.errors import TransportError

ECONNREFUSED = KafkaConnectionError("111 ECONNREFUSED")
DISCONNECTED = KafkaConnectionError("socket disconnected")
NODE = "<KafkaConnection node_id=1 broker_version=(4, 3) (disconnected)>"
TRANSPORT = "<KafkaTCPTransport node_id=1 host=127.0.0.1:19092>"
SLOW = (
    "Task <Task fetch> ran for 0.131s (>0.100s threshold). It is blocking the event loop"
    " -- likely a tight sync loop inside a coroutine. Other pollers will time out."
)


@pytest.fixture
def root_level() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    previous = root.level
    yield root
    root.setLevel(previous)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The installed repeat filter, with a clock of the test's own and nothing yet shown."""
    fake = FakeClock()
    (installed,) = {
        f
        for name in {name for name, *_ in OUTAGE_LINES}
        for f in logging.getLogger(name).filters
        if isinstance(f, RepeatsAsDebug)
    }
    monkeypatch.setattr(installed, "clock", fake)
    monkeypatch.setattr(installed, "_shown", {})
    monkeypatch.setattr(installed, "service_wide", None)  # a service started by another test
    return fake


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        (logging.INFO, [("WARNING", "Wakeup socket returned empty. Rebuilding.")]),
        (
            logging.DEBUG,
            [("DEBUG", SLOW), ("WARNING", "Wakeup socket returned empty. Rebuilding.")],
        ),
    ],
    ids=["info: not shown", "debug: shown as debug"],
)
def test_the_slow_task_warning_is_debug_detail(
    root_level: logging.Logger,
    caplog: pytest.LogCaptureFixture,
    clock: FakeClock,
    level: int,
    shown: list[tuple[str, str]],
) -> None:
    """Other warnings of the selector stay warnings."""
    root_level.setLevel(level)
    with caplog.at_level(level):
        logging.getLogger(SELECTOR_LOGGER).warning(SLOW)
        logging.getLogger(SELECTOR_LOGGER).warning("Wakeup socket returned empty. Rebuilding.")

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == shown


OUTAGE_LINES = [
    (
        "kafka.cluster",
        logging.WARNING,
        "No node available for metadata refresh - backoff/retry",
        (),
    ),
    ("kafka.cluster", logging.ERROR, "Metadata refresh: failed %s", (ECONNREFUSED,)),
    ("kafka.net.manager", logging.ERROR, "Connection failed: %s", (ECONNREFUSED,)),
    ("kafka.net.connection", logging.ERROR, "%s: Connection lost: %s", (NODE, ECONNREFUSED)),
    ("kafka.net.connection", logging.ERROR, "%s: Connection lost: %s", (NODE, DISCONNECTED)),
    ("kafka.net.transport", logging.ERROR, "%s: socket disconnected", (TRANSPORT,)),
    ("kafka.net.transport", logging.ERROR, "%s: Abort (%s)", (TRANSPORT, DISCONNECTED)),
    (
        "kafka.coordinator",
        logging.ERROR,
        "Error sending %s to node %s [%s]",
        ("FindCoordinatorRequest", 1, ECONNREFUSED),
    ),
    (
        "kafka.coordinator",
        logging.WARNING,
        "Marking the coordinator dead (node %s) for group %s: %s.",
        ("coordinator-1", "newsflow.extract", ECONNREFUSED),
    ),
    (
        "kafka.consumer.fetcher",
        logging.ERROR,
        "Fetch to node %s failed: %s",
        (1, DISCONNECTED),
    ),
    (
        "kafka.producer.sender",
        logging.WARNING,
        "%s: Got an exception when trying to find a node to send a transactional request to."
        " Going to back off and retry: %s",
        ("<Sender client_id=newsflow.store>", KafkaConnectionError("Node coordinator-1 not ready")),
    ),
    (
        "kafka.net.manager",
        logging.WARNING,
        "Bootstrap connection to %s failed: %s (backoff %.2f secs)",
        ("bootstrap-0", ECONNREFUSED, 0.8),
    ),
    (
        "kafka.net.manager",
        logging.WARNING,
        "Bootstrap %s not ready; waiting %.2f secs",
        ("bootstrap-0", 0.5),
    ),
    (
        "kafka.net.manager",
        logging.ERROR,
        "Bootstrap failed: %s",
        (KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:19092']"),),
    ),
]
"""kafka-python 3's connection lines while the broker was down (templates and arguments from
a killed broker under ``newsflow run``): each came a few times a second from every worker, and
once a minute per template was still 52-69 lines per kill."""
OTHER_LINES = [
    (
        "kafka.coordinator.heartbeat",
        logging.WARNING,
        "Heartbeat: local member_id was not recognized; this consumer needs to re-join",
        (),
    ),
    (
        "kafka.coordinator",
        logging.ERROR,
        "Error sending %s to node %s [%s]",
        ("HeartbeatRequest", 1, UnknownMemberIdError()),
    ),
]
"""Lines that are not the broker being away: shown on their own, outage or not."""


def log(lines: list[tuple[str, int, str, tuple[object, ...]]]) -> None:
    for name, level, msg, args in lines:
        logging.getLogger(name).log(level, msg, *args)


def outage(times: int) -> None:
    for _ in range(times):
        log(OUTAGE_LINES)


def shown(records: list[logging.LogRecord]) -> list[tuple[str, str, int | None]]:
    return [
        (r.name, r.levelname, getattr(r, "repeats", None))
        for r in records
        if r.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize(
    ("line", "connection"),
    [*((line, True) for line in OUTAGE_LINES), *((line, False) for line in OTHER_LINES)],
    ids=[f"connection {n}: {line[2][:40]}" for n, line in enumerate(OUTAGE_LINES)]
    + [f"other {n}: {line[2][:40]}" for n, line in enumerate(OTHER_LINES)],
)
def test_a_line_is_a_connection_line_when_it_only_says_the_broker_is_away(
    line: tuple[str, int, str, tuple[object, ...]], connection: bool
) -> None:
    name, level, msg, args = line
    record = logging.LogRecord(name, level, __file__, 1, msg, args, None)

    assert is_connection_line(record) is connection


def test_an_outage_shows_one_connection_line_a_minute_with_its_repeats(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """Was one line per failed connection attempt (~800 for a 60 s outage), then one per
    template and minute (14 here; 52-69 per broker kill under ``newsflow run``)."""
    root_level.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        outage(20)
        clock.now += REPEAT_WINDOW_S - 1
        outage(20)
        first = shown(caplog.records)
        caplog.clear()
        clock.now += 1
        outage(3)
        later = shown(caplog.records)

    name, level, *_ = OUTAGE_LINES[0]
    assert first == [(name, logging.getLevelName(level), None)]
    assert later == [(name, logging.getLevelName(level), 40 * len(OUTAGE_LINES) - 1)]


def test_the_connection_line_shown_says_what_it_means(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    root_level.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        logging.getLogger("kafka.net.manager").error("Connection failed: %s", ECONNREFUSED)

    (record,) = caplog.records
    assert record.getMessage() == f"{CONNECTION_SAID}: Connection failed: {ECONNREFUSED}"
    assert getattr(record, "event", None) == "kafka_connection_errors"


def test_a_reset_connection_logged_with_its_traceback_is_a_connection_line(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """kafka-python logs a broker killed mid-read with the socket's error and its traceback,
    one line per connection; the one shown says it in a few words."""
    reset = ConnectionResetError(104, "Connection reset by peer")
    root_level.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            logging.getLogger("kafka.net.transport").error(
                "%s: Error receiving network data closing socket", TRANSPORT, exc_info=reset
            )
        outage(1)

    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage() == (
        f"{CONNECTION_SAID}: {TRANSPORT}: Error receiving network data closing socket:"
        " ConnectionResetError: [Errno 104] Connection reset by peer"
    )
    assert record.exc_info is None


def test_other_lines_are_still_shown_during_an_outage_and_all_counted(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """Only what the connection line already says is held back; a novel problem is not."""
    kinds = [(k, o) for k in ("connection", "other") for o in ("shown", "debug")]
    before = {key: client_lines(*key) for key in kinds}
    root_level.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        outage(5)
        log(OTHER_LINES)

    assert [r.getMessage() for r in caplog.records][1:] == [
        msg % args for _, _, msg, args in OTHER_LINES
    ]
    assert {key: client_lines(*key) - value for key, value in before.items()} == {
        ("connection", "shown"): 1,
        ("connection", "debug"): 5 * len(OUTAGE_LINES) - 1,
        ("other", "shown"): len(OTHER_LINES),
        ("other", "debug"): 0,
    }


def test_held_back_repeats_are_debug_lines(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    root_level.setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        outage(3)

    levels = [r.levelname for r in caplog.records]
    assert levels.count("DEBUG") == 3 * len(OUTAGE_LINES) - 1
    assert len(levels) == 3 * len(OUTAGE_LINES)


def test_a_client_that_cannot_reach_its_broker_shows_one_line(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """kafka-python's own records (no broker needed: nothing listens on the port). Its
    bootstrap showed five lines before, one per template ("Connection failed: ...",
    "...: Connection lost: ...", "Bootstrap ... not ready", "Bootstrap connection to ...
    failed", "Bootstrap failed: ...")."""

    held_before = client_lines("connection", "debug")
    root_level.setLevel(logging.DEBUG)
    config = KafkaConfig(
        bootstrap_servers=[f"127.0.0.1:{closed_port()}"], bootstrap_timeout_ms=1500
    )
    with caplog.at_level(logging.DEBUG, logger="kafka"), pytest.raises(TransportError):
        make_admin(config)

    kafka = [r.getMessage() for r in caplog.records if r.name.startswith("kafka.")]
    shown_lines = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("kafka.") and r.levelno >= logging.WARNING
    ]
    assert len(shown_lines) == 1, shown_lines
    assert shown_lines[0].startswith(CONNECTION_SAID)
    assert client_lines("connection", "debug") > held_before, (
        f"kafka-python retried nothing: {kafka}"
    )


def test_the_processes_of_a_service_show_one_connection_line_a_minute_together(
    root_level: logging.Logger,
    caplog: pytest.LogCaptureFixture,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``newsflow run`` on Kafka is six processes, and each showed its own line of the same
    outage; the other process here is a forked child that logs first."""
    context = multiprocessing.get_context("fork")
    service_wide = ServiceWide(context)
    monkeypatch.setattr(REPEATS, "service_wide", None)
    root_level.setLevel(logging.INFO)
    child = context.Process(target=_outage_in_a_process_of, args=(service_wide, clock.now))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    share_connection_lines(service_wide)
    with caplog.at_level(logging.INFO):
        outage(2)
        clock.now += REPEAT_WINDOW_S
        outage(1)

    name, level, *_ = OUTAGE_LINES[0]
    held = len(OUTAGE_LINES) - 1 + 2 * len(OUTAGE_LINES)  # the child's repeats, then ours
    assert shown(caplog.records) == [(name, logging.getLevelName(level), held)]


def _outage_in_a_process_of(service_wide: ServiceWide, now: float) -> None:
    """In the child: one outage's lines, at ``now``, into a service shared with the parent."""
    REPEATS.clock = lambda: now
    share_connection_lines(service_wide)
    logging.getLogger().handlers[:] = []
    outage(1)
