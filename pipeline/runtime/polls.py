"""Polling many feeds at once, each result handed on once it is ready and its turn came.

Results come in the order the feeds are listed, so that a run hands entries
to dedup in the same order each time (which copy of a story founds its
cluster does not depend on which poll was faster), except that a poll still
running holds up the results after it for at most :data:`HOLD_SECONDS`: one
feed that stalls (a sitemap index of slow children, a server that drips)
delays only itself. ``stop`` is seen within :data:`WAIT_SECONDS` however long
a poll takes, and polls still running then are abandoned, not waited for
(their feeds stay uncommitted and are polled again)::

    for feed, result in poll_in_parallel(poller.poll, due, stop, threads=8):
        hand_on(feed, result)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from pipeline.config import FeedConfig
from pipeline.polling.poller import PollResult
from pipeline.runtime.daemon_pool import DaemonPool

WAIT_SECONDS = 0.1
"""Longest wait for a poll to complete before ``stop`` is looked at again."""
HOLD_SECONDS = 1.0
"""Longest a completed poll waits for the polls listed before it."""


def poll_in_parallel(
    poll: Callable[[FeedConfig], PollResult],
    feeds: Sequence[FeedConfig],
    stop: threading.Event,
    *,
    threads: int,
    while_waiting: Callable[[], None] | None = None,
) -> Generator[tuple[FeedConfig, PollResult], None, None]:
    """Yield ``(feed, poll(feed))`` as described above, until all are done or ``stop``.

    ``while_waiting`` runs whenever nothing can be yielded yet; it must return
    within about :data:`WAIT_SECONDS` (the embedded pipeline stores what it
    fetched meanwhile). An exception a poll raised (the store went away) is
    raised here.
    """
    pool = DaemonPool(min(threads, max(1, len(feeds))), name="poll")
    index = {pool.submit(poll, feed): i for i, feed in enumerate(feeds)}
    pending = sorted(index, key=index.__getitem__)
    ready_since: dict[Future[PollResult], float] = {}
    try:
        while pending and not stop.is_set():
            now = time.monotonic()
            for future in pending:
                if future.done():
                    ready_since.setdefault(future, now)
            turn = _turn(pending, ready_since, now)
            if not turn:
                if while_waiting is not None:
                    while_waiting()
                else:
                    wait(pending, timeout=WAIT_SECONDS, return_when=FIRST_COMPLETED)
                continue
            for future in turn:
                pending.remove(future)
                yield feeds[index[future]], future.result()
                if stop.is_set():
                    return
    finally:
        pool.shutdown()  # queued polls are cancelled; running ones are left to end alone


def _turn(
    pending: list[Future[PollResult]], ready_since: dict[Future[PollResult], float], now: float
) -> list[Future[PollResult]]:
    """The completed polls whose turn has come: those with no poll still running before
    them, and those that waited :data:`HOLD_SECONDS` for one (in listed order)."""
    turn: list[Future[PollResult]] = []
    blocked = False
    for future in pending:
        if future not in ready_since:
            blocked = True
        elif not blocked or now - ready_since[future] >= HOLD_SECONDS:
            turn.append(future)
    return turn
