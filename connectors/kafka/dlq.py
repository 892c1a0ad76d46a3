"""The letter topics: list what is waiting, send it back where it came from.

Letters wait in two topics (:class:`LetterQueue`): ``news.dlq`` for a person
(``newsflow dlq``), and ``news.retry`` for their time to be fetched again
(transient fetch failures, each with a ``retry_at`` header; the service sends
them back by itself, :mod:`pipeline.runtime.kafka_retry_later`). Keeping the
two apart means that sending the due ones back never touches the letters that
wait for a person, however many there are.

A queue's pending letters are those past the committed offset of its group
(``<group_prefix>.dlq-replay``, ``<group_prefix>.retry``). :func:`replay`
reads them up to the end of the topic as it was when the replay began and, in
one delivery with the commit of the group's offsets (a transaction by
default):

- sends each letter matching the filter back to its ``source_topic`` header,
  with its original key and bytes (and a ``replayed_from`` header);
- appends every other letter to the end of its topic again, headers and all,
  so a replay filtered by stage or reason never drops the others.

So each pending letter is handled exactly once per replay, and what the
group has committed past is either replayed or still pending further on. A
letter whose headers are missing or name a topic outside this deployment's
prefix is kept (appended again) and counted as ``invalid``. Offsets are never
committed past the end read at the start: letters this replay appended again
stay pending. A replayed record carries its letter's attempts
(``letter_attempts``), so a letter of its next failure counts on::

    for queue in letter_queues(config.kafka):
        result = replay(config.kafka, LetterFilter(stage="extract"), queue=queue)
        result.replayed, result.kept, result.invalid
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from connectors.kafka.clients import make_admin, make_consumer, make_producer
from connectors.kafka.consumer import GroupConsumer
from connectors.kafka.delivery import AtLeastOnceDelivery, Delivery, TransactionalDelivery
from connectors.kafka.errors import kafka_errors
from connectors.kafka.headers import LETTER_ATTEMPTS, DeadLetterInfo, Headers, record_place
from connectors.kafka.records import InRecord, OutRecord, Partition
from connectors.kafka.topics import committed_offsets, end_offsets, partitions_of
from pipeline.config import KafkaConfig
from pipeline.errors import MessageError
from pipeline.runtime.outcome import LetterFilter
from pipeline.topology import LETTER_TOPICS, TOPICS, topic_name

log = logging.getLogger(__name__)

READ_BATCH = 500
POLL_MS = 500
MAX_EMPTY_POLLS = 20
EXACT_COUNT_SPAN = 1000
"""Up to this many offsets past a queue's group, :func:`pending_in` reads and counts."""

