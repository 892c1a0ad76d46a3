"""Helpers for the tests that run against the real local Kafka broker.

The broker address comes from ``NEWSFLOW_TEST_KAFKA_BOOTSTRAP`` (``make test``
sets it); outside CI, ``deploy/local/kafka.sh up`` starts the broker when it is
unset. In CI (``CI=true``) a missing broker fails the test, never skips it.

Every test gets a :class:`KafkaEnv`: its own topic prefix, group prefix and
SQLite store, a config file for ``newsflow stage`` subprocesses, and helpers
to produce, read, measure lag and run stages, in threads or real processes.
Its topics are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY

from connectors.kafka.clients import make_admin, make_consumer, make_producer
from connectors.kafka.headers import DeadLetterInfo
from connectors.kafka.topics import ensure_topics, group_lag, topic_specs
from connectors.storage.store import open_store
from corpus import generate_site_pages, generate_sites, render_page, write_article
from pipeline.config import Config, parse_config
from pipeline.models import EnrichedArticle, FeedEntry, Message, utcnow
from pipeline.runtime.kafka_runner import group_id, run_worker
from pipeline.runtime.summary import RunSummary
from pipeline.topology import WORKER_BY_NAME, WORKERS, topic_name

REPO = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO / "deploy" / "local" / "kafka.sh"
NEWSFLOW = Path(sys.executable).with_name("newsflow")

FAST_KAFKA = {
    "partitions": 4,
    "batch_size": 50,
    "poll_timeout_ms": 200,
    "session_timeout_ms": 3000,
    "rejoin_timeout_ms": 15_000,
    "transaction_timeout_ms": 5000,
    "retry_backoff_seconds": 0.05,
}
"""Settings that keep rebalances and crash recovery to seconds in tests."""

UNSETTLED = ("Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence")
"""Transaction states whose commit or abort markers are not all written yet."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def broker_address() -> str:
    """The test broker's bootstrap address; fail (CI) or skip (elsewhere) when there is none."""
    address = os.environ.get("NEWSFLOW_TEST_KAFKA_BOOTSTRAP", "").strip()
    if address:
        return address
    if in_ci():
        pytest.fail(
            "Kafka is required in CI: NEWSFLOW_TEST_KAFKA_BOOTSTRAP is not set", pytrace=False
        )
    result = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "up"], capture_output=True, text=True, timeout=300
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        pytest.skip(f"Kafka unavailable: kafka.sh up failed: {result.stderr.strip()[-500:]}")
    return lines[-1].strip()


