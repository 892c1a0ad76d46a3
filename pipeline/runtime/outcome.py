"""Running a chain of stages on one message, with failures as data.

Both runtimes call :func:`process_safely`; a failure comes back as a
:class:`Failure` value (picklable, so it crosses process pools) that the
runtime turns into a dead letter. Deciding what a failure means, and how a
transient one is tried again (:class:`RetryPolicy`), lives here, in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import Counter

from pipeline.errors import (
    FetchInterrupted,
    FetchTimeout,
    HttpStatusError,
    NewsflowError,
    StorageError,
    TransportError,
)
from pipeline.models import Message
from pipeline.stages.base import Stage, StageFailed, run_chain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """A message a stage could not handle, with what a user needs to act on it."""

    stage: str
    topic: str
    error_class: str
    reason: str
    error: str
    payload: str
    retryable: bool
    letter_key: str | None = None
    """The failed message's :meth:`~pipeline.models.Message.letter_key`; None when there
    was no message (undecodable bytes)."""
    retry_after: float | None = None
    """Seconds the server asked to be left alone for (429/503 ``Retry-After``), if it did."""
    storage: bool = False
    """The stage failed on the store (a :class:`~pipeline.errors.StorageError`): what
    readiness follows for the store stage's writes."""

    @property
    def is_bug(self) -> bool:
        """True when the stage raised something other than a NewsflowError."""
        return self.reason == "unexpected"


def readiness_writes(failure: Failure | None) -> list[str | None]:
    """What one store-stage outcome tells readiness
    (:class:`~pipeline.service.store_health.ArticleWrites`): ``[None]`` for a write that
    went through, ``[error]`` for one the store refused, ``[]`` for a failure that is not
    the store's (a message it cannot take says nothing about the store)."""
    if failure is None:
        return [None]
    return [failure.error] if failure.storage else []


class Lettered(Protocol):
    """What both transports' dead letters say about their failure."""

    @property
    def stage(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def last_failed_at(self) -> str:
        """ISO 8601 time of the letter's latest failure."""
        ...


@dataclass(frozen=True)
class LetterFilter:
    """Which dead letters a command acts on: all, or those of one stage and/or reason,
    and/or those that last failed before ``failed_before``."""

    stage: str | None = None
    reason: str | None = None
    failed_before: datetime | None = None

    def matches(self, letter: Lettered) -> bool:
        return (
            (self.stage is None or letter.stage == self.stage)
            and (self.reason is None or letter.reason == self.reason)
            and (self.failed_before is None or _failed_before(letter, self.failed_before))
        )


def _failed_before(letter: Lettered, moment: datetime) -> bool:
    """A letter whose time cannot be read is not known to be old: it does not match."""
    try:
        failed = datetime.fromisoformat(letter.last_failed_at)
    except ValueError:
        return False
    return (failed if failed.tzinfo else failed.replace(tzinfo=UTC)) < moment


@dataclass(frozen=True)
class Outcome:
    produced: list[Message]
    failure: Failure | None = None


RETRIES = Counter(
    "newsflow_retries_total", "Transient stage failures tried again, per worker.", ["worker"]
)


@dataclass(frozen=True)
class RetryPolicy:
    """How a runner tries a transient failure (:attr:`Failure.retryable`) again: up to
    ``attempts`` more times, waiting ``backoff_seconds`` and doubling each time.

    A server that asks for longer (``Retry-After``, or its host's window still
    open) than these quick retries ever wait is not asked again now: each retry
    would be refused (a blocked host is not even requested) or be impolite. The
    failure goes on at once to its runner's later retry, which waits as asked.
    A shorter Retry-After stretches the wait to it.
    """

    attempts: int
    backoff_seconds: float

    @property
    def longest_wait(self) -> float:
        """The wait before the last quick retry."""
        return self.backoff_seconds * 2 ** max(0, self.attempts - 1)

    def run(
        self,
        worker: str,
        attempt: Callable[[], Outcome],
        wait: Callable[[float], bool],
    ) -> Outcome | None:
        """``attempt`` until it succeeds, fails for good, or has no tries left.

        ``wait(seconds)`` sleeps between tries and returns True when the runner
        is stopping: then None is returned, and the message is neither done
        nor dead-lettered.
        """
        delay = self.backoff_seconds
        for tried in range(self.attempts + 1):
            outcome = attempt()
            failure = outcome.failure
            if failure is None or not failure.retryable or tried == self.attempts:
                return outcome
            pause = max(delay, failure.retry_after or 0.0)
            if pause > self.longest_wait:
                return outcome
            RETRIES.labels(worker).inc()
            log.info("%s: %s; retry %d in %.1f s", failure.stage, failure.error, tried + 1, pause)
            if wait(pause):
                return None
            delay *= 2
        raise AssertionError("unreachable: the last attempt returns")


def is_retryable(error: BaseException) -> bool:
    """Worth trying again later: the input was fine, the world was not."""
    if isinstance(error, HttpStatusError):
        return error.status == 429 or error.status >= 500
    return isinstance(error, FetchTimeout | FetchInterrupted | StorageError | TransportError)


def failure_from(stage: str, message: Message, error: BaseException) -> Failure:
    reason = error.reason if isinstance(error, NewsflowError) else "unexpected"
    text = str(error) or type(error).__name__
    return Failure(
        stage=stage,
        topic=message.topic,
        error_class=type(error).__name__,
        reason=reason,
        error=text,
        payload=message.to_json().decode("utf-8"),
        retryable=is_retryable(error),
        letter_key=message.letter_key(),
        retry_after=error.retry_after if isinstance(error, HttpStatusError) else None,
        storage=isinstance(error, StorageError),
    )


def process_safely(stages: Sequence[Stage], message: Message) -> Outcome:
    """Run ``stages`` on ``message``; never raises for a stage's failure."""
    try:
        return Outcome(run_chain(stages, message))
    except StageFailed as failed:
        return Outcome([], failure_from(failed.stage.name, failed.message, failed.error))
