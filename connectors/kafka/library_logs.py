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
one key with every other such line, kept for all the processes of ``newsflow run``
together (:class:`ServiceWide`), and the one shown says so in newsflow's words
(``event`` ``kafka_connection_errors``). A line of any other template keeps its own
key: a novel problem during an outage is still shown. Every WARNING or ERROR is counted
in :data:`CLIENT_LINES`, shown or not.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from ctypes import c_double
from multiprocessing.context import BaseContext

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
CONNECTION_SAID = "Kafka broker connection failing, clients retrying (one such line a minute)"
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
    """The line only says that the broker could not be reached or did not answer: an error
    among its arguments, or the one it was logged with, says so (:func:`_unreachable`), or
    it is one of :data:`CONNECTION_TEMPLATES`."""
    if (record.name, str(record.msg)) in CONNECTION_TEMPLATES:
        return True
    args = record.args if isinstance(record.args, tuple) else ()
    errors = [*args, record.exc_info[1] if record.exc_info else None]
    return any(isinstance(error, BaseException) and _unreachable(error) for error in errors)


def _unreachable(error: BaseException) -> bool:
    """A refused, reset or broken connection (kafka-python logs the socket's own error with
    its traceback: "Error receiving network data closing socket"), or an error newsflow reads
    as the broker unreachable or not answering (:func:`~connectors.kafka.errors.reason_for`)."""
    return isinstance(error, ConnectionError) or reason_for(error) in UNREACHABLE_REASONS


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
        self.service_wide: ServiceWide | None = None
        """Where the connection key is kept when the processes of a service share it
        (:func:`share_connection_lines`); None: in this process."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        connection = is_connection_line(record)
        if connection and self.service_wide is not None:
            held = self.service_wide.admit(self.clock(), self.interval)
        else:
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


class ServiceWide:
    """The connection key of :class:`RepeatsAsDebug` for every process of one service
    (``newsflow run`` on Kafka and its worker processes): when a connection line was last
    shown and how many were held back since, in shared memory. Without it each of the six
    processes showed its own line of the same outage.

    No lock: two processes racing show one line more (or miscount a repeat), and a process
    killed in the middle cannot block the others' logging. ``clock`` must be one all the
    processes share (``time.monotonic`` is, on Linux).
    """

    def __init__(self, context: BaseContext) -> None:
        self._state = context.RawArray(c_double, [-math.inf, 0.0])

    def admit(self, now: float, interval: float) -> int | None:
        """As :meth:`OncePer.admit <pipeline.logs.OncePer.admit>`, for the one key."""
        shown_at, held = self._state[0], int(self._state[1])
        if now - shown_at < interval:
            self._state[1] = held + 1
            return None
        self._state[0], self._state[1] = now, 0.0
        return held


def _say_connection_failing(record: logging.LogRecord) -> None:
    """Reword the one connection line shown: what it means first, kafka-python's text after,
    and the error it was logged with in a few words, not as a traceback."""
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        text = f"{text}: {type(error).__name__}: {error}"
        record.exc_info, record.exc_text = None, None
    record.msg, record.args = f"{CONNECTION_SAID}: {text}", ()
    record.event = "kafka_connection_errors"


def kafka_loggers() -> list[logging.Logger]:
    """kafka-python's loggers (made when its modules are imported)."""
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] == LIBRARY_LOGGER]
    return [logging.getLogger(name) for name in [LIBRARY_LOGGER, *names]]


def quiet_library_logs() -> None:
    """Install :class:`SlowTaskAsDebug` on the selector logger and :data:`REPEATS` on every
    kafka-python logger, once.

    A filter acts only on records logged to its own logger (not those propagated from
    below), hence one on each."""
    selector = logging.getLogger(SELECTOR_LOGGER)
    if not any(isinstance(f, SlowTaskAsDebug) for f in selector.filters):
        selector.addFilter(SlowTaskAsDebug())
    for logger in kafka_loggers():
        if not any(isinstance(f, RepeatsAsDebug) for f in logger.filters):
            logger.addFilter(REPEATS)


def share_connection_lines(service_wide: ServiceWide) -> None:
    """From now on this process shows a connection line only when no process sharing
    ``service_wide`` has shown one within the window."""
    REPEATS.service_wide = service_wide


REPEATS = RepeatsAsDebug()
"""The one repeat filter of this process, on every kafka-python logger."""