@dataclass
class KafkaEnv:
    """One test's slice of the broker: unique topics and groups, its own store."""

    bootstrap: str
    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    processes: list[StageProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.raw: dict[str, Any] = {
            "transport": "kafka",
            "kafka": {
                "bootstrap_servers": [self.bootstrap],
                "topic_prefix": f"t{self.run_id}",
                "group_prefix": f"g{self.run_id}",
                **FAST_KAFKA,
            },
            "storage": {"url": f"sqlite:///{self.workdir / 'store.db'}"},
            "extract": {"workers": 1},
            "service": {"http_enabled": False, "log_format": "json", "log_level": "INFO"},
        }

    # -- configuration --------------------------------------------------------

    def configure(self, **sections: Mapping[str, Any]) -> None:
        """Merge settings into the config (``kafka={"delivery": "at_least_once"}``)."""
        for section, values in sections.items():
            current = self.raw.get(section)
            if isinstance(current, dict) and isinstance(values, Mapping):
                current.update(values)
            else:
                self.raw[section] = values

    @property
    def config(self) -> Config:
        return parse_config(self.raw, base=REPO)

    def config_file(self) -> Path:
        path = self.workdir / "newsflow.yaml"
        resolved = self.config.model_dump(mode="json")  # paths made absolute against the repo
        path.write_text(yaml.safe_dump(resolved), encoding="utf-8")
        return path

    def topic(self, logical: str) -> str:
        return topic_name(self.config.kafka.topic_prefix, logical)

    def group(self, worker: str) -> str:
        return group_id(self.config, WORKER_BY_NAME[worker])

    def create_topics(self) -> None:
        admin = make_admin(self.config.kafka)
        try:
            ensure_topics(admin, topic_specs(self.config.kafka))
        finally:
            admin.close()

    def set_topic_config(self, logical: str, name: str, value: str) -> None:
        """Change one setting of a topic and wait until the broker applies it."""
        admin = make_admin(self.config.kafka)
        topic = self.topic(logical)
        try:
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {name: value})])

            def applied() -> bool:
                wanted = ConfigResource(ConfigResourceType.TOPIC, topic, [name])
                described = admin.describe_configs([wanted])["topic"][topic]
                return bool(described[name]["value"] == value)

            wait_for(applied, timeout=30, what=f"{topic} {name}={value}", every=0.1)
        finally:
            admin.close()

    # -- producing and reading ------------------------------------------------

    def produce(self, logical: str, messages: Iterable[Message]) -> int:
        return self.produce_raw(logical, ((m.key().encode(), m.to_json()) for m in messages))

    def produce_raw(
        self,
        logical: str,
        records: Iterable[tuple[bytes | None, bytes]],
        *,
        headers: Sequence[list[tuple[str, bytes]]] = (),
    ) -> int:
        """Records as they are; ``headers``, when given, holds each record's headers."""
        producer = make_producer(self.config.kafka, client_id=f"test-{self.run_id}")
        try:
            futures = [
                producer.send(
                    self.topic(logical),
                    key=key,
                    value=value,
                    headers=headers[i] if headers else None,
                )
                for i, (key, value) in enumerate(records)
            ]
            producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=10)
            return len(futures)
        finally:
            producer.close()

    def read(self, logical: str, *, timeout: float = 10.0) -> list[Any]:
        """Every committed record of a topic, from the beginning to its current end."""
        consumer = make_consumer(self.config.kafka, client_id=f"test-read-{self.run_id}")
        try:
            return list(_read_to_end(consumer, self.topic(logical), timeout))
        finally:
            consumer.close()

    def lag(self, workers: Iterable[str] | None = None) -> int:
        """Records not yet committed by the groups of ``workers`` (all by default)."""
        names = list(workers) if workers is not None else [w.name for w in WORKERS]
        admin = make_admin(self.config.kafka)
        consumer = make_consumer(self.config.kafka, client_id=f"test-lag-{self.run_id}")
        try:
            return sum(
                sum(group_lag(admin, consumer, self.group(name),
                              [self.topic(t) for t in WORKER_BY_NAME[name].consumes]).values())
                for name in names
            )  # fmt: skip
        finally:
            consumer.close()
            admin.close()

    def unsettled_transactions(self) -> list[str]:
        """Transactional ids of this run whose transaction the broker has not finished.

        A process killed mid-transaction and not restarted leaves its
        transaction open until the broker aborts it (``transaction_timeout_ms``,
        then its periodic check). The abort markers land then and move the
        end offsets, so a lag of 0 measured before that is not final.
        """
        admin = make_admin(self.config.kafka)
        try:
            listings = admin.list_transactions(state_filters=list(UNSETTLED))
        finally:
            admin.close()
        prefix = f"{self.config.kafka.group_prefix}."
        return sorted(
            listing.transactional_id
            for per_broker in listings.values()
            for listing in per_broker
            if listing.transactional_id.startswith(prefix)
        )

    def group_members(self, worker: str) -> dict[str, set[tuple[str, int]]] | None:
        """Each member of a worker's group (by client id) and its partitions; None mid-rebalance."""
        admin = make_admin(self.config.kafka)
        try:
            group = admin.describe_groups([self.group(worker)])[self.group(worker)]
        finally:
            admin.close()
        if group["group_state"] not in ("Stable", "Empty", "Dead"):
            return None
        return {
            member["client_id"]: {
                (assigned["topic"], partition)
                for assigned in member["member_assignment"]["assigned_partitions"]
                for partition in assigned["partitions"]
            }
            for member in group["members"]
        }

    # -- the store ------------------------------------------------------------

    def stored_ids(self) -> list[str]:
        """Ids of every stored article (duplicates included), one per row."""
        with open_store(self.config.storage.url) as store:
            return [row[0] for row in store.db.execute("SELECT id FROM articles ORDER BY id")]

    def stored_count(self) -> int:
        """Stored articles, duplicates included; 0 before the SQLite store file exists."""
        if (
            self.config.storage.url.startswith("sqlite:")
            and not (self.workdir / "store.db").exists()
        ):
            return 0
        with open_store(self.config.storage.url) as store:
            return store.articles.count()

    # -- running stages -------------------------------------------------------

    def start_stage(self, name: str) -> StageProcess:
        """``newsflow stage NAME`` as a real process (killable with SIGKILL)."""
        index = sum(1 for p in self.processes if p.name == name)
        process = StageProcess.start(name, self.config_file(), self.workdir / f"{name}-{index}.log")
        self.processes.append(process)
        return process

    def run_threads(self, workers: Iterable[str] | None = None) -> ThreadedPipeline:
        """The workers in threads of this process (cheap to start; for small loads)."""
        names = list(workers) if workers is not None else [w.name for w in WORKERS]
        return ThreadedPipeline(self.config, names, lock_dir=self.workdir / "slots")

    def cleanup(self) -> None:
        for process in self.processes:
            process.kill()
        admin = make_admin(self.config.kafka)
        try:
            prefix = f"{self.config.kafka.topic_prefix}."
            mine = [t for t in admin.list_topics() if t.startswith(prefix)]
            if mine:
                admin.delete_topics(mine)
        finally:
            admin.close()


