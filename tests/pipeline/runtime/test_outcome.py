"""Failures are data: which stage, which message, why, and whether to retry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from pipeline.errors import (
    ExtractionError,
    FetchError,
    FetchInterrupted,
    FetchTimeout,
    HostBlocked,
    HttpStatusError,
)
from pipeline.models import FeedEntry, FetchedPage, Message
from pipeline.runtime.outcome import Outcome, RetryPolicy, is_retryable, process_safely
from pipeline.stages.base import Stage


class ToPage(Stage):
    name: ClassVar[str] = "to_page"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        return [FetchedPage(entry=message, url=message.url, html="<p>x</p>")]


class Exploding(Stage):
    name: ClassVar[str] = "exploding"
    accepts: ClassVar[tuple[type[Message], ...]] = (FetchedPage,)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def process(self, message: Message) -> Iterable[Message]:
        raise self.error


ENTRY = FeedEntry(feed="f", feed_kind="rss", url="https://a.example/s")


def test_a_chain_passes_messages_along() -> None:
    outcome = process_safely([ToPage()], ENTRY)
    assert outcome.failure is None
    assert [m.topic for m in outcome.produced] == ["pages"]


def test_a_failure_names_the_stage_and_the_message_it_got() -> None:
    outcome = process_safely(
        [ToPage(), Exploding(ExtractionError("no text", url="u", reason="empty"))], ENTRY
    )
    assert outcome.produced == []
    assert outcome.failure is not None
    assert outcome.failure.stage == "exploding"
    assert outcome.failure.topic == "pages"
    assert outcome.failure.reason == "empty"
    assert outcome.failure.error_class == "ExtractionError"
    assert '"html":"<p>x</p>"' in outcome.failure.payload
    assert not outcome.failure.retryable


def test_an_unexpected_exception_is_caught_and_marked_as_a_bug() -> None:
    outcome = process_safely([ToPage(), Exploding(KeyError("boom"))], ENTRY)
    assert outcome.failure is not None
    assert outcome.failure.is_bug
    assert outcome.failure.error_class == "KeyError"


def test_retryable_errors() -> None:
    assert is_retryable(FetchTimeout("slow", url="u"))
    assert is_retryable(HttpStatusError("busy", url="u", status=503))
    assert is_retryable(HttpStatusError("slow down", url="u", status=429))
    assert not is_retryable(HttpStatusError("gone", url="u", status=404))
    assert is_retryable(FetchInterrupted("reset", url="u", reason="protocol"))
    assert not is_retryable(FetchError("bad certificate", url="u", reason="tls"))
    assert not is_retryable(ExtractionError("empty", url="u"))


def _retried(error: Exception, policy: RetryPolicy) -> tuple[int, list[float]]:
    """Attempts made and waits taken by ``policy`` on a stage that always fails so."""
    attempts, waits = 0, []

    def attempt() -> Outcome:
        nonlocal attempts
        attempts += 1
        return process_safely([ToPage(), Exploding(error)], ENTRY)

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    outcome = policy.run("fetch", attempt, wait)
    assert outcome is not None and outcome.failure is not None
    return attempts, waits


def test_quick_retries_double_their_wait() -> None:
    assert _retried(FetchTimeout("slow", url="u"), RetryPolicy(3, 0.5)) == (4, [0.5, 1.0, 2.0])


def test_a_short_retry_after_stretches_the_quick_retries() -> None:
    busy = HttpStatusError("busy", url="u", status=503, retry_after=1.5)
    assert _retried(busy, RetryPolicy(3, 0.5)) == (4, [1.5, 1.5, 2.0])


def test_a_retry_after_longer_than_the_quick_retries_goes_on_to_the_later_retry() -> None:
    """A blocked host is not even requested until its window ends: three quick retries
    within 3.5 s of a 120 s window were refused each time, and impolite."""
    blocked = HostBlocked("closed for 120 s", url="u", status=503, retry_after=120)
    assert _retried(blocked, RetryPolicy(3, 0.5)) == (1, [])
    assert _retried(HttpStatusError("busy", url="u", status=503, retry_after=30),
                    RetryPolicy(3, 0.5)) == (1, [])  # fmt: skip