T = TypeVar("T")
Spans = dict[TopicPartition, tuple[int, int]]
"""Per partition of a letter topic: a span of offsets, start and end."""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers
    info: DeadLetterInfo | None
    """None when the headers are not a dead letter's (``invalid``)."""

    @property
    def place(self) -> str:
        """Where the letter is: ``news.dlq[0]@42``."""
        return record_place(self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class ReplayResult:
    replayed: int = 0
    kept: int = 0
    invalid: int = 0
    dropped: int = 0

    def __add__(self, other: ReplayResult) -> ReplayResult:
        """Both queues' results as one, for a command that replays both."""
        return ReplayResult(
            self.replayed + other.replayed,
            self.kept + other.kept,
            self.invalid + other.invalid,
            self.dropped + other.dropped,
        )


@dataclass(frozen=True)
class DueLetters:
    """The letters whose ``retry_at`` has come; ``now`` is
    :func:`~connectors.kafka.headers.timestamp` text, which sorts as time does."""

    now: str

    def matches(self, info: DeadLetterInfo) -> bool:
        return info.retry_at is not None and info.retry_at <= self.now


@dataclass(frozen=True)
class LetterQueue:
    """A topic of letters, and the group whose committed offsets mark the settled ones."""

    topic: str
    group: str


def dead_letters(config: KafkaConfig) -> LetterQueue:
    """Letters that wait for a person: ``newsflow dlq replay`` or ``drop``."""
    return LetterQueue(topic_name(config.topic_prefix, "dlq"), f"{config.group_prefix}.dlq-replay")


def retry_letters(config: KafkaConfig) -> LetterQueue:
    """Letters that wait for their ``retry_at``; the service sends them back then."""
    return LetterQueue(topic_name(config.topic_prefix, "retry"), f"{config.group_prefix}.retry")


def letter_queues(config: KafkaConfig) -> tuple[LetterQueue, LetterQueue]:
    """Both, in the order a listing shows them."""
    return dead_letters(config), retry_letters(config)


def to_letter(record: InRecord) -> DeadLetter:
    try:
        info: DeadLetterInfo | None = DeadLetterInfo.from_headers(record.headers)
    except MessageError:
        info = None
    return DeadLetter(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value or b"",
        record.headers,
        info,
    )


def pending_letters(
    config: KafkaConfig, queue: LetterQueue, *, include_replayed: bool = False
) -> Iterator[DeadLetter]:
    """Letters of ``queue`` past its group's offsets (all of them with ``include_replayed``),
    read with clients of their own."""
    admin = make_admin(config)
    consumer = make_consumer(config, client_id=f"{config.group_prefix}.dlq-list")
    try:
        spans = _pending_spans(queue, admin, consumer, include_settled=include_replayed)
        yield from _read_spans(consumer, queue, spans)
    finally:
        consumer.close()
        admin.close()


def read_pending(
    queue: LetterQueue, admin: KafkaAdminClient, consumer: KafkaConsumer
) -> list[DeadLetter]:
    """Letters of ``queue`` past its group's offsets, with the caller's clients."""
    return list(_read_spans(consumer, queue, _pending_spans(queue, admin, consumer)))


def pending_count(config: KafkaConfig, admin: KafkaAdminClient, consumer: KafkaConsumer) -> int:
    """How many letters are pending in both queues (past their groups' offsets); each
    queue is counted as :func:`pending_in` says."""
    return sum(pending_in(queue, admin, consumer) for queue in letter_queues(config))


def pending_in(queue: LetterQueue, admin: KafkaAdminClient, consumer: KafkaConsumer) -> int:
    """How many letters of ``queue`` are pending.

    Offsets also number the transactions' commit markers (a letter written in
    a transaction takes two), so the span of offsets overstates the count and
    would not fall to 0 once every letter is replayed or dropped. Up to
    :data:`EXACT_COUNT_SPAN` offsets the letters are read and counted (the
    consumer is assigned to the topic for that); beyond, the span is returned,
    an upper bound.
    """
    return _count(consumer, queue, _pending_spans(queue, admin, consumer))


class PendingView:
    """Both queues' pending letters as a probe asking every few seconds sees them.

    A letter topic is quiet for hours, and an extraction letter carries its
    page (~100 KB): reading the pending letters at every scrape and status
    refresh would read the same megabytes again and again. Each answer is
    kept with the spans it was read from (first pending offset and end, per
    partition) and read again only when they moved: a letter written,
    replayed or dropped. A quiet topic costs the offset requests only.
    """

    def __init__(self, config: KafkaConfig) -> None:
        self.queues = letter_queues(config)
        self._answers: dict[str, tuple[object, object]] = {}

    def count(self, admin: KafkaAdminClient, consumer: KafkaConsumer) -> int:
        """What :func:`pending_count` says."""
        return self._count(consumer, self._spans(admin, consumer))

    def newest(
        self, admin: KafkaAdminClient, consumer: KafkaConsumer, limit: int
    ) -> list[DeadLetter]:
        """The newest pending letters of both queues, newest first (by ``failed_at``):
        at most the last ``limit`` records of each partition are read."""
        return self._newest(consumer, self._spans(admin, consumer), limit)

    def count_and_newest(
        self, admin: KafkaAdminClient, consumer: KafkaConsumer, limit: int
    ) -> tuple[int, list[DeadLetter]]:
        """Both, from one look at the offsets (the status page shows both)."""
        spans = self._spans(admin, consumer)
        return self._count(consumer, spans), self._newest(consumer, spans, limit)

    def _spans(self, admin: KafkaAdminClient, consumer: KafkaConsumer) -> dict[LetterQueue, Spans]:
        return {queue: _pending_spans(queue, admin, consumer) for queue in self.queues}

    def _count(self, consumer: KafkaConsumer, spans: dict[LetterQueue, Spans]) -> int:
        return self._answer(
            "count", spans, lambda: sum(_count(consumer, q, s) for q, s in spans.items())
        )

    def _newest(
        self, consumer: KafkaConsumer, spans: dict[LetterQueue, Spans], limit: int
    ) -> list[DeadLetter]:
        return self._answer(f"newest-{limit}", spans, lambda: _newest(consumer, spans, limit))

    def _answer(self, key: str, spans: object, read: Callable[[], T]) -> T:
        kept = self._answers.get(key)
        if kept is not None and kept[0] == spans:
            return cast(T, kept[1])
        answer = read()
        self._answers[key] = (spans, answer)
        return answer


def _count(consumer: KafkaConsumer, queue: LetterQueue, spans: Spans) -> int:
    span = sum(end - start for start, end in spans.values())
    if span == 0 or span > EXACT_COUNT_SPAN:
        return span
    return sum(1 for _ in _read_spans(consumer, queue, spans))


def _newest(
    consumer: KafkaConsumer, spans: Mapping[LetterQueue, Spans], limit: int
) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    for queue, queue_spans in spans.items():
        newest = {tp: (max(start, end - limit), end) for tp, (start, end) in queue_spans.items()}
        letters.extend(_read_spans(consumer, queue, newest))
    letters.sort(key=lambda letter: letter.info.failed_at if letter.info else "", reverse=True)
    return letters[:limit]


def _pending_spans(
    queue: LetterQueue,
    admin: KafkaAdminClient,
    consumer: KafkaConsumer,
    *,
    include_settled: bool = False,
) -> Spans:
    """Per partition of ``queue``: its first pending offset (its first offset with
    ``include_settled``) and its end."""
    partitions = partitions_of(admin, [queue.topic])
    if not partitions:
        return {}
    ends = end_offsets(consumer, partitions)
    settled = {} if include_settled else committed_offsets(admin, queue.group)
    with kafka_errors("read beginning offsets"):
        beginnings = consumer.beginning_offsets(partitions)
    return {
        tp: (min(ends[tp], max(beginnings.get(tp) or 0, settled.get(tp, 0))), ends[tp])
        for tp in partitions
    }


def _read_spans(consumer: KafkaConsumer, queue: LetterQueue, spans: Spans) -> Iterator[DeadLetter]:
    """The letters of ``spans`` (start, end per partition), as they are read; the consumer
    is left unassigned."""
    behind = {tp: span for tp, span in spans.items() if span[1] > span[0]}
    if not behind:
        return
    with kafka_errors(f"read {queue.topic}"):
        consumer.assign(list(behind))
        for tp, (start, _) in behind.items():
            consumer.seek(tp, start)
        try:
            yield from _read_until(consumer, {tp: end for tp, (_, end) in behind.items()})
        finally:
            consumer.assign([])


def _read_until(consumer: KafkaConsumer, ends: dict[TopicPartition, int]) -> Iterator[DeadLetter]:
    """Records of the assigned partitions up to ``ends``, as dead letters."""
    remaining = {tp for tp, end in ends.items() if consumer.position(tp) < end}
    empty = 0
    while remaining and empty < MAX_EMPTY_POLLS:
        batches = consumer.poll(timeout_ms=POLL_MS, max_records=READ_BATCH)
        empty = 0 if batches else empty + 1
        for tp in sorted(batches, key=lambda t: t.partition):
            for r in batches[tp]:
                if r.offset < ends[tp]:
                    headers = list(r.headers or [])
                    yield to_letter(
                        InRecord(r.topic, r.partition, r.offset, r.key, r.value, headers)
                    )
        remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}


