"""kafka-python's slow-task warning and the repeats of a broker outage are DEBUG detail,
not an operator's WARNINGs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from kafka.errors import KafkaConnectionError

import connectors.kafka.clients  # noqa: F401  (installs the filter, as every client user does)
from connectors.kafka.library_logs import REPEAT_WINDOW_S, SELECTOR_LOGGER, RepeatsAsDebug

ECONNREFUSED = KafkaConnectionError("111 ECONNREFUSED")
NODE = "<KafkaConnection node_id=1 broker_version=(4, 3) (disconnected)>"
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
    (
        "kafka.coordinator",
        logging.ERROR,
        "Error sending %s to node %s [%s]",
        ("FindCoordinatorRequest", 1, ECONNREFUSED),
    ),
]
"""kafka-python 3's lines while the broker was down (from a killed broker under
``newsflow run``): each came a few times a second from every worker."""


def outage(times: int) -> None:
    for _ in range(times):
        for name, level, msg, args in OUTAGE_LINES:
            logging.getLogger(name).log(level, msg, *args)


def test_an_outage_shows_each_kafka_line_once_a_minute_with_its_repeats(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """Was one line per failed connection attempt: ~800 lines for a 60 s outage."""
    root_level.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        outage(20)
        clock.now += REPEAT_WINDOW_S - 1
        outage(20)
        first = [(r.name, r.levelname, getattr(r, "repeats", None)) for r in caplog.records]
        caplog.clear()
        clock.now += 1
        outage(3)
        later = [(r.name, r.levelname, getattr(r, "repeats", None)) for r in caplog.records]

    assert first == [(name, logging.getLevelName(level), None) for name, level, *_ in OUTAGE_LINES]
    assert later == [(name, logging.getLevelName(level), 39) for name, level, *_ in OUTAGE_LINES]


def test_held_back_repeats_are_debug_lines(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    root_level.setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        outage(3)

    levels = [r.levelname for r in caplog.records]
    assert levels.count("DEBUG") == 2 * len(OUTAGE_LINES)
    assert len(levels) == 3 * len(OUTAGE_LINES)
