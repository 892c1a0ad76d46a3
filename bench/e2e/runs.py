"""newsflow itself on the served corpus: ``newsflow run --once`` on both transports.

:func:`write_config` writes the YAML a user would write for their own local
server: private networks allowed, no gap between requests to a host, robots.txt
respected, four requests in flight per host. :func:`run_once` runs
``newsflow run --once`` as a subprocess against a fresh SQLite file (and, on
Kafka, fresh topics) and reads what the store holds afterwards.

:func:`kafka_latency` measures latency from discovery to storage on Kafka at
a given rate: the worker processes run as ``newsflow run`` starts them, and
this process plays the poller, producing feed entries to ``news.items`` at a
steady pace (``discovered_at`` stamped as each is produced); latency is the
article's ``stored_at`` minus its entry's ``discovered_at``.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bench.e2e.corpus import Manifest
from bench.e2e.procs import MeasuredRun, ProcStat, run_measured
from pipeline.config import Config, load_config
from pipeline.models import FeedEntry, utcnow

REPO = Path(__file__).resolve().parents[2]
PER_HOST_CONCURRENCY = 4


def write_config(
    path: Path,
    manifest: Manifest,
    port: int,
    *,
    db: Path,
    transport: str = "embedded",
    bootstrap: str | None = None,
    overrides: dict[str, Any] | None = None,
    feeds: int | None = None,
) -> Path:
    """A newsflow config for the served corpus (its first ``feeds`` feeds, or all); Kafka
    topics and groups unique per call."""
    run = uuid.uuid4().hex[:8]
    listed = manifest.feeds[:feeds] if feeds is not None else manifest.feeds
    raw: dict[str, Any] = {
        "feeds": [{"name": f.name, "url": manifest.feed_url(f, port)} for f in listed],
        "transport": transport,
        "storage": {"url": f"sqlite:///{db}"},
        "fetch": {
            "allow_private_networks": True,
            "min_host_interval": 0,
            "respect_robots": True,
            "per_host_concurrency": PER_HOST_CONCURRENCY,
        },
        "service": {"http_enabled": False, "log_level": "WARNING", "log_format": "text"},
    }
    if bootstrap:
        raw["kafka"] = {
            "bootstrap_servers": bootstrap,
            "topic_prefix": f"bench{run}",
            "group_prefix": f"bench{run}",
        }
    for section, values in (overrides or {}).items():
        raw.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class PipelineRun:
    run: MeasuredRun
    stored: int
    duplicates: int
    summary: str

    @property
    def rate(self) -> float:
        return (self.stored + self.duplicates) / self.run.wall if self.run.wall else 0.0


def run_once(config_path: Path, db: Path, *, roles: list[str]) -> PipelineRun:
    """``newsflow --config FILE run --once`` in a subprocess; what the store holds after it."""
    run = run_measured(
        [sys.executable, "-m", "pipeline.cli", "--config", str(config_path), "run", "--once"],
        timeout=3600,
    )
    name_children(run.processes, roles)
    stored, duplicates = count_rows(db)
    return PipelineRun(run, stored, duplicates, run.stdout.strip())


def name_children(processes: list[ProcStat], roles: list[str]) -> None:
    """Label spawned children by start order (``roles``; the last role repeats)."""
    children = [p for p in processes if p.label == "child"]
    for index, proc in enumerate(children):
        proc.label = roles[min(index, len(roles) - 1)] if roles else "child"


def count_rows(db: Path) -> tuple[int, int]:
    """(articles, duplicates) in the store."""
    if not db.exists():
        return 0, 0
    with sqlite3.connect(db) as conn:
        articles = conn.execute("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NULL")
        duplicates = conn.execute("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL")
        return int(articles.fetchone()[0]), int(duplicates.fetchone()[0])


def last_stored_at(db: Path) -> datetime | None:
    """When the store's newest row was written."""
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT MAX(stored_at) FROM articles").fetchone()
    return datetime.fromisoformat(stored) if stored else None


