"""Stops recorded while a command starts, acted on by the runtime's handlers, in this process
(and in a child forked from it). The whole command is signalled as a subprocess in
``tests/pipeline/service/test_service_signals.py``."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from pipeline.errors import StoppedWhileStarting
from pipeline.runtime.signals import STOP_SIGNALS, handle_signals, stops_recorded


@pytest.fixture
def pytests_handlers() -> Iterator[dict[int, object]]:
    """The handlers pytest runs with, given back whatever a test leaves (``SIG_IGN`` once a
    stop came)."""
    saved = {sig: signal.getsignal(sig) for sig in (*STOP_SIGNALS, signal.SIGHUP)}
    yield saved
    for sig, handler in saved.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def _handles_a_stop_in_a_forked_child() -> int:
    """Exit status of a child forked now that enters handle_signals: 0 if the run starts."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's status is the result
        try:
            with handle_signals(threading.Event()):
                os._exit(0)
        finally:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_stop_while_starting_stops_the_run_before_it_starts_not_a_forked_child(
    pytests_handlers: dict[int, object],
) -> None:
    """A child forked after the stop (the ``fork`` start method) must not take the parent's
    stop for its own and end before it started."""
    stop = threading.Event()
    with stops_recorded():
        signal.raise_signal(signal.SIGTERM)
        child_status = _handles_a_stop_in_a_forked_child()
        with pytest.raises(StoppedWhileStarting) as stopped, handle_signals(stop):
            pytest.fail("the run started")
    assert str(stopped.value) == "stopped by SIGTERM while starting; nothing was started"
    assert child_status == 0
    assert stop.is_set()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # still stopping: not restored


def test_without_a_stop_the_handlers_before_are_back(
    pytests_handlers: dict[int, object],
) -> None:
    """``main`` runs in-process too (tests): Ctrl-C must still reach pytest after it."""
    with stops_recorded(), handle_signals(threading.Event()):
        pass
    assert {sig: signal.getsignal(sig) for sig in pytests_handlers} == pytests_handlers


def test_a_reload_while_starting_is_asked_for_once_as_the_run_starts() -> None:
    """A SIGHUP while the command starts (``systemctl reload`` just after a start) ended
    the process with status 129. It must be recorded and reach the run's reload once.
    In a forked child: before the fix the signal kills the process that gets it."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's status is the result
        try:
            reloads: list[None] = []
            with stops_recorded():
                signal.raise_signal(signal.SIGHUP)
                signal.raise_signal(signal.SIGHUP)
                with handle_signals(threading.Event(), reload=lambda: reloads.append(None)):
                    os._exit(10 + len(reloads))
        finally:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 11, "reloads asked for, plus 10"
