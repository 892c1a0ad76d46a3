"""The ``newsflow`` command's entry point: the first of newsflow's code a start runs.

Importing the CLI (argparse, the errors, the signal handling) and reading the
command line take ~0.05 s before :func:`pipeline.cli.main` puts handlers of its
own in place (:func:`pipeline.runtime.signals.stops_recorded`, which records a
stop through the command's own imports). A Ctrl-C before that met Python's
default handler: a ``KeyboardInterrupt`` traceback from whichever import it
interrupted; SIGTERM killed the process (-15, no word). So this module holds
SIGINT, SIGTERM and SIGHUP before it imports anything but :mod:`signal`: a
signal is only noted. :func:`handing_over` gives them to the CLI's handlers,
which act on one held as on one that came just then: ``run`` and ``stage`` stop
before starting anything (one line, exit 0); any other command gets Python's
defaults (Ctrl-C: exit 130, no traceback; SIGTERM and SIGHUP end it, as before).

A signal ignored when the process started (``nohup``, a shell's ``&``) stays
ignored. Before this module is imported, the interpreter's own start-up applies
its defaults; nothing of newsflow's runs yet.

When the command is done, the process ends with its status once every exit
callback has run, without the interpreter's teardown
(:mod:`pipeline.runtime.quick_exit`): ~0.15 s sooner for a command that ran
the pipeline. This module registers that ending as the process's first exit
callback, so it runs last; if another was registered before (a coverage tool's,
say), it registers nothing and the process exits as Python does.
"""

from __future__ import annotations

import signal

HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_held: list[int] = []


def _hold(signum: int, frame: object) -> None:
    _held.append(signum)


_BEFORE = {sig: handler for sig in HELD if (handler := signal.getsignal(sig)) is not signal.SIG_IGN}
"""What each signal held had before: Python's defaults, unless it is ignored (not held)."""
for _sig in _BEFORE:
    signal.signal(_sig, _hold)

# Only now: a Ctrl-C during these imports is held too.
import atexit  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from pipeline.runtime.quick_exit import end_now  # noqa: E402

_status: list[int] = []
"""The command's exit status, once :func:`main` has it."""


def _end_after_exit_callbacks() -> None:
    if _status:
        end_now(_status[0])


if atexit._ncallbacks() == 0:  # the first callback registered is the last to run
    atexit.register(_end_after_exit_callbacks)


@contextmanager
def handing_over() -> Iterator[None]:
    """Within, the caller puts its own handlers in place; after, they get the signals held
    since the start, in order, as if those came now.

    The handlers from before the hold are back first (for a signal the caller
    leaves alone), and the signals are blocked throughout: one coming in between
    reaches the caller's handlers once they are in place, not Python's default.
    Later calls hand over nothing.
    """
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    try:
        for sig, handler in _BEFORE.items():
            if signal.getsignal(sig) is _hold:
                signal.signal(sig, handler)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        held = list(_held)
        _held.clear()
        for signum in held:
            signal.raise_signal(signum)


def main() -> int:
    """``newsflow``: the CLI, with the signals held since the start handed over to it."""
    from pipeline.cli import main as cli_main

    status = cli_main(handing_over=handing_over)
    _status.append(status)
    return status