def replay(
    config: KafkaConfig,
    letters: LetterFilter | DueLetters,
    *,
    queue: LetterQueue,
    drop: bool = False,
    until: Mapping[Partition, int] | None = None,
) -> ReplayResult:
    """Send pending letters of ``queue`` matching ``letters`` back to their source topics
    (module docstring).

    With ``drop`` they are discarded instead: the queue's group commits past them and
    nothing is sent (letters whose cause will never be fixed, such as pages gone for
    good). The others stay pending, as in a replay. With ``until``, each partition is
    read up to that offset only (a partition it does not name, not at all): the letters
    past the last one to send back stay where they are instead of being appended again.
    """
    group = queue.group
    consumer = GroupConsumer(
        config, group=group, topics=[queue.topic], client_id=group, subscribe=False
    )
    delivery = _delivery(config, consumer, group)
    try:
        return _replay(config, consumer, delivery, letters, drop=drop, until=until)
    finally:
        delivery.close(5.0)
        consumer.close()


def _delivery(config: KafkaConfig, consumer: GroupConsumer, group: str) -> Delivery:
    if config.delivery == "transactional":
        # One transactional id for every replay of a queue: a second replay running at
        # the same time fences the first instead of sending the same letters twice.
        return TransactionalDelivery(
            lambda: make_producer(config, client_id=group, transactional_id=group), consumer
        )
    return AtLeastOnceDelivery(lambda: make_producer(config, client_id=group), consumer)


