"""kafka-python clients built from :class:`~pipeline.config.KafkaConfig`.

The one place that knows kafka-python's constructor arguments. Every client
gets the same connection and security settings; consumers never auto-commit
and read only committed records (so output of aborted transactions is never
seen, whichever delivery mode wrote it); producers are idempotent (acks=all)
and compress with :func:`codec`::

    consumer = make_consumer(config.kafka, group="newsflow.extract", topics=["news.pages"])
    producer = make_producer(config.kafka, transactional_id="newsflow.extract.host.0")
"""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.codec import has_lz4, has_snappy, has_zstd
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from connectors.kafka.errors import kafka_errors
from connectors.kafka.library_logs import quiet_slow_task_warnings
from pipeline.config import KafkaConfig
from pipeline.errors import ConfigError, TransportError

log = logging.getLogger(__name__)
quiet_slow_task_warnings()

_CODEC_AVAILABLE = {"zstd": has_zstd, "lz4": has_lz4, "snappy": has_snappy, "gzip": lambda: True}
HEARTBEAT_MS = 1000
CLIENT_METRICS = False
"""kafka-python's own metrics (sensors recorded on every socket read and write, every
produce request) are off: newsflow reads none of them (lag and assignment come from
the consumer's positions), and recording them was ~1 % of a Kafka run's CPU."""


def codec(config: KafkaConfig) -> str | None:
    """The compression codec to use: the configured one, or the best one installed for ``auto``.

    kafka-python compresses with gzip from the standard library; zstd, lz4 and
    snappy need their Python package (``zstandard``, ``lz4``, ``python-snappy``).
    """
    if config.compression == "none":
        return None
    if config.compression == "auto":
        return next(name for name in ("zstd", "lz4", "gzip") if _CODEC_AVAILABLE[name]())
    if not _CODEC_AVAILABLE[config.compression]():
        raise ConfigError(
            [f"kafka.compression: {config.compression} needs its Python codec package installed"]
        )
    return config.compression


def connection_options(config: KafkaConfig, client_id: str) -> dict[str, Any]:
    """Settings every client shares: where the brokers are and how to authenticate."""
    options: dict[str, Any] = {
        "bootstrap_servers": list(config.bootstrap_servers),
        "client_id": client_id,
        "security_protocol": config.security_protocol,
        "bootstrap_timeout_ms": config.bootstrap_timeout_ms,
    }
    if config.ssl_cafile:
        options["ssl_cafile"] = config.ssl_cafile
    if config.security_protocol.startswith("SASL"):
        if not config.sasl_username or config.sasl_password is None:
            raise ConfigError(["kafka.sasl_username and kafka.sasl_password are required for SASL"])
        options["sasl_mechanism"] = config.sasl_mechanism
        options["sasl_plain_username"] = config.sasl_username
        options["sasl_plain_password"] = config.sasl_password.get_secret_value()
    return options


def make_consumer(
    config: KafkaConfig,
    *,
    client_id: str,
    group: str | None = None,
    topics: list[str] | None = None,
    listener: ConsumerRebalanceListener | None = None,
) -> KafkaConsumer:
    """A consumer that commits only when told to and skips aborted transactions.

    With ``group`` and ``topics`` it joins the group and subscribes; without,
    the caller assigns partitions itself (listing, lag, tests).
    """
    options = connection_options(config, client_id) | {
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": config.batch_size,
        "session_timeout_ms": config.session_timeout_ms,
        "heartbeat_interval_ms": heartbeat_interval_ms(config),
        "max_poll_interval_ms": config.max_poll_interval_ms,
        "max_partition_fetch_bytes": max(1024 * 1024, config.max_message_bytes),
        "allow_auto_create_topics": False,
        "metrics_enabled": CLIENT_METRICS,
    }
    with kafka_errors("connect the consumer"):
        consumer = KafkaConsumer(**options)
        if topics:
            _require_topics(consumer, topics)
            consumer.subscribe(topics=topics, listener=listener)
    return consumer


def heartbeat_interval_ms(config: KafkaConfig) -> int:
    """One heartbeat a second (a third of the session timeout if that is shorter).

    Members learn that their group is rebalancing from a heartbeat's answer.
    At a third of the 10 s session timeout (3.3 s), a second extraction
    process that joined at start waited ~4 s for its partitions while the
    first did all the work; a heartbeat is one small request.
    """
    return max(300, min(HEARTBEAT_MS, config.session_timeout_ms // 3))


def _require_topics(consumer: KafkaConsumer, topics: list[str]) -> None:
    """Load the topics' metadata before joining, or fail if one does not exist.

    A group leader that assigns partitions before its metadata knows the
    topics assigns none, and may not notice until the next metadata refresh
    (minutes); asking for the partitions first avoids that.
    """
    missing = [t for t in topics if not consumer.partitions_for_topic(t)]
    if missing:
        consumer.close()
        raise TransportError(
            f"Kafka: topics do not exist: {', '.join(missing)} (newsflow topics create)",
            reason="kafka_missing_topic",
        )


def make_producer(
    config: KafkaConfig, *, client_id: str, transactional_id: str | None = None
) -> KafkaProducer:
    """An idempotent producer (acks=all); transactional when ``transactional_id`` is given."""
    options = connection_options(config, client_id) | {
        "enable_idempotence": True,
        "acks": "all",
        "compression_type": codec(config),
        "linger_ms": 5,
        "retry_backoff_ms": 20,
        "batch_size": 256 * 1024,
        "max_request_size": config.max_message_bytes,
        "allow_auto_create_topics": False,
        "metrics_enabled": CLIENT_METRICS,
    }
    if transactional_id:
        options["transactional_id"] = transactional_id
        options["transaction_timeout_ms"] = config.transaction_timeout_ms
    with kafka_errors("connect the producer"):
        producer = KafkaProducer(**options)
        if transactional_id:
            producer.init_transactions()
    return producer


def make_admin(config: KafkaConfig, *, client_id: str = "newsflow-admin") -> KafkaAdminClient:
    with kafka_errors("connect the admin client"):
        return KafkaAdminClient(**connection_options(config, client_id))


class LookoutClients:
    """An admin client and an unsubscribed consumer for a loop that looks at offsets every
    few seconds (the health probe, the letter retry): opened at the first look and kept,
    not opened and closed at each; :meth:`close` drops them (after a broker error, the
    next look opens new ones)."""

    def __init__(self, config: KafkaConfig, client_id: str) -> None:
        self.config = config
        self.client_id = client_id
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None

    def get(self) -> tuple[KafkaAdminClient, KafkaConsumer]:
        if self._admin is None:
            self._admin = make_admin(self.config, client_id=self.client_id)
        if self._consumer is None:
            self._consumer = make_consumer(self.config, client_id=self.client_id)
        return self._admin, self._consumer

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                try:
                    client.close()
                except Exception:  # a broken client is being thrown away anyway
                    log.debug("closing a %s client failed", self.client_id, exc_info=True)
        self._admin = None
        self._consumer = None
