"""A consumer-group member that hands out batches and commits exactly what was handled.

:class:`GroupConsumer` wraps kafka-python's consumer for the poll → process →
commit loop of a worker:

- :meth:`poll` returns a batch of :class:`InRecord` in (topic, partition,
  offset) order and snapshots each partition's position;
- :meth:`next_offsets` says what to commit for a handled prefix of the batch:
  the position snapshot for a partition handled to its end (it may lie past
  transaction markers), else the offset after the last handled record;
- :meth:`rewind` seeks partitions back to their first unhandled record, so
  they are polled again; after a failed delivery, :meth:`resume_from_committed`
  seeks them to the group's committed offsets instead (the failure may have
  committed all the same);
- :meth:`commit_idle` commits positions that moved while no record came
  (transaction markers, aborted records), so the group's lag reaches 0.

Rebalance callbacks run while the caller is blocked in :meth:`poll`, so they
never interrupt a batch; ``on_revoked`` lets the owner settle anything still
open (the runner aborts an open transaction there).

A member that is not back in its group ``rejoin_timeout_ms`` after a
rebalance began leaves and joins afresh as a new member (see
:meth:`GroupConsumer.poll`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter

from connectors.kafka.clients import make_consumer
from connectors.kafka.errors import kafka_errors
from connectors.kafka.records import InRecord, Partition
from pipeline.config import KafkaConfig
from pipeline.errors import TransportError

log = logging.getLogger(__name__)

REBALANCES = Counter(
    "newsflow_kafka_rebalance_partitions_total",
    "Partitions assigned, revoked or lost by rebalances, per consumer group.",
    ["group", "event"],
)
MEMBER_REPLACEMENTS = Counter(
    "newsflow_kafka_member_replacements_total",
    "Members that were not back in their group kafka.rejoin_timeout_ms after a rebalance"
    " began, and left it to join afresh.",
    ["group"],
)


class _Listener(ConsumerRebalanceListener):
    def __init__(self, owner: GroupConsumer) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.owner._revoked(set(revoked), "revoked")

    def on_partitions_lost(self, lost: Iterable[TopicPartition]) -> None:
        self.owner._revoked(set(lost), "lost")

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.owner._assigned(set(assigned))


class GroupConsumer:
    """One member of ``group``, subscribed to ``topics``; not thread-safe (one worker thread).

    With ``subscribe=False`` it takes every partition of ``topics`` itself
    instead of joining the group (a single tool such as ``newsflow dlq
    replay``), still committing under ``group``.
    """

    def __init__(
        self,
        config: KafkaConfig,
        *,
        group: str,
        topics: Sequence[str],
        client_id: str,
        on_revoked: Callable[[set[Partition]], None] | None = None,
        subscribe: bool = True,
        stop: threading.Event | None = None,
    ) -> None:
        self.group = group
        self.on_revoked = on_revoked
        self._config = config
        self._client_id = client_id
        self._stop = stop
        """Ends the wait for the broker when a member is made (see :func:`make_consumer`)."""
        self._topics = list(topics) if subscribe else None
        self._positions: dict[Partition, int] = {}
        self._committed: dict[Partition, int] = {}
        self._held: set[Partition] = set()
        self._rejoining_since: float | None = None
        self._left_group = False
        self.consumer: KafkaConsumer = self._new_member()
        if not subscribe:
            self._assign_all(topics)

    def _new_member(self) -> KafkaConsumer:
        return make_consumer(
            self._config,
            client_id=self._client_id,
            group=self.group,
            topics=self._topics,
            listener=_Listener(self),
            stop=self._stop,
        )

    def _assign_all(self, topics: Sequence[str]) -> None:
        with kafka_errors(f"assign the partitions of {', '.join(topics)}"):
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(self.consumer.partitions_for_topic(topic) or ())
            ]
            self.consumer.assign(partitions)
        self._held = {(tp.topic, tp.partition) for tp in partitions}

    # -- the batch loop -------------------------------------------------------

    def poll(self, timeout_ms: int, max_records: int) -> list[InRecord]:
        """The next batch (possibly empty); joins or rejoins the group as needed.

        A rebalance normally ends within a poll or two. kafka-python waits
        for a JoinGroup answer up to ``max_poll_interval_ms`` + 5 s, and
        one that never comes (seen once in CI: the broker had already
        forgotten the member) would keep this member out of its group, its
        partitions unread, for that long. Past ``rejoin_timeout_ms`` the
        member leaves and joins as a new one.
        """
        if self._left_group:
            self._join_as_new_member()
        with kafka_errors(f"poll for group {self.group}"):
            batches = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
            self._positions = {
                (tp.topic, tp.partition): self.consumer.position(tp) for tp in batches
            }
        records = [
            InRecord(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
            for tp in sorted(batches, key=lambda t: (t.topic, t.partition))
            for r in batches[tp]
        ]
        if self._topics is not None:
            self._watch_rejoin(in_group=bool(records) or self._in_active_group())
        return records

    def _in_active_group(self) -> bool:
        """kafka-python's view: joined and synced (a stable generation), not asked to rejoin.

        Both count: the CI runs that stalled showed either the rejoin flag set
        for good, or the flag cleared while the member stayed unsynced (every
        commit then refused as "rebalancing").
        """
        coordinator = getattr(self.consumer, "_coordinator", None)
        if coordinator is None:
            return True
        return coordinator.generation_if_stable() is not None and not self.rebalance_pending()

    def _watch_rejoin(self, *, in_group: bool) -> None:
        now = time.monotonic()
        if in_group:
            self._rejoining_since = None
        elif self._rejoining_since is None:
            self._rejoining_since = now
        elif now - self._rejoining_since >= self._config.rejoin_timeout_ms / 1000:
            self._join_afresh(now - self._rejoining_since)

    def _join_afresh(self, waited: float) -> None:
        """Leave the group and join as a new member.

        Closing runs the revoke callback for whatever kafka-python still lists as
        assigned, so the owner settles open work as on any revocation.
        """
        MEMBER_REPLACEMENTS.labels(self.group).inc()
        log.warning(
            "%s: not back in the group %.0f s after a rebalance began; leaving it and"
            " joining as a new member",
            self.group,
            waited,
        )
        self._positions.clear()
        self._committed.clear()
        self._rejoining_since = None
        try:
            self.close()
        except TransportError as exc:
            log.info("%s: the stuck member did not leave cleanly: %s", self.group, exc)
        self._held.clear()  # the new member holds nothing until it is assigned
        self._left_group = True
        self._join_as_new_member()

    def _join_as_new_member(self) -> None:
        """Replace the consumer that left; while the broker is away this raises, and the
        next poll tries again."""
        self.consumer = self._new_member()
        self._left_group = False

    def next_offsets(
        self, handled: Sequence[InRecord], batch: Sequence[InRecord]
    ) -> dict[Partition, int]:
        """Offsets to commit once ``handled`` (in each partition, a prefix of ``batch``'s
        records) is safely delivered."""
        last_of_batch = {r.where: r.offset for r in batch}
        offsets: dict[Partition, int] = {}
        for record in handled:
            if record.offset == last_of_batch[record.where]:
                offsets[record.where] = max(self._positions.get(record.where, 0), record.offset + 1)
            else:
                offsets[record.where] = record.offset + 1
        return offsets

    def rewind(self, unhandled: Sequence[InRecord]) -> None:
        """Seek back so ``unhandled`` records are polled again."""
        with kafka_errors("seek back"):
            for tp, offset in self._first_held(unhandled).items():
                self.consumer.seek(tp, offset)

    def resume_from_committed(self, batch: Sequence[InRecord]) -> dict[Partition, int]:
        """Seek the partitions of ``batch``, whose delivery failed, to the group's committed
        offsets (to the batch's first record where the group has none); return them.

        A failed delivery may have committed all the same: the broker committed the
        transaction, and only its answer was lost or late. Seeking back to the batch's
        first record then handled it twice, and read_committed readers saw its output
        twice. Call this once the failed delivery is settled (a new transactional
        producer's ``init_transactions`` has completed or aborted its transaction): the
        committed offsets then say which it was. Reading them waits while a transaction
        of the group is still open (kafka-python asks for stable offsets, KIP-447).
        """
        resumed: dict[Partition, int] = {}
        timeout_ms = self._config.transaction_timeout_ms
        with kafka_errors(f"read the committed offsets of group {self.group}"):
            for tp, first in self._first_held(batch).items():
                committed = self.consumer.committed(tp, timeout_ms=timeout_ms)
                offset = first if committed is None else committed
                self.consumer.seek(tp, offset)
                resumed[(tp.topic, tp.partition)] = offset
                if committed is not None:
                    self._committed[(tp.topic, tp.partition)] = committed
        return resumed

    def _first_held(self, records: Sequence[InRecord]) -> dict[TopicPartition, int]:
        """The first offset of ``records`` in each partition this member still holds."""
        first: dict[TopicPartition, int] = {}
        assigned = self.consumer.assignment()
        for record in records:
            tp = TopicPartition(*record.where)
            if tp in assigned:
                first.setdefault(tp, record.offset)
        return first

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Commit outside a transaction (at-least-once delivery, idle positions)."""
        if not offsets:
            return
        with kafka_errors(f"commit offsets of group {self.group}"):
            self.consumer.commit(offsets=to_kafka_offsets(offsets))
        self.committed(offsets)

    def committed(self, offsets: Mapping[Partition, int]) -> None:
        """Record offsets committed elsewhere (inside a transaction)."""
        self._committed.update(offsets)

    def commit_idle(self) -> dict[Partition, int]:
        """Commit positions that advanced without records (past markers or aborted data)."""
        advanced: dict[Partition, int] = {}
        with kafka_errors("read positions"):
            for tp in self.consumer.assignment():
                where = (tp.topic, tp.partition)
                position = self.consumer.position(tp, timeout_ms=1000)
                if position is not None and position > self._committed.get(where, -1):
                    advanced[where] = position
        self.commit(advanced)
        return advanced

    def rebalance_pending(self) -> bool:
        """True once the group has asked this member to rejoin (a member joined or left).

        The member rejoins at its next poll, and the whole group waits for it
        meanwhile; a worker in the middle of a long batch asks between records
        and delivers what it has done first. kafka-python's heartbeat thread
        sets ``rejoin_needed`` when the coordinator answers "rebalance in
        progress"; there is no public accessor. (Its ``need_rejoin()`` also
        answers True while the member's own metadata settles after a join,
        which is not another member waiting.)
        """
        coordinator = getattr(self.consumer, "_coordinator", None)
        return getattr(coordinator, "rejoin_needed", False) is True

    def group_metadata(self) -> object:
        """The member's generation, for transactional offset commits (fences zombies, KIP-447)."""
        return self.consumer.group_metadata()

    def assignment(self) -> set[Partition]:
        return {(tp.topic, tp.partition) for tp in self.consumer.assignment()}

    def positions(self) -> dict[Partition, int]:
        """The next offset to read of every partition this member holds.

        Held, not kafka-python's ``assignment()``: that keeps revoked partitions
        until the rejoin completes, and a member stuck out of its group (for up
        to ``rejoin_timeout_ms``) reported them as its own: ready, with a lag for
        partitions another member was consuming.
        """
        held = {(tp.topic, tp.partition) for tp in self.consumer.assignment()} & self._held
        with kafka_errors("read positions"):
            return {where: self.consumer.position(TopicPartition(*where)) for where in held}

    def close(self) -> None:
        """Leave the group at once (partitions move to the others without waiting for a timeout)."""
        with kafka_errors(f"leave group {self.group}"):
            self.consumer.close(autocommit=False, timeout_ms=5000)

    # -- rebalance callbacks (run while poll() blocks) ------------------------

    def _revoked(self, partitions: set[TopicPartition], event: str) -> None:
        """Settle partitions that are going; each one assigned counts once when it goes.

        (A member replaced after a stuck rejoin is told of the same partitions twice:
        at the rebalance, and again when it closes.)
        """
        where = {(tp.topic, tp.partition) for tp in partitions}
        REBALANCES.labels(self.group, event).inc(len(where & self._held))
        self._held -= where
        for key in where:
            self._committed.pop(key, None)
            self._positions.pop(key, None)
        if partitions:
            log.info("%s: partitions %s %s", self.group, event, sorted(where))
        if self.on_revoked is not None:
            self.on_revoked(where)

    def _assigned(self, partitions: set[TopicPartition]) -> None:
        REBALANCES.labels(self.group, "assigned").inc(len(partitions))
        self._held |= {(tp.topic, tp.partition) for tp in partitions}
        if partitions:
            log.info(
                "%s: partitions assigned %s",
                self.group,
                sorted((tp.topic, tp.partition) for tp in partitions),
            )


def to_kafka_offsets(offsets: Mapping[Partition, int]) -> dict[TopicPartition, OffsetAndMetadata]:
    return {
        TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)
        for (topic, partition), offset in offsets.items()
    }
