"""Liveness and readiness of one process, as ``/healthz`` and ``/readyz`` report them.

Liveness: the process's long-running loops call :meth:`Health.beat` every
turn (and while a long batch makes progress). ``/healthz`` fails once a loop
has stood still longer than ``service.liveness_timeout_seconds``: a deadlock
or a hung call, which only a restart cures.

Readiness: named checks (store reachable, broker reachable, partitions
assigned) run when asked, each returning ``None`` when fine or a problem in
words. ``/readyz`` fails while any check fails: the process is up but cannot
do its work yet (or any more), which a restart would not cure::

    health = Health(liveness_timeout=300)
    health.add_check("store", lambda: None if store_ok() else "store unreachable")
    health.beat("poll")
    ok, details = health.readiness()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.service.metrics import HEARTBEAT, READY

log = logging.getLogger(__name__)

Check = Callable[[], "str | None"]
"""A readiness check: ``None`` when fine, else what is wrong."""


@dataclass(frozen=True)
class Report:
    ok: bool
    details: dict[str, Any]


class Health:
    """Heartbeats of this process's loops and its readiness checks; thread-safe."""

    def __init__(
        self, *, liveness_timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.liveness_timeout = liveness_timeout
        self.clock = clock
        self.started = clock()
        self._beats: dict[str, float] = {}
        self._checks: dict[str, Check] = {}
        self._lock = threading.Lock()

    def beat(self, loop: str = "main") -> None:
        """The loop ``loop`` moved: call every turn and while work progresses."""
        with self._lock:
            self._beats[loop] = self.clock()
        HEARTBEAT.labels(loop).set_to_current_time()

    def forget(self, loop: str) -> None:
        """A loop ended on purpose (a --once run finished): stop judging it."""
        with self._lock:
            self._beats.pop(loop, None)

    def add_check(self, name: str, check: Check) -> None:
        with self._lock:
            self._checks[name] = check

    def liveness(self) -> Report:
        """Alive while every loop beat within the timeout (and before the first beat)."""
        now = self.clock()
        with self._lock:
            ages = {loop: now - at for loop, at in self._beats.items()}
        stale = {loop: age for loop, age in ages.items() if age > self.liveness_timeout}
        details: dict[str, Any] = {
            "uptime_seconds": round(now - self.started, 1),
            "loops": {loop: {"seconds_since_beat": round(age, 1)} for loop, age in ages.items()},
        }
        if stale:
            details["problem"] = "; ".join(
                f"loop {loop} has not moved for {age:.0f} s" for loop, age in sorted(stale.items())
            )
        return Report(not stale, details)

    def readiness(self) -> Report:
        """Run every check; ready when none reports a problem."""
        with self._lock:
            checks = dict(self._checks)
        results = {name: _run(name, check) for name, check in checks.items()}
        ok = all(problem is None for problem in results.values())
        READY.set(int(ok))
        return Report(ok, {name: problem or "ok" for name, problem in results.items()})


def _run(name: str, check: Check) -> str | None:
    """A check that raises is a failed check, described by its exception."""
    try:
        return check()
    except Exception as exc:  # a probe must answer, whatever went wrong
        log.debug("readiness check %s raised", name, exc_info=True)
        return f"{type(exc).__name__}: {exc}"
