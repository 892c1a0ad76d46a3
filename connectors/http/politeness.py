"""Per-host politeness shared by feed and article fetches.

Every request to a host goes through :meth:`HostLimiter.slot`, which keeps at
most ``concurrency`` requests in flight per host and at least ``min_interval``
seconds between their starts. When a host answers 429/503 with
``Retry-After``, :meth:`HostLimiter.block` closes it until then: requests in
that window raise :class:`~pipeline.errors.HostBlocked` at once, without
sleeping, so the caller (scheduler, runtime) decides when to come back.

Start times are reserved under the lock and slept outside it, so a fake clock
can drive the whole thing in tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from connectors.http.clock import Clock
from pipeline.errors import HostBlocked, excerpt

_PRUNE_ABOVE = 10_000
"""Forget idle hosts once this many are tracked (the service runs for months)."""


@dataclass
class _HostState:
    in_flight: int = 0
    next_start: float = float("-inf")
    blocked_until: float = float("-inf")
    blocked_status: int = 429


class HostLimiter:
    """At most ``concurrency`` in flight and ``min_interval`` s between starts, per host."""

    def __init__(self, *, concurrency: int, min_interval: float, clock: Clock) -> None:
        self._concurrency = concurrency
        self._min_interval = min_interval
        self._clock = clock
        self._cond = threading.Condition()
        self._hosts: dict[str, _HostState] = {}

    @contextmanager
    def slot(self, host: str, *, url: str) -> Iterator[None]:
        """Hold one request slot for ``host``; raise HostBlocked if the host is closed."""
        self.acquire(host, url=url)
        try:
            yield
        finally:
            self.release(host)

    def block(self, host: str, seconds: float, *, status: int) -> None:
        """Send nothing to ``host`` for ``seconds`` (it answered ``status`` + Retry-After)."""
        with self._cond:
            state = self._hosts.setdefault(host, _HostState())
            state.blocked_until = max(state.blocked_until, self._clock.monotonic() + seconds)
            state.blocked_status = status
            self._cond.notify_all()

    def blocked_for(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (0 when it is open)."""
        with self._cond:
            state = self._hosts.get(host)
            return self._remaining_block(state) if state else 0.0

    def acquire(self, host: str, *, url: str) -> None:
        """Wait for a slot and the host's gap; raise HostBlocked at once if it is closed."""
        with self._cond:
            state = self._hosts.setdefault(host, _HostState())
            self._raise_if_blocked(state, host, url)
            while state.in_flight >= self._concurrency:
                self._cond.wait()
                self._raise_if_blocked(state, host, url)
            now = self._clock.monotonic()
            start = max(now, state.next_start)
            state.next_start = start + self._min_interval
            state.in_flight += 1
        if start > now:
            self._clock.sleep(start - now)
        with self._cond:
            # Measure the gap from when this request really starts, not from when it was
            # planned to: a late wake-up must not shorten the gap to the next request.
            started = self._clock.monotonic()
            state.next_start = max(state.next_start, started + self._min_interval)
            if self._remaining_block(state) > 0:
                self._release_locked(host, state)
                self._raise_if_blocked(state, host, url)

    def release(self, host: str) -> None:
        """Give back the slot taken by :meth:`acquire`."""
        with self._cond:
            self._release_locked(host, self._hosts[host])

    def _release_locked(self, host: str, state: _HostState) -> None:
        state.in_flight -= 1
        self._cond.notify_all()
        if len(self._hosts) > _PRUNE_ABOVE:
            self._prune()

    def _prune(self) -> None:
        now = self._clock.monotonic()
        idle = [
            name
            for name, s in self._hosts.items()
            if s.in_flight == 0 and s.next_start < now and s.blocked_until < now
        ]
        for name in idle:
            del self._hosts[name]

    def _remaining_block(self, state: _HostState) -> float:
        return max(0.0, state.blocked_until - self._clock.monotonic())

    def _raise_if_blocked(self, state: _HostState, host: str, url: str) -> None:
        remaining = self._remaining_block(state)
        if remaining > 0:
            raise HostBlocked(
                f"not fetching {excerpt(url)!r}: {excerpt(host)} asked us to wait "
                f"(HTTP {state.blocked_status} with Retry-After), {remaining:.0f} s left",
                url=url,
                status=state.blocked_status,
                retry_after=remaining,
            )


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date).

    ``now`` is the wall-clock time (epoch seconds) an HTTP date is measured
    against. Returns None when the header is missing or unreadable.
    """
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²" (a Latin-1 byte) is a digit to isdigit()
        return float(text)
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):  # +99999999999999999999 as the zone
        return None
