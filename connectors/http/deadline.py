"""A total deadline per fetch, enforced on the socket itself.

Connect and read timeouts bound each socket operation, but a server that
drips one byte every few seconds resets them forever, in the headers as well
as in the body. A :class:`Deadline` therefore watches the connection a request
uses (the pool's connection classes report it through a thread-local) and one
shared :class:`Watchdog` thread shuts that socket down when time is up, which
wakes the blocked read at once. Deadlines use the real monotonic clock: bytes
on a real socket arrive in real time.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connectors.http.interim import FinalResponse

_current = threading.local()


class _Alarm:
    def __init__(self, when: float, action: Callable[[], None]) -> None:
        self.when = when
        self.action = action
        self.cancelled = False
        self.lock = threading.Lock()

    def fire(self) -> None:
        with self.lock:
            if not self.cancelled:
                self.cancelled = True
                self.action()

    def cancel(self) -> None:
        """After this returns the action has either run already or never will."""
        with self.lock:
            self.cancelled = True


class Watchdog:
    """One daemon thread that runs actions at their (monotonic) time."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Alarm]] = []
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None

    def at(self, when: float, action: Callable[[], None]) -> _Alarm:
        alarm = _Alarm(when, action)
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._counter), alarm))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="newsflow-fetch-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return alarm

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                _when, _n, alarm = heapq.heappop(self._heap)
            alarm.fire()


WATCHDOG = Watchdog()


class Deadline:
    """The real-time budget of one fetch, spent only while its hops are on the wire.

    Time spent queued for a host slot (politeness) is not charged: the budget
    bounds what a server can make us wait, not how busy the host is.
    """

    def __init__(self, seconds: float, *, watchdog: Watchdog = WATCHDOG) -> None:
        self.seconds = seconds
        self._watchdog = watchdog
        self._spent = 0.0
        self._ends: float | None = None
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None

    def remaining(self) -> float:
        if self._ends is None:
            return max(0.0, self.seconds - self._spent)
        return max(0.0, self._ends - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Cut whatever connection this thread uses if the budget runs out inside."""
        started = time.monotonic()
        self._ends = started + self.seconds - self._spent
        alarm = self._watchdog.at(self._ends, self._cut)
        _current.deadline = self
        try:
            yield
        finally:
            _current.deadline = None
            alarm.cancel()
            with self._lock:
                self._connection = None
            self._spent += time.monotonic() - started
            self._ends = None

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection

    def _cut(self) -> None:
        with self._lock:
            sock = self._connection.sock if self._connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)


def _attach_current(connection: HTTPConnection) -> None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.attach(connection)


class DeadlineHTTPConnection(HTTPConnection):
    """An urllib3 connection that tells the current :class:`Deadline` it is in use, and
    reads past interim (1xx) responses to the final one (:mod:`connectors.http.interim`)."""

    response_class = FinalResponse

    def connect(self) -> None:
        _attach_current(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_current(self)
        super().request(*args, **kwargs)


class DeadlineHTTPSConnection(DeadlineHTTPConnection, HTTPSConnection):
    """The same for TLS: the MRO runs the overrides above, then HTTPSConnection's."""


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection
