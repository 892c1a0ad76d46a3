"""kafka-python's log lines, as an operator should see them.

kafka-python 3 runs its network I/O as tasks and warns when one step of a task
takes over 0.1 s: "Task ... ran for 0.13s (>0.100s threshold). It is blocking
the event loop ... Other pollers will time out." On a busy host (a worker's
other threads extracting pages, two cores shared) a step is simply descheduled
that long; nothing times out, yet every Kafka run printed a few such WARNINGs.
The threshold is not among the clients' settings, so the line is shown at
DEBUG instead, where a person chasing a real stall still finds it.

While the broker is down, every client of every worker retries its connection
several times a second and logs each failure ("No node available for metadata
refresh", "Connection failed: ... ECONNREFUSED", "...: Connection lost: ...",
"Error sending FindCoordinatorRequest ..."): a 60 s outage under ``newsflow run``
wrote ~800 lines, against a dozen of newsflow's own. :class:`RepeatsAsDebug`
lets one line per logger and message template through every
:data:`REPEAT_WINDOW_S`, with the number of repeats it held back (``repeats``),
and shows the others at DEBUG.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pipeline.logs import OncePer

SELECTOR_LOGGER = "kafka.net.selector"
LIBRARY_LOGGER = "kafka"
REPEAT_WINDOW_S = 60.0
"""How often one kafka-python warning or error (one logger, one message template) is shown."""


def _as_debug(record: logging.LogRecord) -> bool:
    """Demote ``record`` to DEBUG; keep it only when the root logger shows DEBUG."""
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return logging.getLogger().isEnabledFor(logging.DEBUG)


class SlowTaskAsDebug(logging.Filter):
    """Turns the slow-task WARNING into a DEBUG record, dropped unless DEBUG is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or "blocking the event loop" not in record.msg:
            return True
        return _as_debug(record)


class RepeatsAsDebug(logging.Filter, OncePer):
    """At most one WARNING or ERROR per logger and message template every ``window`` seconds;
    the repeats in between become DEBUG records, and the next one shown carries their
    number as ``repeats``.

    Keyed by the template (``record.msg``), not the formatted text: the lines of an
    outage differ only in a node id, a port or an address.
    """

    def __init__(
        self, window: float = REPEAT_WINDOW_S, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        logging.Filter.__init__(self)
        OncePer.__init__(self, window, clock=clock)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        held = self.admit((record.name, str(record.msg)))
        if held is None:
            return _as_debug(record)
        if held:
            record.repeats = held
        return True


def kafka_loggers() -> list[logging.Logger]:
    """kafka-python's loggers (made when its modules are imported)."""
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] == LIBRARY_LOGGER]
    return [logging.getLogger(name) for name in [LIBRARY_LOGGER, *names]]


def quiet_library_logs() -> None:
    """Install :class:`SlowTaskAsDebug` on the selector logger and one
    :class:`RepeatsAsDebug` on every kafka-python logger, once.

    A filter acts only on records logged to its own logger (not those propagated from
    below), hence one on each."""
    selector = logging.getLogger(SELECTOR_LOGGER)
    if not any(isinstance(f, SlowTaskAsDebug) for f in selector.filters):
        selector.addFilter(SlowTaskAsDebug())
    repeats = RepeatsAsDebug()
    for logger in kafka_loggers():
        if not any(isinstance(f, RepeatsAsDebug) for f in logger.filters):
            logger.addFilter(repeats)
