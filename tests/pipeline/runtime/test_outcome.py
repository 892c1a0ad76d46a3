"""Failures are data: which stage, which message, why, and whether to retry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from pipeline.errors import (
    ExtractionError,
    FetchError,
    FetchInterrupted,
    FetchTimeout,
    HttpStatusError,
)
from pipeline.models import FeedEntry, FetchedPage, Message
from pipeline.runtime.outcome import is_retryable, process_safely
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
