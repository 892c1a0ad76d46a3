"""kafka-python's log lines, as an operator should see them.

kafka-python 3 runs its network I/O as tasks and warns when one step of a task
takes over 0.1 s: "Task ... ran for 0.13s (>0.100s threshold). It is blocking
the event loop ... Other pollers will time out." On a busy host (a worker's
other threads extracting pages, two cores shared) a step is simply descheduled
that long; nothing times out, yet every Kafka run printed a few such WARNINGs.
The threshold is not among the clients' settings, so the line is shown at
DEBUG instead, where a person chasing a real stall still finds it.
"""

from __future__ import annotations

import logging

SELECTOR_LOGGER = "kafka.net.selector"


class SlowTaskAsDebug(logging.Filter):
    """Turns the slow-task WARNING into a DEBUG record, dropped unless DEBUG is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or "blocking the event loop" not in record.msg:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def quiet_slow_task_warnings() -> None:
    """Install :class:`SlowTaskAsDebug` once on kafka-python's selector logger."""
    selector = logging.getLogger(SELECTOR_LOGGER)
    if not any(isinstance(f, SlowTaskAsDebug) for f in selector.filters):
        selector.addFilter(SlowTaskAsDebug())
