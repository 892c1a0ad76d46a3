"""The terminal progress line and the structured log events around it."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from pipeline import logs
from pipeline.service.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.STATUS_LINE.detach()
    logs.RECENT.clear()


def test_the_line_counts_each_stage_against_its_total() -> None:
    clock = Clock()
    terminal = Terminal()
    progress = Progress(terminal, enabled=True, clock=clock)
    progress.expect("feeds", 7)
    progress.add("feeds", 3)
    progress.add("entries", 40)
    clock.now += 10
    progress.add("store", 25)
    progress.add("dead letters")
    assert progress.line() == (
        "feeds 3/7 · entries 40 · store 25 · dead letters 1 · 10 s (2.5 stored/s)"
    )
    progress.close()
    output = terminal.getvalue()
    assert output.startswith("\r\x1b[K") and output.endswith("\n")
    assert output.rstrip("\n").rsplit("\r\x1b[K", 1)[1] == progress.line()


def test_redraws_are_limited_to_ten_a_second() -> None:
    clock = Clock()
    terminal = Terminal()
    progress = Progress(terminal, enabled=True, clock=clock)
    for _ in range(100):
        progress.add("store")
    assert terminal.getvalue().count("\r") == 1
    clock.now += 0.2
    progress.add("store")
    assert terminal.getvalue().count("\r") == 2


def test_off_a_terminal_nothing_is_drawn() -> None:
    pipe = io.StringIO()
    progress = Progress.for_terminal(pipe)
    progress.expect("feeds", 2)
    progress.add("feeds")
    progress.close()
    assert pipe.getvalue() == "" and not logs.STATUS_LINE.active


def test_a_log_line_wipes_the_progress_line_and_has_it_redrawn() -> None:
    terminal = Terminal()
    logs.setup("text", "INFO", stream=terminal)
    progress = Progress(terminal, enabled=True, clock=Clock())
    progress.add("store", 2)
    logging.getLogger("newsflow.test").warning("feed failed", extra={"feed": "wire"})
    text = terminal.getvalue()
    wiped = text.index("\r\x1b[Kwarning feed failed  [feed=wire]\n")
    assert text[wiped:].count("store 2") == 1, "redrawn after the log line"
    progress.close()


def test_json_events_carry_their_context_and_warnings_are_kept_for_the_page() -> None:
    stream = io.StringIO()
    logs.setup("json", "INFO", stream=stream)
    log = logging.getLogger("newsflow.test")
    log.info("fetched", extra={"url": "https://e.example/a", "stage": "fetch"})
    log.warning("extract failed: empty", extra={
        "stage": "extract", "url": "https://e.example/b", "article_id": "abc",
        "reason": "empty", "event": "dead_letter",
    })  # fmt: skip
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["url"] == "https://e.example/a" and first["stage"] == "fetch"
    assert second["article_id"] == "abc" and second["event"] == "dead_letter"
    (kept,) = logs.RECENT.newest(10)
    assert kept["msg"] == "extract failed: empty" and kept["reason"] == "empty"


def test_a_library_warning_is_a_json_event_not_raw_stderr() -> None:
    # logging remembers an earlier test's capture, which pytest has since undone
    logging.captureWarnings(False)
    stream = io.StringIO()
    logs.setup("json", "INFO", stream=stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Removal of labels has not been implemented", UserWarning, stacklevel=1)
    [event] = (json.loads(line) for line in stream.getvalue().splitlines())
    assert event["level"] == "warning"
    assert "UserWarning: Removal of labels has not been implemented" in event["msg"]


@pytest.mark.parametrize("form", ["json", "text"])
def test_a_100_kb_url_makes_a_line_of_a_few_kb_that_says_what_it_left_out(form: str) -> None:
    stream = io.StringIO()
    logs.setup(form, "INFO", stream=stream)
    url = "https://e.example/long?" + "a" * 100_000
    logging.getLogger("newsflow.test").warning(
        "fetch failed: %r answered HTTP 404", url, extra={"url": url, "reason": "http_404"}
    )
    [line] = stream.getvalue().splitlines()
    assert len(line) < 10_000
    assert line.count("https://e.example/long?aaa") == 2
    assert line.count("more characters)") == 2
