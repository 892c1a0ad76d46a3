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


def test_the_slow_task_warning_is_not_shown_at_info(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    root_level.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        logging.getLogger(SELECTOR_LOGGER).warning(SLOW)
        logging.getLogger(SELECTOR_LOGGER).warning("Wakeup socket returned empty. Rebuilding.")

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Wakeup socket returned empty. Rebuilding.")
    ]


def test_at_debug_it_is_shown_as_debug(
    root_level: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    root_level.setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger(SELECTOR_LOGGER).warning(SLOW)

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("DEBUG", SLOW)]
