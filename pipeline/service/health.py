"""Liveness and readiness of one process, as ``/healthz`` and ``/readyz`` report them.

Liveness: the process's long-running loops call :meth:`Health.beat` every
turn (and while a long batch makes progress). ``/healthz`` fails once a loop
has stood still longer than ``service.liveness_timeout_seconds``: a deadlock
or a hung call, which only a restart cures. A loop the process cannot do
without is announced with :meth:`Health.expect` before it starts: until its
first beat ``/healthz`` fails too, so a member still connecting (or unable
to) does not read as alive and working (Kubernetes' startup probe waits for it).

Readiness: named checks (store reachable, broker reachable, partitions
assigned) run when asked, each returning ``None`` when fine or a problem in
words. ``/readyz`` fails while any check fails: the process is up but cannot
do its work yet (or any more), which a restart would not cure. A check that
asks something slow (a store, a broker) is a :data:`SlowCheck`: it asks on a
:class:`~pipeline.service.lookout.Lookout` and returns at once, and readiness
waits for all such answers until one shared deadline::

    health = Health(liveness_timeout=300)
    health.expect("worker")              # /healthz fails until the worker's first beat
    health.add_check("partitions", lambda: None if assigned() else "no partitions")
    health.add_slow_check("store", store_probe.ask)
    health.beat("poll")
    ok, details = health.readiness()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pipeline.service.lookout import ANSWER_SECONDS
from pipeline.service.metrics import HEARTBEAT, READY

log = logging.getLogger(__name__)

Check = Callable[[], "str | None"]
"""A readiness check that answers at once, from memory: ``None`` when fine, else what is
wrong."""
Answer = Callable[["float | None"], "str | None"]
"""A slow check's answer (as :data:`Check`), waited for until a ``time.monotonic()`` at most
(None: the lookout's own :data:`~pipeline.service.lookout.ANSWER_SECONDS`)."""
SlowCheck = Callable[[], Answer]
"""A readiness check that asks a store or a broker: called, it begins its look on its
:class:`~pipeline.service.lookout.Lookout` (:meth:`~pipeline.service.lookout.Lookout.begin`)
and returns at once, with the :data:`Answer` that waits for it."""


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
        self._expected: dict[str, float] = {}
        self._checks: dict[str, SlowCheck] = {}
        """Every check, in the order added; one that answers at once as a slow one."""
        self._lock = threading.Lock()

    def beat(self, loop: str = "main") -> None:
        """The loop ``loop`` moved: call every turn and while work progresses."""
        with self._lock:
            self._beats[loop] = self.clock()
            self._expected.pop(loop, None)
        HEARTBEAT.labels(loop).set_to_current_time()

    def expect(self, loop: str) -> None:
        """``loop`` is about to start: liveness fails until its first beat.

        Without it a process whose only loop never started (a Kafka member that
        cannot reach its broker spends 15 s bootstrapping, then exits) answered
        ``/healthz`` ok with no loop at all.
        """
        with self._lock:
            if loop not in self._beats:
                self._expected[loop] = self.clock()

    def forget(self, loop: str) -> None:
        """A loop ended on purpose (a --once run finished): stop judging it."""
        with self._lock:
            self._beats.pop(loop, None)
            self._expected.pop(loop, None)

    def add_check(self, name: str, check: Check) -> None:
        """A check that answers at once (it must not block: readiness calls it in turn)."""
        self.add_slow_check(name, partial(_at_once, check))

    def add_slow_check(self, name: str, check: SlowCheck) -> None:
        """A check that asks a store or a broker (see :data:`SlowCheck`)."""
        with self._lock:
            self._checks[name] = check

    def liveness(self) -> Report:
        """Alive while every loop beat within the timeout and every expected loop started
        (a process that expects none is alive before its first beat)."""
        now = self.clock()
        with self._lock:
            ages = {loop: now - at for loop, at in self._beats.items()}
            waiting = {loop: now - since for loop, since in self._expected.items()}
        stale = {loop: age for loop, age in ages.items() if age > self.liveness_timeout}
        loops: dict[str, Any] = {
            loop: {"seconds_since_beat": round(age, 1)} for loop, age in ages.items()
        }
        for loop, seconds in waiting.items():
            loops[loop] = {"started": False, "seconds_waiting": round(seconds, 1)}
        problems = [
            f"loop {loop} has not moved for {age:.0f} s" for loop, age in sorted(stale.items())
        ]
        problems += [
            f"loop {loop} has not started after {w:.0f} s" for loop, w in sorted(waiting.items())
        ]
        details: dict[str, Any] = {"uptime_seconds": round(now - self.started, 1), "loops": loops}
        if problems:
            details["problem"] = "; ".join(problems)
        return Report(not problems, details)

    def readiness(self) -> Report:
        """Run every check; ready when none reports a problem.

        Every slow check begins its look first, then each answer is waited for until one
        deadline, :data:`~pipeline.service.lookout.ANSWER_SECONDS` from now: asked in turn, a
        stalled store and a silent broker made ``/readyz`` take twice that (1.6 s, past
        Kubernetes' 1 s). The looks run on their lookouts' threads; a request starts none.
        """
        with self._lock:
            checks = dict(self._checks)
        until = time.monotonic() + ANSWER_SECONDS
        answers = {name: _begin(name, check) for name, check in checks.items()}
        results = {name: _answer(name, answer, until) for name, answer in answers.items()}
        ok = all(problem is None for problem in results.values())
        READY.set(int(ok))
        return Report(ok, {name: problem or "ok" for name, problem in results.items()})


def _at_once(check: Check) -> Answer:
    """A check that answers at once, as a slow check (it runs when its answer is asked)."""
    return lambda until: check()


def _begin(name: str, check: SlowCheck) -> Answer:
    """Begin ``check``'s look; one that raises is a failed check."""
    try:
        return check()
    except Exception as exc:  # a probe must answer, whatever went wrong
        problem = _failed(name, exc)
        return lambda until: problem


def _answer(name: str, answer: Answer, until: float) -> str | None:
    """``answer``, waited for until ``until``; one that raises is a failed check."""
    try:
        return answer(until)
    except Exception as exc:  # a probe must answer, whatever went wrong
        return _failed(name, exc)


def _failed(name: str, exc: Exception) -> str:
    """A check that raised, described by its exception."""
    log.debug("readiness check %s raised", name, exc_info=exc)
    return f"{type(exc).__name__}: {exc}"