def stored_at_by_url(db: Path) -> dict[str, datetime]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, stored_at FROM articles").fetchall()
    return {url: datetime.fromisoformat(stored) for url, stored in rows}


# -- latency on Kafka ------------------------------------------------------------------


@dataclass
class LatencyRun:
    rate: float
    produced: int
    stored: int
    p50: float
    p99: float
    max: float


def kafka_latency(
    config_path: Path,
    db: Path,
    manifest: Manifest,
    port: int,
    *,
    rate: float,
    seconds: float,
    warmup: int = 20,
) -> LatencyRun:
    """Entries at ``rate``/s for ``seconds`` into ``news.items``; latency discovered -> stored."""
    from pipeline.runtime.kafka_service import WorkerProcesses, wait_until_drained

    config = load_config(config_path)
    _ensure_topics(config)
    count = min(len(manifest.pages) - warmup, max(1, int(rate * seconds)))
    urls = [manifest.page_url(i, port) for i in range(warmup + count)]
    workers = WorkerProcesses(config)
    stop = threading.Event()
    producer = _EntryProducer(config)
    try:
        workers.start()
        producer.send_paced(urls[:warmup], rate=warmup)  # workers join and warm up first
        _wait_for_rows(db, warmup, timeout=120, tick=workers.supervise)
        discovered = producer.send_paced(urls[warmup:], rate=rate)
        wait_until_drained(config, stop, tick=workers.supervise)
    finally:
        producer.close()
        workers.stop()
    stored = stored_at_by_url(db)
    latencies = sorted(
        (stored[url] - at).total_seconds() for url, at in discovered.items() if url in stored
    )
    return LatencyRun(
        rate=rate,
        produced=len(discovered),
        stored=len(latencies),
        p50=percentile(latencies, 0.50),
        p99=percentile(latencies, 0.99),
        max=latencies[-1] if latencies else float("nan"),
    )


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, math.ceil(share * len(values)) - 1))
    return values[rank]


def delete_topics(config_path: Path) -> None:
    """Remove the run's topics (each run has its own prefix) so the broker does not fill up."""
    from connectors.kafka.clients import make_admin
    from pipeline.topology import TOPICS, topic_name

    config = load_config(config_path)
    admin = make_admin(config.kafka)
    try:
        existing = set(admin.list_topics())
        names = [topic_name(config.kafka.topic_prefix, t) for t in TOPICS]
        doomed = [n for n in names if n in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()


def _ensure_topics(config: Config) -> None:
    from connectors.kafka.clients import make_admin
    from connectors.kafka.topics import ensure_topics, topic_specs

    admin = make_admin(config.kafka)
    try:
        ensure_topics(admin, topic_specs(config.kafka))
    finally:
        admin.close()


def _wait_for_rows(db: Path, rows: int, *, timeout: float, tick: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if sum(count_rows(db)) >= rows:
            return
        time.sleep(0.25)
    raise TimeoutError(f"fewer than {rows} articles stored after {timeout:.0f} s")


class _EntryProducer:
    """Plays the poller: one FeedEntry per URL, produced at a steady pace, flushed each."""

    def __init__(self, config: Config) -> None:
        from connectors.kafka.clients import make_producer
        from pipeline.topology import topic_name

        self.topic = topic_name(config.kafka.topic_prefix, "items")
        self.producer = make_producer(config.kafka, client_id="bench-latency")

    def send_paced(self, urls: list[str], *, rate: float) -> dict[str, datetime]:
        discovered: dict[str, datetime] = {}
        started = time.monotonic()
        for index, url in enumerate(urls):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            entry = FeedEntry(
                feed="bench-latency", feed_kind="rss", url=url, discovered_at=utcnow()
            )
            self.producer.send(self.topic, value=entry.to_json(), key=url.encode("utf-8"))
            self.producer.flush(timeout=30)
            discovered[url] = entry.discovered_at
        return discovered

    def close(self) -> None:
        self.producer.close(timeout=5)
