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

A worker must not outlive the process that started it. Nothing tells it when
that process is killed (``kill -9``, the OOM killer): a pool worker waits
forever for its next task, on a queue whose write end it holds itself; the
fork server waits for EOF on its "alive" pipe, whose write end every worker
holds; the resource tracker waits for EOF on a pipe the workers and the fork
server hold. So each worker calls :func:`exit_with_parent` first thing, and
once the workers are gone the fork server and the resource tracker see their
EOF and exit by themselves.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

PRELOAD = ["pipeline.runtime.preload"]
"""Modules the fork server imports before it forks any worker."""
PARENT_GONE_EXIT = 75
"""Exit status of a worker that left because the process that started it is gone."""


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
    first worker printed another. An ignored signal stays ignored across
    ``exec``, so it is ignored here while the server is spawned (about 1
    ms, in which this process ignores Ctrl-C too). Workers set their
    own handling. Only the main thread can change a signal's handling; from
    another thread the server starts as before, with the first worker.
    """
    if not isinstance(context, ForkServerContext):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_with_parent(on_gone: Callable[[], None] | None = None, grace_s: float = 0.0) -> None:
    """Leave (``os._exit``) once the process that started this one is gone, however it died.

    Call it in a worker first thing. The standard library gives each child of
    a multiprocessing context a sentinel of its parent, the read end of a pipe
    only the parent holds, which reaches EOF when the parent dies, even
    killed with SIGKILL; a daemon thread waits on it (no polling). A worker
    forked by the fork server is the fork server's child, so
    ``PR_SET_PDEATHSIG`` would watch the wrong process; the sentinel is the
    service's. ``on_gone`` (e.g. setting the worker's stop event) is called
    first and given ``grace_s`` seconds to let the worker finish on its own.
    Outside a multiprocessing child (``newsflow stage``) this does nothing.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    threading.Thread(
        target=_exit_when_gone, args=(parent, on_gone, grace_s), name="exit-with-parent",
        daemon=True,
    ).start()  # fmt: skip


def _exit_when_gone(
    parent: BaseProcess, on_gone: Callable[[], None] | None, grace_s: float
) -> None:
    """Wait for the parent's sentinel, then end this process; nothing may keep it running."""
    parent.join()  # returns at EOF: no process holds the parent's end any more
    try:
        log.warning(
            "process %s (pid %s) is gone; worker pid %s exits",
            parent.name, parent.pid, os.getpid(), extra={"event": "parent_gone"},
        )  # fmt: skip
        if on_gone is not None:
            on_gone()
            time.sleep(grace_s)
    finally:
        os._exit(PARENT_GONE_EXIT)
