"""Logging: one JSON event per line for machines, plain lines on a terminal.

Call :func:`setup` once at start. Pass context with ``extra=``; the keys
``feed``, ``url``, ``stage``, ``article_id``, ``reason``, ``event`` (and the others of
:data:`CONTEXT_KEYS`) become fields of the JSON event::

    log.warning("feed failed", extra={"feed": name, "reason": err.reason})

Warnings and errors are also kept in a small ring buffer (:data:`RECENT`) that
the status page shows as "recent errors"; a worker process (extraction, a
Kafka worker of ``newsflow run``) sends its own to the service's buffer
(:class:`ChildRecords`). A progress line drawn on the same
terminal (:class:`~pipeline.service.progress.Progress`) registers itself in
:data:`STATUS_LINE`, so a log line first wipes it and then has it redrawn.
A line that can come thousands of times a minute is said at most once a
minute, with a count (:class:`OncePer`).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from multiprocessing.context import BaseContext
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from typing import Any, Literal, TextIO

CONTEXT_KEYS = (
    "event",
    "feed",
    "url",
    "stage",
    "article_id",
    "reason",
    "topic",
    "count",
    "repeats",
)
RECENT_RECORDS = 200
MAX_FIELD_CHARS = 4000
"""The longest message or context value a log line carries. A URL comes from outside
(a 100 KB link in a record on news.items made each of its lines 200 KB, the URL once
in the message and once as ``url``); a line stays readable and greppable."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = record_fields(record)
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of one event: time, level, logger, message and its context keys."""
    event: dict[str, Any] = {
        "ts": _timestamp(record),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": bounded(record.getMessage()),
    }
    for key in CONTEXT_KEYS:
        value = getattr(record, key, None)
        if value is not None:
            event[key] = bounded(value)
    return event


def bounded(value: Any) -> Any:
    """``value``, or a text cut at :data:`MAX_FIELD_CHARS` that says how much it left out."""
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return f"{value[:MAX_FIELD_CHARS]}... ({len(value) - MAX_FIELD_CHARS} more characters)"
    return value


class RecentRecords(logging.Handler):
    """The last ``size`` warnings and errors as event dicts, for the status page."""

    def __init__(self, size: int = RECENT_RECORDS, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._records: deque[dict[str, Any]] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._records.append(record_fields(record))
        except Exception:  # pragma: no cover - a broken record must not break logging
            self.handleError(record)

    def newest(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` events, newest first."""
        return list(reversed(list(self._records)))[:limit]

    def clear(self) -> None:
        self._records.clear()


RECENT = RecentRecords()
"""The process's recent warnings and errors (installed by :func:`setup`)."""


class ChildRecords:
    """The warnings and errors of worker processes, into this process's :data:`RECENT`,
    and the level they log at, from this process's.

    A worker process writes its log lines to the stream itself; without this,
    the status page (served by the parent) would show none of its warnings,
    though most of an article's problems are met where it is extracted. Give
    :attr:`queue` to the workers' :func:`setup` (``recent_to``); a thread
    here moves what arrives into :data:`RECENT` until :meth:`stop`.

    A reload's ``service.log_level`` (:func:`set_level`) is written to :attr:`level`,
    which the workers follow (``level_from``): an operator turning on DEBUG to see
    why pages fail wants the lines of the processes that extract them.
    """

    def __init__(self, context: BaseContext) -> None:
        self.queue: Queue[Any] = context.Queue()
        self.level: Synchronized[int] = context.Value("i", logging.getLogger().level, lock=False)
        self._listener = QueueListener(self.queue, RECENT, respect_handler_level=True)
        self._listener.start()
        _LEVEL_FOLLOWERS.add(self)

    def stop(self) -> None:
        """After the workers are gone: take in what they sent, end the thread."""
        self._listener.stop()


