"""Polling many feeds at once, each result handed on as soon as it is ready.

Results come in the order the polls complete, not the order the feeds are
listed: one feed that stalls (a sitemap index of slow children, a server
that drips) holds up only itself, and ``stop`` is seen within
:data:`WAIT_SECONDS` however long a poll takes::

    for feed, result in poll_in_parallel(poller.poll, due, stop, threads=8):
        hand_on(feed, result)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from pipeline.config import FeedConfig
from pipeline.polling.poller import PollResult

WAIT_SECONDS = 0.1
"""Longest wait for a poll to complete before ``stop`` is looked at again."""


def poll_in_parallel(
    poll: Callable[[FeedConfig], PollResult],
    feeds: Sequence[FeedConfig],
    stop: threading.Event,
    *,
    threads: int,
    while_waiting: Callable[[], None] | None = None,
) -> Generator[tuple[FeedConfig, PollResult], None, None]:
    """Yield ``(feed, poll(feed))`` as each completes, until all are done or ``stop`` is set.

    ``while_waiting`` runs whenever no poll is ready; it must return within
    about :data:`WAIT_SECONDS` (the embedded pipeline stores what it fetched
    meanwhile). An exception a poll raised (the store went away) is raised
    here. A stop leaves the polls still running behind: their results are
    never yielded, so their feeds stay uncommitted.
    """
    pool = ThreadPoolExecutor(threads, thread_name_prefix="poll")
    order: dict[Future[PollResult], int] = {}
    for index, feed in enumerate(feeds):
        order[pool.submit(poll, feed)] = index
    pending = set(order)
    try:
        while pending and not stop.is_set():
            ready = sorted((f for f in pending if f.done()), key=order.__getitem__)
            if not ready:
                if while_waiting is not None:
                    while_waiting()
                else:
                    wait(pending, timeout=WAIT_SECONDS, return_when=FIRST_COMPLETED)
                continue
            for future in ready:
                pending.discard(future)
                yield feeds[order[future]], future.result()
                if stop.is_set():
                    return
    finally:
        pool.shutdown(wait=not stop.is_set(), cancel_futures=True)