def _read_to_end(consumer: KafkaConsumer, topic: str, timeout: float) -> Iterator[Any]:
    partitions = [
        TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    deadline = time.monotonic() + timeout
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        if time.monotonic() > deadline:
            raise AssertionError(f"could not read {topic} to its end within {timeout} s")
        for records in consumer.poll(timeout_ms=200).values():
            yield from records


def fetch_letter(
    reason: str,
    *,
    retry_at: str | None = None,
    attempts: int = 1,
    failed_at: str = "2026-11-18T09:00:00.000Z",
    source_topic: str = "news.items",
) -> DeadLetterInfo:
    """The headers of a fetch worker's letter: retryable when it has a ``retry_at``."""
    return DeadLetterInfo(
        source_topic=source_topic, source_partition=0, source_offset=7, worker="fetch",
        stage="fetch", error_class="FetchError", error_message=f"failed with {reason}",
        reason=reason, retryable=retry_at is not None, failed_at=failed_at,
        attempts=attempts, retry_at=retry_at,
    )  # fmt: skip


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, every: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class StageProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, config: Path, log: Path) -> StageProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        with log.open("ab") as out:
            process = subprocess.Popen(
                [str(NEWSFLOW), "--config", str(config), "stage", name],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                start_new_session=True,  # a Ctrl-C of pytest does not reach it
            )
        return cls(name, process, log)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as in a crash."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


class ThreadedPipeline:
    """Workers as threads: each runs :func:`run_worker` until :meth:`stop`."""

    def __init__(self, config: Config, workers: list[str], *, lock_dir: Path) -> None:
        self.stop_event = threading.Event()
        self.summaries: list[RunSummary] = []
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._run, args=(config, name, lock_dir), name=f"worker-{name}")
            for name in workers
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, config: Config, name: str, lock_dir: Path) -> None:
        try:
            self.summaries.append(run_worker(config, name, self.stop_event, lock_dir=lock_dir))
        except BaseException as exc:
            self.errors.append(exc)
            raise

    def stop(self) -> RunSummary:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=20)
        assert not self.errors, self.errors
        total = RunSummary()
        for summary in self.summaries:
            total.merge(summary)
        return total


def stored_article(slug: str) -> EnrichedArticle:
    """A small article as the store worker receives it (id ``slug``)."""
    url = f"https://a.example/{slug}"
    return EnrichedArticle(
        id=slug, url=url, canonical_url=url, text=f"Text of {slug}.", source="a.example",
        fetched_at=utcnow(), topics=["sport"], cluster_id=slug,
    )  # fmt: skip


