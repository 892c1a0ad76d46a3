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

Once a minute per template was still 52-69 lines per broker kill under ``newsflow run``
(12-15 templates, each once in every one of its six processes that met it), nearly all
saying one thing: the broker is gone. A line that is only that
(:func:`is_connection_line`: it carries an error newsflow reads as the broker
unreachable or not answering, or is one of :data:`CONNECTION_TEMPLATES`) now shares
one key with every other such line of the process, and the one shown says so in
newsflow's words (``event`` ``kafka_connection_errors``): 6-15 lines per kill. A line
of any other template keeps its own key: a novel problem during an outage is still
shown. Every WARNING or ERROR is counted in :data:`CLIENT_LINES`, shown or not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Counter

from connectors.kafka.errors import UNREACHABLE_REASONS, reason_for
from pipeline.logs import OncePer

SELECTOR_LOGGER = "kafka.net.selector"
LIBRARY_LOGGER = "kafka"
REPEAT_WINDOW_S = 60.0
"""How often one kafka-python warning or error (one logger, one message template) is shown."""
CONNECTION_TEMPLATES = frozenset(
    {
        ("kafka.cluster", "No node available for metadata refresh - backoff/retry"),
        ("kafka.net.transport", "%s: socket disconnected"),
        ("kafka.net.manager", "Bootstrap %s not ready; waiting %.2f secs"),
    }
)
"""kafka-python 3's lines of a broker that went away that carry no error to read it from."""
CONNECTION_KEY = ("kafka", "connection")
"""The one key of all connection lines (:class:`RepeatsAsDebug`)."""
CONNECTION_SAID = (
    "Kafka broker connection failing, clients retrying (one such line a minute per process)"
)
"""What the one connection line shown says first; kafka-python's text follows."""
CLIENT_LINES = Counter(
    "newsflow_kafka_client_log_lines_total",
    "kafka-python's warnings and errors, by kind (connection: the broker unreachable or not"
    " answering; other) and outcome (shown; debug: held back as a DEBUG line).",
    ["kind", "outcome"],
)


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


def is_connection_line(record: logging.LogRecord) -> bool:
    """The line only says that the broker could not be reached or did not answer: one of its
    arguments is an error :func:`~connectors.kafka.errors.reason_for` reads so, or it is one of
    :data:`CONNECTION_TEMPLATES`."""
    if (record.name, str(record.msg)) in CONNECTION_TEMPLATES:
        return True
    args = record.args if isinstance(record.args, tuple) else ()
    return any(
        isinstance(arg, BaseException) and reason_for(arg) in UNREACHABLE_REASONS for arg in args
    )


class RepeatsAsDebug(logging.Filter, OncePer):
    """At most one WARNING or ERROR per logger and message template every ``window`` seconds,
    and one for all connection lines (:func:`is_connection_line`) together; the repeats in
    between become DEBUG records, and the next one shown carries their number as ``repeats``.

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
        connection = is_connection_line(record)
        held = self.admit(CONNECTION_KEY if connection else (record.name, str(record.msg)))
        kind = "connection" if connection else "other"
        CLIENT_LINES.labels(kind, "debug" if held is None else "shown").inc()
        if held is None:
            return _as_debug(record)
        if connection:
            _say_connection_failing(record)
        if held:
            record.repeats = held
        return True


def _say_connection_failing(record: logging.LogRecord) -> None:
    """Reword the one connection line shown: what it means first, kafka-python's text after."""
    record.msg, record.args = f"{CONNECTION_SAID}: {record.getMessage()}", ()
    record.event = "kafka_connection_errors"


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
