"""The topics of the pipeline: their names, settings, creation and consumer lag.

Names are a public contract: ``<topic_prefix>.<logical>`` for the logical
topics of :data:`pipeline.topology.TOPICS` (``news.items``, ``news.pages``,
``news.articles``, ``news.enriched``, ``news.duplicates``, ``news.dlq``,
``news.retry``).
:func:`ensure_topics` creates the missing ones and leaves existing ones alone;
several processes may call it at once (a topic another process created in
between counts as present)::

    admin = make_admin(config.kafka)
    created = ensure_topics(admin, topic_specs(config.kafka))
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import kafka.errors as kerrors
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from connectors.kafka.clients import codec
from connectors.kafka.errors import GROUP_FORMING, kafka_errors
from pipeline.config import KafkaConfig
from pipeline.errors import TransportError
from pipeline.topology import LETTER_TOPICS, TOPICS, topic_name

HOUR_MS = 3600 * 1000
GROUP_FORMING_WAIT_S = 10.0
"""How long a group's offsets are asked for while its coordinator forms (a fresh broker
takes 1-3 s to make ``__consumer_offsets``)."""
GROUP_FORMING_RETRY_S = 0.25
COMPRESSED_TOPICS = frozenset({"pages"})
"""Topics compressed at rest whichever producer wrote them (fetched HTML)."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


def topic_specs(config: KafkaConfig) -> list[TopicSpec]:
    """One spec per logical topic, with partitions, retention and compression from config."""
    return [_spec(config, logical) for logical in TOPICS]


def _spec(config: KafkaConfig, logical: str) -> TopicSpec:
    hours = config.dlq_retention_hours if logical in LETTER_TOPICS else config.retention_hours
    compression = codec(config) if logical in COMPRESSED_TOPICS else None
    configs = {
        "cleanup.policy": "delete",
        "retention.ms": str(int(hours * HOUR_MS)),
        "compression.type": compression or "producer",
        "max.message.bytes": str(config.max_message_bytes),
    }
    if config.replication_factor >= 3:
        configs["min.insync.replicas"] = "2"
    return TopicSpec(
        name=topic_name(config.topic_prefix, logical),
        partitions=config.partitions,
        replication_factor=config.replication_factor,
        configs=configs,
    )


def existing_topics(admin: KafkaAdminClient) -> set[str]:
    with kafka_errors("list topics"):
        return set(admin.list_topics())


def ensure_topics(admin: KafkaAdminClient, specs: Sequence[TopicSpec]) -> list[str]:
    """Create the topics of ``specs`` that do not exist yet; return the names created here."""
    missing = [s for s in specs if s.name not in existing_topics(admin)]
    if not missing:
        return []
    request = {
        s.name: {
            "num_partitions": s.partitions,
            "replication_factor": s.replication_factor,
            "configs": dict(s.configs),
        }
        for s in missing
    }
    with kafka_errors("create topics"):
        response = admin.create_topics(request, timeout_ms=30_000, raise_errors=False)
    created = _created(response)
    with kafka_errors("wait for new topics"):
        admin.wait_for_topics([s.name for s in missing], timeout_ms=30_000)
    return created


def _created(response: Mapping[str, object]) -> list[str]:
    """Names created by this request; a topic that already exists is a lost race, not an error."""
    created = []
    problems = []
    for topic in response.get("topics", []):  # type: ignore[attr-defined]
        error = kerrors.for_code(topic["error_code"])
        if error is kerrors.NoError:
            created.append(topic["name"])
        elif error is not kerrors.TopicAlreadyExistsError:
            message = topic.get("error_message") or error.__name__
            problems.append(f"{topic['name']}: {message}")
    if problems:
        raise TransportError(f"Kafka: cannot create topics: {'; '.join(problems)}")
    return created


def describe_topics(admin: KafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    """Partition count of each of ``names`` that exists."""
    present = existing_topics(admin)
    wanted = [n for n in names if n in present]
    if not wanted:
        return {}
    with kafka_errors("describe topics"):
        described = admin.describe_topics(wanted)
    return {t["name"]: len(t["partitions"]) for t in described}


def partitions_of(admin: KafkaAdminClient, topics: Iterable[str]) -> list[TopicPartition]:
    return [
        TopicPartition(name, p)
        for name, count in sorted(describe_topics(admin, topics).items())
        for p in range(count)
    ]


def end_offsets(
    consumer: KafkaConsumer, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The last stable offset of each partition (the consumer reads committed records only)."""
    if not partitions:
        return {}
    with kafka_errors("read end offsets"):
        return dict(consumer.end_offsets(list(partitions)))


def committed_offsets(
    admin: KafkaAdminClient, group: str, *, forming_wait_s: float = GROUP_FORMING_WAIT_S
) -> dict[TopicPartition, int]:
    """The offsets ``group`` committed, by partition.

    A broker's first seconds (``__consumer_offsets`` being made, a coordinator
    loading it) answer "coordinator not available": the offsets exist but cannot be
    read yet, and the broker is up. They are asked for again for up to
    ``forming_wait_s``; what still fails is a :class:`TransportError`.
    """
    deadline = time.monotonic() + forming_wait_s
    with kafka_errors(f"read the offsets of group {group}"):
        while True:
            try:
                offsets = admin.list_group_offsets({group: None}).get(group, {})
                break
            except GROUP_FORMING:
                if time.monotonic() + GROUP_FORMING_RETRY_S > deadline:
                    raise
                time.sleep(GROUP_FORMING_RETRY_S)
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def group_lag(
    admin: KafkaAdminClient, consumer: KafkaConsumer, group: str, topics: Iterable[str]
) -> dict[TopicPartition, int]:
    """Messages of ``topics`` that ``group`` has not committed yet, per partition."""
    partitions = partitions_of(admin, topics)
    ends = end_offsets(consumer, partitions)
    committed = committed_offsets(admin, group)
    with kafka_errors("read beginning offsets"):
        starts = dict(consumer.beginning_offsets(partitions)) if partitions else {}
    return {tp: max(0, ends[tp] - committed.get(tp, starts[tp] or 0)) for tp in partitions}
