"""Time sources for politeness decisions, injectable so tests need not wait.

The per-host limiter and the robots cache ask a :class:`Clock` what time it is
and sleep through it, so a test can jump 120 seconds ahead with
:class:`FakeClock` instead of waiting. Socket deadlines are not governed by
this clock: bytes on a real socket arrive in real time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (scheduling)."""
        ...

    def time(self) -> float:
        """Seconds since the epoch (to read HTTP dates such as ``Retry-After``)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clocks of the machine."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; ``sleep`` advances it at once.

    >>> clock = FakeClock()
    >>> clock.sleep(120)
    >>> clock.monotonic()
    120.0
    """

    def __init__(self, *, start: float = 0.0, epoch: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self._offset = epoch - start

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        with self._lock:
            return self._now + self._offset

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
