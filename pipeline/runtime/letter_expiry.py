"""Dead letters nobody acted on leave the embedded store after a retention, as on Kafka.

On Kafka a letter lives in ``news.dlq`` for ``kafka.dlq_retention_hours`` and
then goes with its log segment. The embedded store kept every letter for
good: a service running for months gathered every page that ever went 404,
extract letters with their page inside, and a "dead letters waiting" count
that never came down. :class:`LetterExpiry` removes the letters that have not
failed again for ``storage.dead_letter_retention_hours``; a letter the service
is still going to try (one with a ``retry_at``) stays, however old::

    expiry = LetterExpiry(resources.dead_letters, retention=timedelta(days=30))
    expiry.run_due()     # in the service loop: a look at most every EVERY_SECONDS
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from prometheus_client import Counter

from connectors.storage.dead_letters import DeadLetterRepository
from pipeline.config import StorageConfig
from pipeline.models import utcnow

log = logging.getLogger(__name__)

EXPIRED = Counter(
    "newsflow_dead_letters_expired_total",
    "Embedded dead letters removed after storage.dead_letter_retention_hours without a new"
    " failure.",
)
EVERY_SECONDS = 3600.0
"""A retention counted in days needs no finer look than hourly."""


class LetterExpiry:
    def __init__(
        self,
        letters: DeadLetterRepository,
        retention: timedelta,
        *,
        every_seconds: float = EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.letters = letters
        self.retention = retention
        self.every_seconds = every_seconds
        self.clock = clock
        self._next_look: float | None = None

    @classmethod
    def from_config(cls, letters: DeadLetterRepository, storage: StorageConfig) -> LetterExpiry:
        return cls(letters, timedelta(hours=storage.dead_letter_retention_hours))

    def run_due(self) -> int:
        """Remove the expired letters if a look is due (the first call always looks);
        how many went. Raises the store's errors (``StoreUnavailable``) like any write."""
        now = self.clock()
        if self._next_look is not None and now < self._next_look:
            return 0
        self._next_look = now + self.every_seconds
        removed = self.letters.expire(utcnow() - self.retention)
        if removed:
            EXPIRED.inc(removed)
            log.info(
                "removed %d dead letters that had not failed again for %s",
                removed, _spoken(self.retention),
                extra={"event": "dead_letters_expired", "count": removed},
            )  # fmt: skip
        return removed


def _spoken(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"
