"""kafka-python clients built from :class:`~pipeline.config.KafkaConfig`.

The one place that knows kafka-python's constructor arguments. Every client
gets the same connection and security settings; consumers never auto-commit
and read only committed records (so output of aborted transactions is never
seen, whichever delivery mode wrote it); producers are idempotent (acks=all)
and compress with :func:`codec`::

    consumer = make_consumer(config.kafka, group="newsflow.extract", topics=["news.pages"])
    producer = make_producer(config.kafka, transactional_id="newsflow.extract.host.0")

Each waits for a broker to answer when made (``bootstrap_timeout_ms``, 15 s). Given the
runner's ``stop`` event, that wait ends as soon as ``stop`` is set (see :func:`_open`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.codec import has_lz4, has_snappy, has_zstd
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.net.compat import KafkaNetClient

from connectors.kafka.errors import kafka_errors
from connectors.kafka.library_logs import quiet_library_logs
from pipeline.config import KafkaConfig
from pipeline.errors import ConfigError, StoppedWhileWaiting, TransportError

log = logging.getLogger(__name__)
quiet_library_logs()

_CODEC_AVAILABLE = {"zstd": has_zstd, "lz4": has_lz4, "snappy": has_snappy, "gzip": lambda: True}
HEARTBEAT_MS = 1000
CLIENT_METRICS = False
"""kafka-python's own metrics (sensors recorded on every socket read and write, every
produce request) are off: newsflow reads none of them (lag and assignment come from
the consumer's positions), and recording them was ~1 % of a Kafka run's CPU."""
PRODUCER_CLOSE_S = 2.0
"""How long a producer that failed to start may take to close (a transactional one whose
coordinator does not answer would otherwise wait for ever)."""
STOP_CHECK_S = 0.1
"""How often a client waiting for its broker looks at the caller's ``stop``."""
ABANDON_S = 5.0
"""How long a construction told to stop may take to end (a fraction of a second: its
bootstrap is cancelled)."""

_Client = TypeVar("_Client", KafkaAdminClient, KafkaConsumer, KafkaProducer)


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
    stop: threading.Event | None = None,
) -> KafkaConsumer:
    """A consumer that commits only when told to and skips aborted transactions.

    With ``group`` and ``topics`` it joins the group and subscribes; without,
    the caller assigns partitions itself (listing, lag, tests). ``stop`` ends the wait
    for the broker (:class:`StoppedWhileWaiting`).
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
        consumer = _open(KafkaConsumer, options, stop)
        if topics:
            with _closed_if_raises(consumer.close, client_id):
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
        raise TransportError(
            f"Kafka: topics do not exist: {', '.join(missing)} (newsflow topics create)",
            reason="kafka_missing_topic",
        )


def make_producer(
    config: KafkaConfig,
    *,
    client_id: str,
    transactional_id: str | None = None,
    stop: threading.Event | None = None,
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
        producer = _open(KafkaProducer, options, stop)
        if transactional_id:
            with _closed_if_raises(lambda: producer.close(timeout=PRODUCER_CLOSE_S), client_id):
                producer.init_transactions()
    return producer


def make_admin(
    config: KafkaConfig,
    *,
    client_id: str = "newsflow-admin",
    stop: threading.Event | None = None,
) -> KafkaAdminClient:
    with kafka_errors("connect the admin client"):
        return _open(KafkaAdminClient, connection_options(config, client_id), stop)


def _open(
    client_class: type[_Client], options: dict[str, Any], stop: threading.Event | None = None
) -> _Client:
    """``client_class(**options)``, leaving nothing open behind when it raises, and given
    ``stop``, waiting for the broker only until ``stop`` is set.

    kafka-python 3 opens a client's network selector (an epoll and a socket pair) and, for
    an admin client or a consumer, starts its ``kafka-io`` thread, before bootstrapping; a
    bootstrap that fails (nothing listens at the address, or nothing answers there) raises
    out of the constructor without closing them, and no one holds the half-made client to
    close it (the running thread keeps it from being collected). Each failed attempt left
    a thread and 3-4 descriptors behind: the health probe, trying every 20 s through an
    outage, ~4,300 threads a day. kafka-python's ``kafka_client`` option builds the network
    client through :class:`_NetworkClients`, so that it can be closed, and as a
    :class:`_LoopClosedNetClient`, so that its close does not race its ``kafka-io`` thread.

    The constructor waits for a broker to answer (up to ``bootstrap_timeout_ms``, 15 s), and
    a signal handler only sets ``stop``: a worker told to stop while its broker was away
    waited out the whole timeout, then exited 1. With ``stop``, the client is built on a
    thread of its own while this one watches ``stop`` (:func:`_built_unless_stopped`).
    """
    networks = _NetworkClients(_LoopClosedNetClient)

    def construct() -> _Client:
        with _closed_if_raises(networks.close, options["client_id"]):
            return client_class(**options, kafka_client=networks)

    if stop is None:
        return construct()
    return _built_unless_stopped(construct, networks, stop, options)


class _LoopClosedNetClient(KafkaNetClient):
    """kafka-python's network client, closing its connections on its own event loop.

    A consumer or an admin client runs its network I/O on a ``kafka-io`` thread, but its
    ``close()`` closed the connections from the caller's thread while that thread still
    ran: a connection whose response (a fetch, a heartbeat) arrived just then was read by
    the I/O thread after its socket had been set to None, and kafka-python logged
    ``Error receiving network data`` with an ``AttributeError: 'NoneType' object has no
    attribute 'recv'`` traceback (4 ``newsflow run --once`` on Kafka in 148, 0 in 120 since).
    Run on the loop, the close cancels the connection's read before it can run; the I/O
    thread is then stopped, as before.
    """

    def close(self, node_id: int | None = None) -> None:
        self._on_its_loop(self._manager.close, node_id)
        if node_id is None:
            self._net.close()

    def _on_its_loop(self, call: Callable[..., object], *args: object) -> None:
        """``call(*args)`` on the I/O thread while it runs; here when there is none (a
        producer's sender drives the loop on the thread that closes it) or it has ended."""
        io_thread = self._net._io_thread
        if io_thread is None or not io_thread.is_alive() or io_thread is threading.current_thread():
            call(*args)
        else:
            self._net.run(call, *args)


class _NetworkClients:
    """The network clients kafka-python builds for one client (its ``kafka_client``
    option), recorded so that they can be closed when the constructor raises, and their
    bootstrap cancelled while it still waits."""

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build
        self._built: list[Any] = []
        self._lock = threading.Lock()
        self._cancelled = False

    def __call__(self, **configs: Any) -> Any:
        network = self._build(**configs)
        with self._lock:
            self._built.append(network)
            if self._cancelled:
                _cancel_bootstrap(network)
        return network

    def cancel_bootstrap(self) -> None:
        """Of every network client built, and of any built from now on."""
        with self._lock:
            self._cancelled = True
            for network in self._built:
                _cancel_bootstrap(network)

    def close(self) -> None:
        for network in self._built:
            network.close()


def _cancel_bootstrap(network: Any) -> None:
    """Close the connection manager on the client's own event loop (the one place that may
    touch it while the loop runs): its bootstrap ends at once, the constructor raises."""
    network._net.call_soon_threadsafe(network._manager.close)


def _built_unless_stopped(
    construct: Callable[[], _Client],
    networks: _NetworkClients,
    stop: threading.Event,
    options: dict[str, Any],
) -> _Client:
    """``construct()`` on a thread of its own, while this one looks at ``stop`` every
    :data:`STOP_CHECK_S`. On a stop the bootstrap is cancelled, so the constructor raises
    and closes what it opened, and :class:`StoppedWhileWaiting` names the address."""
    started = time.monotonic()
    outcome: Future[_Client] = Future()
    building = threading.Thread(
        target=_settle, args=(outcome, construct), name="kafka-bootstrap", daemon=True
    )
    building.start()
    while not wait([outcome], timeout=STOP_CHECK_S).done:
        if stop.is_set():
            networks.cancel_bootstrap()
            _abandon(building, outcome, options["client_id"])
            raise StoppedWhileWaiting(
                f"stopped after waiting {time.monotonic() - started:.1f} s for the Kafka"
                f" broker at {', '.join(options['bootstrap_servers'])}, which did not answer:"
                " if it should be up, check kafka.bootstrap_servers and the broker"
            )
    return outcome.result()


def _settle(outcome: Future[Any], construct: Callable[[], Any]) -> None:
    try:
        outcome.set_result(construct())
    except BaseException as exc:  # handed to the caller through the future
        outcome.set_exception(exc)


def _abandon(building: threading.Thread, outcome: Future[Any], client_id: str) -> None:
    """Wait for a construction whose bootstrap was cancelled to end; close the client if it
    was built just before the cancel took effect."""
    building.join(ABANDON_S)
    if building.is_alive():  # not seen: a cancelled bootstrap ends at once
        log.warning("a Kafka client still connecting was abandoned")
    elif outcome.exception() is None:
        _close_quietly(outcome.result().close, client_id)


@contextmanager
def _closed_if_raises(close: Callable[[], object], client_id: str) -> Iterator[None]:
    """Close a client that failed before it was handed over: nothing else can, and its
    threads and sockets would stay open until the process ends."""
    try:
        yield
    except BaseException:
        _close_quietly(close, client_id)
        raise


def _close_quietly(close: Callable[[], object], client_id: str) -> None:
    try:
        close()
    except Exception:  # a broken client is being thrown away anyway
        log.debug("closing a %s client failed", client_id, exc_info=True)


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
                _close_quietly(client.close, self.client_id)
        self._admin = None
        self._consumer = None
