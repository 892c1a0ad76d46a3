"""Signals: SIGTERM/SIGINT ask the runtime to stop; SIGHUP asks it to reload config.

A command that runs :func:`handle_signals` takes about a second (more on a busy
machine) to import its modules and read its config before it gets there. Its
entry point enters :func:`stops_recorded` first: a stop or a reload asked for in
that time is recorded, and :func:`handle_signals` acts on it as it takes over.
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


_reloads_before_handled: list[signal.Signals] = []
"""SIGHUPs that came within :func:`stops_recorded`, before :func:`handle_signals`."""


def _record_stop(signum: int, frame: FrameType | None) -> None:
    _stops_before_handled.append(signal.Signals(signum))


def _record_reload(signum: int, frame: FrameType | None) -> None:
    _reloads_before_handled.append(signal.Signals(signum))


def _forget_recorded() -> None:
    _stops_before_handled.clear()
    _reloads_before_handled.clear()


# A child forked from this process starts with no stop of its own: the parent's is the
# parent's to act on (the fork server and worker processes start afresh anyway).
os.register_at_fork(after_in_child=_forget_recorded)


@contextmanager
def stops_recorded() -> Iterator[None]:
    """Within, until :func:`handle_signals` takes over, SIGTERM/SIGINT only record a stop
    and SIGHUP a reload.

    Without it a supervisor (systemd, Kubernetes) stopping a service it had just
    started killed it (status -15, no word) or, with SIGINT, got a
    ``KeyboardInterrupt`` traceback; later the same stop is one line and exit 0.
    A SIGHUP (``systemctl reload`` right after a start) ended the process with
    status 129; the config it asks to be read again may have changed after this
    process read it, so the run reloads it as it starts.
    Enter it first thing, and only around a command that goes on to
    :func:`handle_signals` (elsewhere the stop would be ignored). After, the
    handlers it replaced are back, unless :func:`handle_signals` left the signals
    ignored (the process is stopping); from a thread other than the main one
    (which cannot set handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    recorders = {sig: _record_stop for sig in STOP_SIGNALS} | {signal.SIGHUP: _record_reload}
    previous = {sig: signal.signal(sig, recorder) for sig, recorder in recorders.items()}
    try:
        yield
    finally:
        _forget_recorded()
        for sig, handler in previous.items():
            if signal.getsignal(sig) is recorders[sig]:
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
    :class:`~pipeline.errors.StoppedWhileStarting` here, before the run starts;
    a reload recorded before (and no stop) is asked for here, once.
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
        if _reloads_before_handled:
            _reloads_before_handled.clear()
            on_hup(signal.SIGHUP, None)
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if stopping.is_set() else handler)
