"""Slow questions a probe asks, answered off the HTTP thread within :data:`ANSWER_SECONDS`.

Readiness asks things that can take far longer than a probe waits (Kubernetes
gives up after 1 s): a client connecting to a broker where nothing listens
takes 15 s to fail, a write to a database whose row or file another
connection holds locked waits for SQLite's 30 s busy timeout, or, on
PostgreSQL, for as long as the lock is held. Asked from the HTTP thread, each
made ``/readyz`` a failed probe of its own and queued every later request
behind it. A :class:`Lookout` asks on a daemon thread of its own instead (a
look stuck does not hold up the exit), at most one look per question at a
time, and a request waits for it at most :data:`ANSWER_SECONDS` from when the
look in hand began (so a scrape that asks two questions of a silent broker waits
once)::

    lookout = Lookout("store-probe", cache_seconds=0.0)
    answer, silent_for = lookout.ask("write", prove)    # on any HTTP thread
    if silent_for is not None:
        ...                      # no answer for silent_for seconds: say so
    asked = lookout.begin("write", prove)               # two lookouts, one wait:
    answer, silent_for = asked.answer(until=deadline)   # after beginning the other too
    lookout.close(finish=close_connection)              # run on the lookout's thread
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, NamedTuple

from pipeline.runtime.daemon_pool import DaemonPool

log = logging.getLogger(__name__)

ANSWER_SECONDS = 0.8
"""How long an HTTP request waits for a look before answering without it. Probes give
up after 1 s (Kubernetes' default); a client connecting to an address where nothing
listens takes 15 s to fail (``bootstrap_timeout_ms``), and waiting for that made
``/readyz`` a failed probe of its own and queued every later request behind it."""
STALE_SECONDS = 10.0
"""While a look takes longer than :data:`ANSWER_SECONDS`, the last answer stands for this
long: a broker or a database slow to answer (a busy group coordinator, a write lock held
for a few seconds) must not fail one readiness probe each time; one silent for longer
is reported as such."""


class Lookout:
    """Answers to slow questions, each asked on the lookout's own thread and cached.

    ``ask(key, compute)`` returns ``compute``'s value at most ``cache_seconds``
    old (0: every request looks again, joining a look in hand). An exception
    ``compute`` raises reaches the requests waiting for that look, and is not
    cached: a caller turns the failures it expects into answers itself.
    """

    def __init__(
        self, name: str, cache_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, Any]] = {}
        self._looking: dict[str, _Look] = {}
        """Looks asked for and not yet answered."""
        self._looking_since: float | None = None
        """When the look in hand began (None while none runs)."""
        self._looking_began: float | None = None
        """The same, by ``time.monotonic()``: requests wait for the look from then on."""
        self._looker: DaemonPool | None = None
        self._closed = False

    def ask(
        self, key: str, compute: Callable[[], Any], until: float | None = None
    ) -> tuple[Any, float | None]:
        """``(answer, None)``: ``compute``'s value, at most ``cache_seconds`` old, or the last
        one while a newer look is slow (for up to :data:`STALE_SECONDS`). ``(None, seconds)``
        when no answer came within :data:`ANSWER_SECONDS` and there is no such answer: for
        how long the look has gone unanswered. ``until`` (a ``time.monotonic()``) stops the
        wait earlier: a request that already waited on another lookout waits only what is
        left of its own :data:`ANSWER_SECONDS`."""
        return self.begin(key, compute).answer(until)

    def begin(self, key: str, compute: Callable[[], Any]) -> Asked:
        """:meth:`ask` without the wait: the look starts (or a look in hand, or a recent
        enough answer, is taken) and :meth:`Asked.answer` waits for it. A request that asks
        two lookouts begins both before it waits for either, so their looks overlap: one
        wait for a stalled store and a silent broker, not two in turn."""
        with self._lock:
            now = self.clock()
            hit = self._cached.get(key)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return Asked(self, key, None, hit)
            look = self._looking.get(key)
            if look is None and not self._closed:
                if self._looker is None:
                    self._looker = DaemonPool(1, name=self.name)
                future = self._looker.submit(self._look, key, compute)
                look = _Look(now, self._give_up(), future)
                self._looking[key] = look
        return Asked(self, key, look, None)

    def _wait(self, key: str, look: _Look | None, until: float | None) -> tuple[Any, float | None]:
        """The answer of ``look``, waited for until its give-up time or ``until``."""
        if look is not None:
            give_up = look.give_up if until is None else min(look.give_up, until)
            try:  # a look asked for earlier is waited for only what is left of its wait
                return look.answer.result(timeout=max(0.0, give_up - time.monotonic())), None
            except (FutureTimeout, CancelledError):
                pass
        return self._meanwhile(key, look)

    def last(self, key: str) -> tuple[Any, float | None]:
        """What :meth:`ask` would answer, without asking or waiting: the last answer (None
        before the first), or ``(None, seconds)`` while the look in hand has gone unanswered
        too long. For a reader of what the looks found (the status page shows the write
        problem the store probe found, and must not write again)."""
        with self._lock:
            look = self._looking.get(key)
            hit = self._cached.get(key)
        if look is None:
            return (None if hit is None else hit[1]), None
        return self._meanwhile(key, look)

    def _meanwhile(self, key: str, look: _Look | None) -> tuple[Any, float | None]:
        """While ``look`` is unanswered: the last answer, if recent enough, else for how long
        the look has gone unanswered."""
        with self._lock:
            since = self._looking_since
            hit = self._cached.get(key)
        if since is None:  # the look is queued (or the lookout closed)
            since = look.asked if look is not None else self.clock()
        silent_for = self.clock() - since
        if hit is not None and silent_for < STALE_SECONDS:
            return hit[1], None  # a slow look: the last answer stands meanwhile
        return None, silent_for

    def _give_up(self) -> float:
        """When a request stops waiting for a new look: :data:`ANSWER_SECONDS` after the look
        in hand began, if one runs. A new look waits behind it; while the answer is slow,
        each waited in full (a scrape refreshes the gauges, then readiness: 1.6 s)."""
        began = self._looking_began
        return (time.monotonic() if began is None else began) + ANSWER_SECONDS

    def _look(self, key: str, compute: Callable[[], Any]) -> Any:
        """On the lookout's thread: one look, its answer cached from when it came (a failed
        connection takes 15 s; stamped with when it was asked, it was stale on arrival)."""
        with self._lock:
            self._looking_since = self.clock()
            self._looking_began = time.monotonic()
        try:
            value = compute()
            with self._lock:
                self._cached[key] = (self.clock(), value)
            return value
        finally:
            with self._lock:
                self._looking_since = self._looking_began = None
                self._looking.pop(key, None)

    def close(self, finish: Callable[[], None]) -> None:
        """Run ``finish`` (close the clients the looks used) on the lookout's thread, after
        the look in hand, then end the thread: waited for at most :data:`ANSWER_SECONDS`,
        since a look stuck connecting would hold the exit of a process that is stopping
        (its daemon thread ends with it). Without a thread yet, ``finish`` runs here."""
        with self._lock:
            self._closed = True
            looker = self._looker
            for look in self._looking.values():
                look.answer.cancel()  # a look not yet begun
        if looker is None:
            finish()
            return
        closing = looker.submit(_finish, finish, looker)
        try:
            closing.result(timeout=ANSWER_SECONDS)
        except FutureTimeout:
            log.debug("%s closed while a look is in hand", self.name)


def _finish(finish: Callable[[], None], looker: DaemonPool) -> None:
    """The lookout thread's last job: ``finish``, then end the thread."""
    try:
        finish()
    finally:
        looker.shutdown()


class Asked:
    """A question put to a :class:`Lookout` by :meth:`Lookout.begin`: its look started,
    :meth:`answer` waits for it."""

    def __init__(
        self, lookout: Lookout, key: str, look: _Look | None, hit: tuple[float, Any] | None
    ) -> None:
        self._lookout = lookout
        self._key = key
        self._look = look
        self._hit = hit
        """A recent enough answer (when it came, value): no look, no wait."""

    def answer(self, until: float | None = None) -> tuple[Any, float | None]:
        """As :meth:`Lookout.ask` answers, waiting until ``until`` at most."""
        if self._hit is not None:
            return self._hit[1], None
        return self._lookout._wait(self._key, self._look, until)


class _Look(NamedTuple):
    """A look asked for and not yet answered."""

    asked: float
    """When, by the lookout's clock."""
    give_up: float
    """``time.monotonic()`` after which requests stop waiting for it (a real wait)."""
    answer: Future[Any]
