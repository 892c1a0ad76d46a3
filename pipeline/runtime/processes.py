"""Where worker processes come from: a fork server that has already imported their code.

A spawned worker starts a fresh interpreter and imports trafilatura, numpy,
the pydantic models and the stages (~0.5 s of CPU), then loads the language
model (~0.5 s): every extraction process of the embedded runtime and every
Kafka worker paid that again, on a run of a few thousand articles several
percent of all the CPU. With :func:`worker_context` a fork server imports
all of it once (:mod:`pipeline.runtime.preload`) and forks each worker from
itself. Unlike ``fork`` from the running service, the fork server is a
fresh, single-threaded process: no thread of the parent (fetch threads, the
HTTP endpoints, the WAL checkpointer) is copied holding a lock, and no
database connection or Kafka client is inherited; workers open their own.

Where the platform has no fork server (Windows, macOS without it), workers
are spawned as before::

    ctx = worker_context()
    start_fork_server(ctx)                  # from the main thread, before the first worker
    ProcessPoolExecutor(2, mp_context=ctx, initializer=...)
    ctx.Process(target=..., args=...).start()

A process pool waits for the fork server's imports holding the lock its
shutdown takes: :class:`ForkServerStart` waits for them instead, so that a
stop meanwhile ends the server at once rather than wait for it.

A worker must not outlive the process that started it. Nothing tells it when
that process is killed (``kill -9``, the OOM killer): a pool worker waits
forever for its next task, on a queue whose write end it holds itself; the
fork server waits for EOF on its "alive" pipe, whose write end every worker
holds; the resource tracker waits for EOF on a pipe the workers and the fork
server hold. So each worker calls :func:`exit_with_parent` first thing, and
once the workers are gone the fork server and the resource tracker see their
EOF and exit by themselves. What the killed process leaves on the machine for the
workers (the named semaphores of its queues, ``/tmp/pymp-*``) the first of them to
see it gone removes (:class:`LeftBehind`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import forkserver, resource_tracker, synchronize, util
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

PRELOAD = [
    "pipeline.runtime.fork_server_signals",
    "pipeline.runtime.fork_server_exit",
    "pipeline.runtime.preload",
]
"""Modules the fork server imports, in order, before it forks any worker."""
PARENT_GONE_EXIT = 75
"""Exit status of a worker that left because the process that started it is gone."""
STOP_WAIT_SECONDS = 5.0
"""Longest :meth:`ForkServerStart.close` waits for the fork server it killed to be gone."""
_KILL_CHECK_SECONDS = 0.02


def worker_context() -> ForkServerContext | SpawnContext:
    """The fork server with :data:`PRELOAD`, or ``spawn`` where there is none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_fork_server(context: ForkServerContext | SpawnContext) -> None:
    """Start the fork server now, deaf to Ctrl-C from its first instruction.

    Ctrl-C reaches the whole process group. The fork server ignores SIGINT,
    but only once it has imported :data:`PRELOAD` (about a second): a Ctrl-C
    before that killed it with a traceback, and the service waiting for its
    first worker printed another. A blocked signal stays blocked across
    ``fork`` and ``exec``, so SIGINT is blocked while the server is spawned
    (about 1 ms) and :mod:`pipeline.runtime.fork_server_signals`, the
    server's first import, ignores and unblocks it. A Ctrl-C in that
    millisecond waits, pending, and reaches this process's handler after it:
    it used to be ignored here as well, and lost. The resource tracker is
    started first: its own start unblocks SIGINT when it is done.

    Only the main thread can change a signal's handling; from another thread
    the server starts as before, with the first worker.
    """
    if not isinstance(context, ForkServerContext):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    resource_tracker.ensure_running()
    with _sigint_held():
        forkserver.ensure_running()


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """SIGINT blocked in this thread within; one that came meanwhile is raised after it.

    Another thread may take a SIGINT meanwhile; its handler then runs on
    this thread at the next bytecode, inside the spawn, so within only a
    note is taken, and the handler runs once the spawn is done.
    """
    came: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: came.append(signum))
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
        signal.signal(signal.SIGINT, previous)  # runs the note for a pending one first
        if came:
            signal.raise_signal(signal.SIGINT)


