"""A progress line for ``newsflow run --once`` and backfills, on a terminal only.

One line on stderr, redrawn in place with a carriage return at most ten
times a second; log lines printed meanwhile wipe it and have it redrawn
(:data:`pipeline.logs.STATUS_LINE`). When stderr is not a terminal (a
service, a pipe, a test) it is silent: logs stay one JSON event per line::

    progress = Progress.for_terminal(sys.stderr)
    progress.expect("feeds", 7)
    progress.add("feeds")
    progress.add("stored", 12)
    progress.close()                     # the last state, then a newline
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from pipeline import logs

ORDER = ("feeds", "entries", "fetch", "extract", "dedup", "store", "dead letters")
REDRAW_SECONDS = 0.1


class Progress:
    """Counters drawn as one line; every method is a no-op when ``enabled`` is false."""

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.enabled = enabled
        self.clock = clock
        self.started = clock()
        self._counts: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._drawn_at = 0.0
        self._lock = threading.Lock()
        if enabled:
            logs.STATUS_LINE.attach(self._draw)

    @classmethod
    def for_terminal(cls, stream: TextIO | None = None) -> Progress:
        """Enabled only when ``stream`` (default stderr) is a terminal."""
        stream = stream or sys.stderr
        return cls(stream, enabled=stream.isatty())

    def expect(self, name: str, total: int) -> None:
        """``name`` will reach ``total`` (shown as ``done/total``)."""
        with self._lock:
            self._totals[name] = total

    def add(self, name: str, count: int = 1) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + count
        if self.clock() - self._drawn_at >= REDRAW_SECONDS:
            self._draw()

    def line(self) -> str:
        """The text of the progress line (without the carriage return)."""
        with self._lock:
            counts, totals = dict(self._counts), dict(self._totals)
        names = [n for n in ORDER if n in counts or n in totals]
        names += sorted(set(counts) - set(ORDER))
        parts = [
            f"{name} {counts.get(name, 0)}/{totals[name]}"
            if name in totals
            else f"{name} {counts.get(name, 0)}"
            for name in names
        ]
        elapsed = max(0.001, self.clock() - self.started)
        rate = counts.get("store", 0) / elapsed
        parts.append(f"{elapsed:.0f} s ({rate:.1f} stored/s)")
        return " · ".join(parts)

    def _draw(self) -> None:
        if not self.enabled:
            return
        self._drawn_at = self.clock()
        self.stream.write("\r\x1b[K" + self.line())
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line; the terminal is the log's again."""
        if not self.enabled:
            return
        logs.STATUS_LINE.detach()
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
        self.enabled = False
