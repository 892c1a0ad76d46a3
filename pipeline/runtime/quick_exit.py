"""Ending a process once its exit callbacks are done, without the interpreter's teardown.

At exit Python runs the exit callbacks (logging's flush, multiprocessing's
finalizers, kafka-python's closes, temporary directories), then tears down every
module and frees every object one at a time. For a newsflow process, which has
imported trafilatura, lxml and the language model, that teardown takes 0.1-0.2 s
after the work is done and the output written: `run --once` over 400 articles
exited 0.17-0.22 s after storing its last row, and its worker fork server
0.13-0.16 s after that (whoever reads the command's output through a pipe waits
for both). Nothing newsflow holds needs the teardown: stores, connections and
process pools are closed by their owners before the exit.

Used by the ``newsflow`` command (:mod:`pipeline.entry`) and the worker fork
server (:mod:`pipeline.runtime.fork_server_exit`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn


def end_now(status: int) -> NoReturn:
    """Flush the standard streams and end the process with ``status``, skipping the teardown."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    os._exit(status)


def crashed() -> bool:
    """Whether the interpreter printed an uncaught exception: it exits with 1 on its own way."""
    return hasattr(sys, "last_value") or hasattr(sys, "last_exc")
