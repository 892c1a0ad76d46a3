"""Signals: SIGTERM/SIGINT ask the runtime to stop; SIGHUP asks it to reload config."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def handle_signals(
    stop: threading.Event, reload: Callable[[], None] | None = None
) -> Iterator[None]:
    """Install handlers for the duration of a run; restore the previous ones after.

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
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if stopping.is_set() else handler)
