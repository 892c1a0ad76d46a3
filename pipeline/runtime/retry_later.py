"""Pages whose fetch failed for a while are fetched again later by the embedded service
(on Kafka: :mod:`pipeline.runtime.kafka_retry_later`, on the same schedule).

A transient fetch failure (a timeout, 429, 5xx, a connection broken off, a host
that asked to be left alone) is first tried again at once a few times
(:class:`~pipeline.runtime.outcome.RetryPolicy`). If it still fails, its entry
is a dead letter; a service that runs for months must not leave such pages
to an operator's ``newsflow dlq replay``. So the letter gets a ``retry_at``
(:class:`RetryLater`): the first wait is ``fetch.retry_later_seconds``, it
doubles with each failure, it is never shorter than the host's Retry-After,
and after ``fetch.retry_later_attempts`` the letter waits for a human.

:class:`LetterRetry` hands the entries of due letters to the pipeline with the
polls' entries. A letter goes in the same transaction as its article is
stored (:meth:`~connectors.storage.dead_letters.DeadLetterRepository.settle`);
a crash in between leaves it leased, and it comes due again when the lease
ends (storage is idempotent: the article is not stored twice)::

    pipeline.submit(entries, summary)   # letters kept with RetryLater(...).schedule(failure)
    retry = LetterRetry(resources.dead_letters, submit)   # submit: entries + their letters
    retry.run_due()     # in the service loop (a turn at least every second): cheap when none is due
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter

from connectors.storage.dead_letters import DeadLetter, DeadLetterRepository
from pipeline.config import FetchConfig
from pipeline.errors import HostBlocked, MessageError
from pipeline.models import FeedEntry, decode, utcnow
from pipeline.runtime.outcome import Failure

log = logging.getLogger(__name__)

RETRIED = Counter(
    "newsflow_dead_letters_retried_total",
    "Dead letters the service fetched again by itself: taken (on Kafka: replayed to the"
    " items topic), through (embedded: stored, the letter removed), refused (embedded: not"
    " an entry, left to `newsflow dlq replay`).",
    ["result"],
)

MAX_WAIT = timedelta(days=1)
LEASE = timedelta(minutes=15)
"""How long a taken letter is left alone: a crashed service's letters come due after it."""
TAKEN_PER_LOOK = 32
"""Letters taken at one look; the rest wait for the next (the pipeline bounds work anyway)."""


@dataclass(frozen=True)
class RetryLater:
    """When a dead-lettered fetch is tried again, from its attempts so far."""

    attempts: int
    first_wait: timedelta

    @classmethod
    def from_config(cls, fetch: FetchConfig) -> RetryLater:
        return cls(fetch.retry_later_attempts, timedelta(seconds=fetch.retry_later_seconds))

    def schedule(self, failure: Failure) -> Callable[[int], datetime | None]:
        """The schedule of ``failure``'s letter (see :class:`DeadLetterRepository.add`).

        A ``host_blocked`` page was never requested: it waits for its host's window
        to close, without doubling and without using up its attempts (a host that
        keeps asking for time would otherwise send its pages to a human unasked).
        """

        def retry_at(attempts: int) -> datetime | None:
            if not self.applies(failure):
                return None
            asked = timedelta(seconds=failure.retry_after or 0)
            if failure.reason == HostBlocked.default_reason:
                return utcnow() + max(self.first_wait, asked)
            if attempts > self.attempts:
                return None
            wait = min(self.first_wait * 2 ** (attempts - 1), MAX_WAIT)
            return utcnow() + max(wait, asked)

        return retry_at

    def applies(self, failure: Failure) -> bool:
        """Only fetches, and only failures the world caused: the page itself was fine."""
        return self.attempts > 0 and failure.stage == "fetch" and failure.retryable


Submit = Callable[[list[tuple[FeedEntry, DeadLetter]]], None]
"""Hands entries, each with the letter it settles, to the pipeline."""


class LetterRetry:
    """Takes the letters that are due and submits their entries (see the module docstring)."""

    def __init__(self, letters: DeadLetterRepository, submit: Submit) -> None:
        self.letters = letters
        self.submit = submit

    def run_due(self) -> int:
        """Submit the entries of the letters due now; how many were submitted.

        One indexed read when none is due: the write transaction that leases
        letters is only opened when there are some.
        """
        now = utcnow()
        earliest = self.letters.next_retry()
        if earliest is None or earliest > now:
            return 0
        due = self.letters.take_due(now, lease_until=now + LEASE, limit=TAKEN_PER_LOOK)
        work = [(entry, letter) for letter in due if (entry := self._entry(letter)) is not None]
        RETRIED.labels("taken").inc(len(work))
        if work:
            log.info(
                "fetching %d dead-lettered page(s) again", len(work), extra={"event": "retry_later"}
            )
            self.submit(work)
        return len(work)

    def _entry(self, letter: DeadLetter) -> FeedEntry | None:
        """The entry a fetch letter holds; a letter holding anything else is left to a replay."""
        try:
            message = decode(FeedEntry, letter.payload)
        except MessageError as exc:
            log.warning("dead letter %d is not an entry; left to a replay: %s", letter.id, exc)
            RETRIED.labels("refused").inc()
            self.letters.clear_retry(letter.id)
            return None
        return message