class StatusLine:
    """A one-line display (a progress bar) sharing the terminal with the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._redraw: Callable[[], None] | None = None

    def attach(self, redraw: Callable[[], None]) -> None:
        with self._lock:
            self._redraw = redraw

    def detach(self) -> None:
        with self._lock:
            self._redraw = None

    @property
    def active(self) -> bool:
        return self._redraw is not None

    def redraw(self) -> None:
        redraw = self._redraw
        if redraw is not None:
            redraw()


STATUS_LINE = StatusLine()
_LEVEL_FOLLOWERS: weakref.WeakSet[ChildRecords] = weakref.WeakSet()
LEVEL_CHECK_SECONDS = 1.0
"""How soon a worker process takes a level its service was reloaded with."""


class _TerminalAwareHandler(logging.StreamHandler[TextIO]):
    """Writes records; on a terminal with a progress line, wipes it first and redraws it after."""

    def emit(self, record: logging.LogRecord) -> None:
        if not STATUS_LINE.active:
            super().emit(record)
            return
        self.acquire()
        try:
            self.stream.write("\r\x1b[K")
            super().emit(record)
        finally:
            self.release()
        STATUS_LINE.redraw()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{key}={bounded(getattr(record, key))}"
            for key in CONTEXT_KEYS
            if getattr(record, key, None) is not None
        )
        line = f"{record.levelname.lower():7} {bounded(record.getMessage())}"
        return f"{line}  [{context}]" if context else line


def setup(
    fmt: Literal["auto", "json", "text"] = "auto",
    level: str = "INFO",
    stream: TextIO | None = None,
    *,
    recent_to: Queue[Any] | None = None,
    level_from: Synchronized[int] | None = None,
) -> None:
    """Log to ``stream`` (stderr) in ``fmt``; warnings and errors also go to :data:`RECENT`,
    or, in a worker process, to the service's through ``recent_to``
    (:attr:`ChildRecords.queue`), at the service's level from then on with ``level_from``
    (:attr:`ChildRecords.level`)."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"
    handler = _TerminalAwareHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    recent: logging.Handler = RECENT
    if recent_to is not None:
        recent = QueueHandler(recent_to)
        recent.setLevel(logging.WARNING)
    logging.getLogger().handlers[:] = [handler, recent]
    logging.captureWarnings(True)  # a library's warning is one event too, not raw stderr
    _apply_level(logging.getLevelNamesMapping()[level])
    if level_from is not None:
        threading.Thread(
            target=_follow_level, args=(level_from,), name="log-level", daemon=True
        ).start()


def set_level(level: str) -> None:
    """Change the level at run time (a config reload), here and in the worker processes."""
    number = logging.getLevelNamesMapping()[level]
    _apply_level(number)
    for children in list(_LEVEL_FOLLOWERS):
        children.level.value = number


def _apply_level(level: int) -> None:
    logging.getLogger().setLevel(level)
    libraries = logging.INFO if level <= logging.DEBUG else logging.WARNING
    for noisy in ("kafka", "trafilatura", "urllib3", "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(libraries)
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def _follow_level(level: Synchronized[int]) -> None:
    """In a worker process, for its life: take the service's level when it changes."""
    while True:
        if logging.getLogger().level != level.value:
            _apply_level(level.value)
        time.sleep(LEVEL_CHECK_SECONDS)


class OncePer:
    """At most one occurrence per key every ``interval`` seconds is let through, and it
    carries how many were held back since the one before: an HTTP client refused (per
    reason) or a kafka-python warning (per logger and template) is one line a minute with a
    count, not thousands. Thread-safe."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._shown: dict[Hashable, tuple[float, int]] = {}
        """key -> (when one was last let through, how many were held back since)."""

    def admit(self, key: Hashable) -> int | None:
        """One occurrence of ``key``: let through, with how many were held back since the
        last one let through (0 for the first), or held back and counted (None)."""
        now = self.clock()
        with self._lock:
            shown_at, held = self._shown.get(key, (None, 0))
            if shown_at is not None and now - shown_at < self.interval:
                self._shown[key] = (shown_at, held + 1)
                return None
            self._shown[key] = (now, 0)
        return held
