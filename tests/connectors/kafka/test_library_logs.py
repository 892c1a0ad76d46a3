"""kafka-python's slow-task warning is DEBUG detail, not an operator's WARNING."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import connectors.kafka.clients  # noqa: F401  (installs the filter, as every client user does)
from connectors.kafka.library_logs import SELECTOR_LOGGER

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
    level: int,
    shown: list[tuple[str, str]],
) -> None:
    """Other warnings of the selector stay warnings."""
    root_level.setLevel(level)
    with caplog.at_level(level):
        logging.getLogger(SELECTOR_LOGGER).warning(SLOW)
        logging.getLogger(SELECTOR_LOGGER).warning("Wakeup socket returned empty. Rebuilding.")

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == shown
