"""Pages whose fetch failed for a while are fetched again later on Kafka too.

The fetch worker writes the letter of a transiently failed fetch (a timeout,
429, 5xx, a host that asked to be left alone) to ``news.retry`` with a
``retry_at`` header, on the embedded service's schedule
(:class:`~pipeline.runtime.retry_later.RetryLater`: ``fetch.retry_later_seconds``,
doubling, at least the host's Retry-After, none after
``fetch.retry_later_attempts``). The service (``newsflow run`` with
``transport: kafka``) looks at ``news.retry`` every few seconds; when letters
are due it replays them (:func:`~connectors.kafka.dlq.replay` with
:class:`~connectors.kafka.dlq.DueLetters`), as ``newsflow dlq replay`` does:
each due letter goes back to ``news.items`` with its attempts, every other
waiting letter before the last due one (per partition) is appended to
``news.retry`` again, in one transaction with the ``<group_prefix>.retry``
group's offsets; the letters after it stay where they are. A letter that
fails again waits for a later ``retry_at`` in ``news.retry``, or, with no
attempts left or a failure that time will not mend, in ``news.dlq`` for a
person.

``news.dlq`` is never read here: the letters a person has to look at are not
copied by the retries, however many there are. What is appended again is only
letters that wait for their own time, and at most once per :func:`replay_gap`
(a letter goes back up to that much after its time).

The feed poller does it (``newsflow run``, or ``newsflow stage poll`` when
the stages are spread out: exactly one of those runs). Looking costs one
end-offsets request while nothing changes: the waiting letters are read
again only when the topic's ends moved or the earliest ``retry_at`` seen
has come::

    with letters_retried(config):    # a thread that looks every few seconds
        source.run_forever(stop)

    retry = KafkaLetterRetry(config.kafka)
    retry.run_due()                  # one look: how many letters were sent back

A service and a person replaying at the same moment share the queue's
transactional id: the later one fences the earlier, which fails and is tried
again (the service at its next look), so no letter is sent back twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from kafka import TopicPartition

from connectors.kafka.clients import LookoutClients
from connectors.kafka.dlq import DueLetters, read_pending, replay, retry_letters
from connectors.kafka.headers import timestamp
from connectors.kafka.records import Partition
from connectors.kafka.topics import end_offsets, partitions_of
from pipeline.config import Config, KafkaConfig
from pipeline.errors import TransportError
from pipeline.models import utcnow
from pipeline.runtime.retry_later import RETRIED
from pipeline.service.kafka_health import BrokerOutage

log = logging.getLogger(__name__)

MAX_GAP_S = 30.0
"""At most this long from one replay of due letters to the next (see :func:`replay_gap`)."""
LOOK_EVERY_S = 5.0
"""Seconds between two looks at ``news.retry``."""
FINISH_S = 5.0
"""How long a stopping service waits for a look in progress (each batch of a replay is
one transaction: an abandoned one sends nothing); the shutdown must stay within 10 s."""


@contextmanager
def letters_retried(config: Config) -> Iterator[None]:
    """While the block runs, a thread sends due letters back (none when
    ``fetch.retry_later_attempts`` is 0: every letter waits for a replay)."""
    if config.fetch.retry_later_attempts == 0:
        yield
        return
    done = threading.Event()
    retry = KafkaLetterRetry(config.kafka, min_gap=replay_gap(config))
    looking = threading.Thread(target=retry.run_until, args=(done,), name="dlq-retry", daemon=True)
    looking.start()
    try:
        yield
    finally:
        done.set()
        looking.join(FINISH_S)
        if looking.is_alive():  # a broker that does not answer: the daemon thread ends with us
            log.warning("stopped while looking at the dead letters; the look is abandoned")
        else:
            retry.close()


def replay_gap(config: Config) -> float:
    """Seconds from one replay of due letters to the next: half ``retry_later_seconds``,
    at most :data:`MAX_GAP_S`. A replay appends again the waiting letters before the last
    due one, so replays are spaced; a letter waits that much past its time at most."""
    return min(config.fetch.retry_later_seconds / 2, MAX_GAP_S)


class KafkaLetterRetry:
    """Replays the dead letters whose ``retry_at`` has come (see the module docstring)."""

    def __init__(self, config: KafkaConfig, *, min_gap: float = 0.0) -> None:
        self.config = config
        self.queue = retry_letters(config)
        self.min_gap = min_gap
        """Seconds from one replay to the next, at least."""
        self._replayed_at = -float("inf")
        self._clients = LookoutClients(config, f"{config.group_prefix}.dlq-retry")
        self._partitions: list[TopicPartition] = []
        self._ends: dict[TopicPartition, int] | None = None
        """The topic's end offsets when its pending letters were last read."""
        self._earliest: str | None = None
        """The earliest ``retry_at`` among them (None: no letter waits for a time)."""
        self._outage = BrokerOutage(
            ", ".join(config.bootstrap_servers),
            time.monotonic,
            waiting="dead letters due for a retry",
        )
        """Says once that a look failed because the broker is away, and once that it is back
        (a look every few seconds, each failing after up to 30 s: one line per look before)."""

    def run_due(self, now: datetime | None = None) -> int:
        """Replay the letters due at ``now``; how many were sent back.

        A look that fails closes the look's clients (the next look opens new ones, as the
        health probe's do): a connection the error left broken is not reused. Before,
        they were kept, and every later look went through the same clients."""
        if time.monotonic() - self._replayed_at < self.min_gap:
            return 0
        try:
            return self._replay_due(now)
        except TransportError:
            self._clients.close()
            raise

    def _replay_due(self, now: datetime | None) -> int:
        moment = timestamp(now or utcnow())
        ends = self._end_offsets()
        if ends == self._ends and (self._earliest is None or self._earliest > moment):
            return 0
        waiting: list[str] = []
        last_due: dict[Partition, int] = {}
        admin, consumer = self._clients.get()
        for letter in read_pending(self.queue, admin, consumer):
            at = letter.info.retry_at if letter.info is not None else None
            if at is None:
                continue
            waiting.append(at)
            if at <= moment:
                where = (self.queue.topic, letter.partition)
                last_due[where] = max(last_due.get(where, 0), letter.offset + 1)
        self._ends, self._earliest = ends, min(waiting, default=None)
        if not last_due:
            return 0
        result = replay(self.config, DueLetters(moment), queue=self.queue, until=last_due)
        self._replayed_at = time.monotonic()
        self._ends = None  # the replay appended the letters it kept: read them again
        RETRIED.labels("taken").inc(result.replayed)
        log.info(
            "sent %d dead-lettered fetch(es) back to be fetched again",
            result.replayed,
            extra={"event": "retry_later"},
        )
        return result.replayed

    def run_until(self, stop: threading.Event, *, every: float = LOOK_EVERY_S) -> None:
        """Look every ``every`` seconds until ``stop``; a broker error waits for the next look."""
        while not stop.wait(every):
            try:
                self.run_due()
            except TransportError as exc:
                if not self._outage.failed(exc):
                    log.warning("dead letters due for a retry were left for now: %s", exc)
                continue
            self._outage.answered()

    def close(self) -> None:
        self._clients.close()

    def _end_offsets(self) -> dict[TopicPartition, int]:
        admin, consumer = self._clients.get()
        if not self._partitions:
            self._partitions = partitions_of(admin, [self.queue.topic])
            if not self._partitions:
                return {}
        return end_offsets(consumer, self._partitions)
