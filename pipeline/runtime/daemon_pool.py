"""A thread pool whose work still running at exit is abandoned, not waited for.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the
interpreter exits, so a worker asked to stop would wait for every fetch in
flight to reach its deadline (``fetch.deadline``, 30 s) before the process
ends. The Kafka fetch worker must exit within seconds, and a fetch it has not
committed is simply fetched again by the next owner, so its threads are
daemons: at exit they are dropped::

    pool = DaemonPool(16, name="fetch")
    future = pool.submit(fetch, url)      # a concurrent.futures.Future
    pool.shutdown()                       # queued work is cancelled; running work is left
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class DaemonPool:
    def __init__(self, size: int, *, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Cancel queued work and let the threads end after their current job."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # delivered to the caller through the future
                future.set_exception(exc)