def corpus_entries(distinct: int, repeats: int, *, seed: int = 11) -> list[FeedEntry]:
    """``distinct`` article pages as WARC-style entries (no fetch), then ``repeats`` of them
    listed again by a second feed: ``distinct + repeats`` entries, ``distinct`` articles."""
    sites = 8
    pages = generate_site_pages(n_sites=sites, pages_per_site=-(-distinct // sites), seed=seed)
    pages = pages[:distinct]
    first = [
        FeedEntry(feed="feed-a", feed_kind="warc", url=p.url, title=p.title, body=p.html)
        for p in pages
    ]
    again = [e.model_copy(update={"feed": "feed-b"}) for e in first[:repeats]]
    return first + again


def syndicated_copies(count: int, *, seed: int = 5) -> list[FeedEntry]:
    """One article published on ``count`` sites (same text, other templates): near-duplicates."""
    sites = generate_sites(count, seed)
    rng = random.Random(f"syndicated-{seed}")
    article = write_article(rng, language="en", topic=sites[0].topics[0])
    pages = [render_page(site, 0, random.Random(f"{seed}-{i}"), article=article)
             for i, site in enumerate(sites)]  # fmt: skip
    return [
        FeedEntry(feed=f"feed-{i}", feed_kind="warc", url=p.url, title=p.title, body=p.html)
        for i, p in enumerate(pages)
    ]


def client_lines(kind: str, outcome: str) -> float:
    """kafka-python's warnings and errors counted so far (``kafka_client_log_lines_total``)."""
    labels = {"kind": kind, "outcome": outcome}
    return REGISTRY.get_sample_value("newsflow_kafka_client_log_lines_total", labels) or 0.0


def closed_port() -> int:
    """A local port nothing listens on (bound, then released): a broker that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def unreachable_broker(kind: str) -> Iterator[tuple[str, SilentBroker | None]]:
    """The address of a broker that cannot be reached: ``closed`` (nothing listens there)
    or ``silent`` (a :class:`SilentBroker` accepts and never answers; yielded too)."""
    if kind == "closed":
        yield f"127.0.0.1:{closed_port()}", None
        return
    with SilentBroker() as silent:
        yield silent.address, silent


class SilentBroker:
    """A TCP server on 127.0.0.1 that accepts connections and never answers: a broker host
    whose process hangs, or an address where something else listens (clients connect, then
    wait for a reply until they give up). After :meth:`relay_to`, connections made from
    then on are relayed to a real broker instead.

    Usable as a context manager; :attr:`address` is its ``host:port``, :attr:`accepted` is
    set once a client has connected, :attr:`connections` are the clients' connections.
    """

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self.accepted = threading.Event()
        self.connections: list[socket.socket] = []
        self._upstreams: list[socket.socket] = []
        self._upstream: str | None = None
        self._accepting = threading.Thread(target=self._accept, name="silent-broker", daemon=True)
        self._accepting.start()

    def relay_to(self, address: str) -> None:
        self._upstream = address

    def all_closed_by_clients(self, timeout: float) -> bool:
        """Whether every client closed its connection (read to its end within ``timeout``)."""
        deadline = time.monotonic() + timeout
        for connection in self.connections:
            while True:
                connection.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    if not connection.recv(65536):
                        break
                except TimeoutError:
                    return False
                except ConnectionResetError:
                    break
        return True

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # shut down: the test is over
                return
            self.connections.append(conn)
            self.accepted.set()
            if self._upstream is not None:
                host, port = self._upstream.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                self._upstreams.append(upstream)
                for source, sink in ((conn, upstream), (upstream, conn)):
                    threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown(socket.SHUT_RDWR)  # ends the accept() of the accepting thread
        self._accepting.join(timeout=5)
        self._server.close()
        for conn in self.connections + self._upstreams:
            conn.close()

    def __enter__(self) -> SilentBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes from ``source`` to ``sink`` until either side closes."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for side in (source, sink):
            with contextlib.suppress(OSError):
                side.shutdown(socket.SHUT_RDWR)


def free_port_pair() -> int:
    """A port ``p`` with ``p`` and ``p + 1`` free (a broker and its controller listener)."""
    for _ in range(50):
        port = closed_port()
        if port < 65535:
            with contextlib.suppress(OSError), socket.socket() as second:
                second.bind(("127.0.0.1", port + 1))
                return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


class OwnBroker:
    """A single-node broker of one test's own (``deploy/local/kafka.sh`` on free ports, its
    state under ``run_dir``), so the test may kill and restart it: the shared broker must
    never be. Uses the jar cache ``make kafka-up`` filled; :meth:`close` purges its data.
    """

    def __init__(self, run_dir: Path) -> None:
        self.port = free_port_pair()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._env = dict(
            os.environ, NEWSFLOW_RUN_DIR=str(run_dir), NEWSFLOW_KAFKA_PORT=str(self.port)
        )
        self._pidfile = run_dir / "kafka" / "kafka.pid"

    def _script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(KAFKA_SCRIPT), *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self) -> None:
        """Start it (again) and wait until it answers metadata requests."""
        result = self._script("up")
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh up failed: {result.stderr.strip()[-1500:]}")

    def kill(self) -> None:
        """``kill -9`` the broker: no shutdown, open connections refused from now on."""
        pid = int(self._pidfile.read_text())
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def close(self) -> None:
        self._script("down", "--purge")
