"""Signals: SIGTERM/SIGINT ask the runtime to stop; SIGHUP asks it to reload config.

A command that runs :func:`handle_signals` takes about a second (more on a busy
machine) to import its modules and read its config before it gets there. Its
entry point enters :func:`stops_recorded` first: a stop in that time is recorded,
and :func:`handle_signals` acts on it as it takes over.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from pipeline.errors import StoppedWhileStarting

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_stops_before_handled: list[signal.Signals] = []
"""Stop signals that came within :func:`stops_recorded`, before :func:`handle_signals`."""


def _record_stop(signum: int, frame: FrameType | None) -> None:
    _stops_before_handled.append(signal.Signals(signum))


# A child forked from this process starts with no stop of its own: the parent's is the
# parent's to act on (the fork server and worker processes start afresh anyway).
os.register_at_fork(after_in_child=_stops_before_handled.clear)


@contextmanager
def stops_recorded() -> Iterator[None]:
    """Within, until :func:`handle_signals` takes over, SIGTERM/SIGINT only record a stop.

    Without it a supervisor (systemd, Kubernetes) stopping a service it had just
    started killed it (status -15, no word) or, with SIGINT, got a
    ``KeyboardInterrupt`` traceback; later the same stop is one line and exit 0.
    Enter it first thing, and only around a command that goes on to
    :func:`handle_signals` (elsewhere the stop would be ignored). After, the
    handlers it replaced are back, unless :func:`handle_signals` left the signals
    ignored (the process is stopping); from a thread other than the main one
    (which cannot set handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _record_stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        _stops_before_handled.clear()
        for sig, handler in previous.items():
            if signal.getsignal(sig) is _record_stop:
                signal.signal(sig, handler)


def _stopped_while_starting() -> StoppedWhileStarting:
    """The stop recorded while the process was starting, taken (not acted on twice)."""
    first = _stops_before_handled[0]
    _stops_before_handled.clear()
    return StoppedWhileStarting(f"stopped by {first.name} while starting; nothing was started")


@contextmanager
def handle_signals(
    stop: threading.Event, reload: Callable[[], None] | None = None
) -> Iterator[None]:
    """Install handlers for the duration of a run; restore the previous ones after.

    A stop recorded before (:func:`stops_recorded`) raises
    :class:`~pipeline.errors.StoppedWhileStarting` here, before the run starts.
    A second SIGINT/SIGTERM while stopping is ignored: the in-flight batch is
    finished and committed either way, and the runtime exits within seconds.
    Once a stop signal came, SIGINT/SIGTERM (and SIGHUP: a reload is moot, and
    its default handler would end the process with 129) stay ignored after the
    run too, not restored: the process is still stopping (summary, closing the store, the
    interpreter's own exit), and a restored default handler would kill it with
    143 there. ``SIG_IGN``, unlike a Python handler, also survives interpreter
    finalisation, which resets Python handlers to the default.
    """
    stopping = threading.Event()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        stop.set()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        if reload is not None:
            reload()

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in (
            (signal.SIGTERM, on_stop),
            (signal.SIGINT, on_stop),
            (signal.SIGHUP, on_hup),
        )
    }
    try:
        if _stops_before_handled:  # stop at once, before the run starts anything
            stopping.set()
            stop.set()
            raise _stopped_while_starting()
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if stopping.is_set() else handler)
