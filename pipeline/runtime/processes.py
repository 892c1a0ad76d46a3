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
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext, SpawnContext

PRELOAD = ["pipeline.runtime.preload"]
"""Modules the fork server imports before it forks any worker."""


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
