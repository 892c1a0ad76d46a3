"""Imported by the worker fork server: it ends without its interpreter's teardown.

The fork server exits when the process that started it is gone. Its teardown
then frees everything it imported for its workers (trafilatura, lxml, the
language model): 0.13-0.16 s after the service itself ended, which a reader of
the service's output waits for, as the server keeps that output open. See
:mod:`pipeline.runtime.quick_exit`.

Its exit callback runs before the standard library's, which have nothing to do
in the server: multiprocessing's (no finalizer is registered there, and the
server's workers are forked by hand, not process objects of its own) and
logging's (the server writes no log). A server ending on an uncaught exception
exits as Python does, with its traceback and status 1.

Only the fork server acts on this module: it is started as ``python -c "from
multiprocessing.forkserver import main; main(...)"``. Imported anywhere else it
does nothing.
"""

from __future__ import annotations

import atexit
import sys

from pipeline.runtime.quick_exit import crashed, end_now

SERVER_COMMAND = "from multiprocessing.forkserver import main;"
"""How the standard library's command for the fork server begins."""


def _end_without_teardown() -> None:
    if not crashed():
        end_now(0)  # the server's only exit of its own is a bare SystemExit: status 0


def is_fork_server() -> bool:
    """Whether this process is the multiprocessing fork server."""
    return any(arg.startswith(SERVER_COMMAND) for arg in sys.orig_argv)


if is_fork_server():
    atexit.register(_end_without_teardown)