def _replay(
    config: KafkaConfig,
    consumer: GroupConsumer,
    delivery: Delivery,
    letters: LetterFilter | DueLetters,
    *,
    drop: bool,
    until: Mapping[Partition, int] | None,
) -> ReplayResult:
    with kafka_errors("read the end of a letter topic"):
        tps = list(consumer.consumer.assignment())
        ends: dict[Partition, int] = {
            (tp.topic, tp.partition): end for tp, end in consumer.consumer.end_offsets(tps).items()
        }
    if until is not None:
        ends = {where: min(end, until.get(where, 0)) for where, end in ends.items()}
    replayed = kept = invalid = dropped = 0
    empty = 0
    while _behind(consumer, ends) and empty < MAX_EMPTY_POLLS:
        batch = [r for r in consumer.poll(POLL_MS, READ_BATCH) if r.offset < ends[r.where]]
        empty = 0 if batch else empty + 1
        if not batch:
            continue
        outputs = []
        for record in batch:
            letter = to_letter(record)
            target = _target(config, letter)
            if letter.info is not None:
                matches = letters.matches(letter.info)
            else:  # no headers to filter on: only a drop of everything takes it
                matches = drop and letters == LetterFilter()
            if matches and drop:
                dropped += 1
            elif matches and target is not None:
                outputs.append(_resend(letter, target))
                replayed += 1
            else:
                outputs.append(OutRecord(record.topic, record.key, letter.value, letter.headers))
                kept += 1
                invalid += target is None
        delivery.deliver(outputs, _within(consumer.next_offsets(batch, batch), ends))
    return ReplayResult(replayed=replayed, kept=kept, invalid=invalid, dropped=dropped)


def _within(offsets: dict[Partition, int], ends: dict[Partition, int]) -> dict[Partition, int]:
    """Offsets to commit, never past ``ends``: a poll may have returned records beyond
    them (letters this replay appended again, or ones past ``until``), which stay pending."""
    return {where: min(offset, ends[where]) for where, offset in offsets.items()}


def _behind(consumer: GroupConsumer, ends: dict[Partition, int]) -> bool:
    positions = consumer.positions()
    return any(positions.get(where, 0) < end for where, end in ends.items())


def _target(config: KafkaConfig, letter: DeadLetter) -> str | None:
    """The topic to send a letter back to, if its headers name one of this deployment's."""
    if letter.info is None:
        return None
    source = letter.info.source_topic
    allowed = {topic_name(config.topic_prefix, t) for t in TOPICS if t not in LETTER_TOPICS}
    return source if source in allowed else None


def _resend(letter: DeadLetter, target: str) -> OutRecord:
    headers = [("replayed_from", letter.place.encode())]
    if letter.info is not None:
        headers.append((LETTER_ATTEMPTS, str(letter.info.attempts).encode()))
    return OutRecord(target, letter.key, letter.value, headers)