class ForkServerStart:
    """The fork server's start, waited for on a thread of its own; a stop first ends it.

    A process pool (``ProcessPoolExecutor``) starts a process while holding the
    lock its ``shutdown`` takes, and its first start waits there for the fork
    server to import :data:`PRELOAD` (a second; 3-20 s on a loaded machine):
    a stop in that time waited for the imports, then for the processes to
    start only to be stopped (p50 4.9 s, up to 12 s). So the pool gets no
    work until :attr:`forking`, which a probe process of no work finds out
    here, holding no lock of the pool; ``action`` (start the pool's
    processes) runs after it, on the same thread::

        starting = ForkServerStart(context)     # from the main thread: starts the server
        starting.when_forking(start_the_pool)
        ...
        starting.close()                        # a stop: before the pool's shutdown

    :meth:`close` before then kills the server (it has forked nothing yet):
    left alone, it would import on after the service has exited, and fail
    with a traceback (the metrics directory it writes to is gone). The server
    is started again by the standard library for a process started after it
    died, which only this start's thread can do meanwhile, and it starts
    nothing once closed; so :meth:`close` kills whatever server there is
    until that thread has ended, then waits for what it killed to be gone.
    """

    def __init__(self, context: ForkServerContext | SpawnContext) -> None:
        self._context = context
        self._forking = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        start_fork_server(context)

    @property
    def forking(self) -> bool:
        """Whether the server forks processes now (or failed to start: the pool finds out)."""
        return self._forking.is_set()

    def when_forking(self, action: Callable[[], None]) -> None:
        """Run ``action`` on a thread of its own once the server forks, unless closed first."""
        self._thread = threading.Thread(
            target=self._wait, args=(action,), name="start-extraction", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Until the start's thread has ended (``action`` done, or closed); whether it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def close(self) -> None:
        """The start starts nothing more; a server still importing is killed, and gone when
        this returns."""
        self._closed.set()
        if self._forking.is_set() or not isinstance(self._context, ForkServerContext):
            return  # past its imports, it leaves with this process (EOF on its "alive" pipe)
        thread = self._thread
        killed: list[int] = []
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while True:
            pid = _kill_fork_server()
            if pid is not None and pid not in killed:
                killed.append(pid)
            if thread is None or not thread.is_alive() or time.monotonic() > deadline:
                break
            thread.join(_KILL_CHECK_SECONDS)
        if thread is not None and thread.is_alive():
            log.warning("the worker processes' start did not end in %.0f s", STOP_WAIT_SECONDS)
        for pid in killed:
            _wait_until_gone(pid, deadline)

    def _wait(self, action: Callable[[], None]) -> None:
        """Until the server forks; then ``action``, unless :meth:`close` came first.

        ``forking`` is set before ``closed`` is looked at, and :meth:`close` sets
        ``closed`` before it looks at ``forking``: either ``action`` does not run,
        or :meth:`close` finds the server forking and kills nothing.
        """
        try:
            _wait_until_forking(self._context)
        except (EOFError, OSError) as exc:
            if self._closed.is_set():
                return  # close() killed the server while it imported
            log.warning(
                "the worker fork server did not start (%s: %s); the processes' start tries again",
                type(exc).__name__, exc,
            )  # fmt: skip
        self._forking.set()
        if not self._closed.is_set():
            action()


def _wait_until_forking(context: ForkServerContext | SpawnContext) -> None:
    """Return once the fork server has imported :data:`PRELOAD` and forked a process."""
    if isinstance(context, ForkServerContext):
        probe = context.Process(target=_no_work, name="fork-server-probe", daemon=True)
        probe.start()  # returns once the server has forked it, with its pid
        probe.join()


def _no_work() -> None:
    """What the fork server's probe process does: nothing."""


def _kill_fork_server() -> int | None:
    """SIGKILL this process's fork server, if it has one; its pid.

    Under the lock the standard library holds to start a server, which is
    also the only place it reaps a dead one: the pid is still this process's
    child (a zombie at worst), never a stranger's. The standard library keeps
    the server, its lock and its pid only privately.
    """
    server = forkserver._forkserver
    with getattr(server, "_lock"):  # noqa: B009 - private, not in the type stubs
        pid: int | None = getattr(server, "_forkserver_pid")  # noqa: B009
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return pid


def _wait_until_gone(pid: int, deadline: float) -> None:
    """Until child ``pid`` has exited (or ``deadline``), without reaping it: the standard
    library reaps its fork server, and starts a new one, when a process is next started."""
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
        except ChildProcessError:
            return  # reaped already
        time.sleep(0.005)
    log.warning("the worker fork server (pid %s) did not exit in time", pid)


@dataclass
class LeftBehind:
    """What a service killed outright leaves on the machine, for its workers to remove.

    The queues it shares with its worker processes are named POSIX semaphores,
    and its fork server's socket is in a directory of its own (``/tmp/pymp-*``).
    The service's exit removes both (the standard library's finalizers); ``kill -9``
    or the OOM killer does not: once its workers had followed it, the resource
    tracker said ``There appear to be 8 leaked semaphore objects to clean up at
    shutdown`` (it unlinks them then) and the directory stayed. So each worker is
    given them (:meth:`add` the objects that own them before the worker starts) and,
    seeing the service gone (:func:`exit_with_parent`), removes them. A semaphore is
    unlinked by one worker only, the first, which tells the resource tracker it is
    gone; one already unlinked (the service's own exit) is left alone. A semaphore
    not named here still counts as leaked, as it should.
    """

    temp_dir: str = field(default_factory=util.get_temp_dir)
    """The service's multiprocessing directory (its fork server's socket)."""
    semaphores: list[str] = field(default_factory=list)

    def add(self, *owners: object) -> LeftBehind:
        """The semaphores of ``owners`` (queues, pipes: their locks are attributes)."""
        for owner in owners:
            for value in vars(owner).values():
                name = getattr(getattr(value, "_semlock", None), "name", None)
                if isinstance(value, synchronize.SemLock) and name:
                    self.semaphores.append(name)
        return self

    def remove(self) -> None:
        """Unlink the semaphores (each unregistered from the resource tracker by whoever
        unlinked it) and remove the directory; what is gone already is skipped."""
        cleanup = getattr(synchronize.SemLock, "_cleanup")  # noqa: B009 - unlink, unregister
        for name in self.semaphores:
            # FileNotFoundError: another worker was first. Another error leaves the name
            # registered, and the resource tracker reports it, as a leak.
            with contextlib.suppress(OSError):
                cleanup(name)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def exit_with_parent(
    on_gone: Callable[[], None] | None = None,
    grace_s: float = 0.0,
    left_behind: LeftBehind | None = None,
) -> None:
    """Leave (``os._exit``) once the process that started this one is gone, however it died.

    Call it in a worker first thing. The standard library gives each child of
    a multiprocessing context a sentinel of its parent, the read end of a pipe
    only the parent holds, which reaches EOF when the parent dies, even
    killed with SIGKILL; a daemon thread waits on it (no polling). A worker
    forked by the fork server is the fork server's child, so
    ``PR_SET_PDEATHSIG`` would watch the wrong process; the sentinel is the
    service's. What the service left behind (``left_behind``) is removed
    first; then ``on_gone`` (e.g. setting the worker's stop event) is called
    and given ``grace_s`` seconds to let the worker finish on its own.
    Outside a multiprocessing child (``newsflow stage``) this does nothing.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    threading.Thread(
        target=_exit_when_gone, args=(parent, on_gone, grace_s, left_behind),
        name="exit-with-parent", daemon=True,
    ).start()  # fmt: skip


def _exit_when_gone(
    parent: BaseProcess,
    on_gone: Callable[[], None] | None,
    grace_s: float,
    left_behind: LeftBehind | None,
) -> None:
    """Wait for the parent's sentinel, then end this process; nothing may keep it running."""
    parent.join()  # returns at EOF: no process holds the parent's end any more
    try:
        if left_behind is not None:
            left_behind.remove()
        log.warning(
            "process %s (pid %s) is gone; worker pid %s exits",
            parent.name, parent.pid, os.getpid(), extra={"event": "parent_gone"},
        )  # fmt: skip
        if on_gone is not None:
            on_gone()
            time.sleep(grace_s)
    finally:
        os._exit(PARENT_GONE_EXIT)
