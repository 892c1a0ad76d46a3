"""Imported first by the worker fork server: from here on it ignores Ctrl-C.

:func:`pipeline.runtime.processes.start_fork_server` spawns the server with
SIGINT blocked, so that a Ctrl-C during the server's imports waits, pending,
instead of killing it with a traceback (the standard library makes the
server ignore SIGINT only after its imports). Here, before those imports,
the server ignores SIGINT, which drops a pending one, and unblocks it: the
server and the workers it forks then start as if it had never been blocked.
This is the standard library's own pattern for its resource tracker.

Anywhere else (a process that does not start with SIGINT blocked) importing
this module changes nothing.
"""

from __future__ import annotations

import signal

if signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
