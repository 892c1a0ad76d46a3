"""Kafka delivery modes side by side: transactional vs at-least-once, same load, one run.

One worker (fetch, with entries that carry their page, so nothing touches
the network) consumes N small records from its own fresh topics and
produces N pages, batch by batch: poll, process, produce, commit. Each mode
runs ``--rounds`` times, the modes taking turns; the best round counts, to
damp noise on a shared machine. The cost of a transaction per batch shows
as the difference; ``--batch`` shows how batching amortises it::

    python -m bench.kafka_delivery [--messages 5000] [--batch 200] [--rounds 3]

Needs the local broker (``make kafka-up``); ``NEWSFLOW_TEST_KAFKA_BOOTSTRAP``
or ``--bootstrap`` names it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from connectors.kafka.clients import make_admin, make_producer
from connectors.kafka.topics import ensure_topics, topic_specs
from pipeline.config import Config, parse_config
from pipeline.models import FeedEntry, FetchedPage, Message
from pipeline.runtime.kafka_runner import KafkaWorkerRunner
from pipeline.runtime.wiring import Resources
from pipeline.stages.base import Stage
from pipeline.topology import WORKER_BY_NAME, topic_name

MODES = ("at_least_once", "transactional")


class BodyToPage(Stage):
    """The fetch stage's pass-through path, without building an HTTP fetcher."""

    name: ClassVar[str] = "fetch"
    accepts: ClassVar[tuple[type[Message], ...]] = (FeedEntry,)

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FeedEntry)
        return [FetchedPage(entry=message, url=message.url, html=message.body or "")]


def bench_config(bootstrap: str, mode: str, batch: int, workdir: Path) -> Config:
    run = uuid.uuid4().hex[:8]
    return parse_config(
        {
            "kafka": {
                "bootstrap_servers": [bootstrap],
                "topic_prefix": f"bench{run}",
                "group_prefix": f"bench{run}",
                "delivery": mode,
                "batch_size": batch,
                "partitions": 6,
            },
            "storage": {"url": f"sqlite:///{workdir / run}.db"},
        }
    )


def load(config: Config, messages: int) -> None:
    producer = make_producer(config.kafka, client_id="bench-load")
    topic = topic_name(config.kafka.topic_prefix, "items")
    for i in range(messages):
        entry = FeedEntry(
            feed="bench",
            feed_kind="warc",
            url=f"https://bench.example/{i}",
            body=f"<html><body><p>story {i}</p></body></html>",
        )
        producer.send(topic, value=entry.to_json(), key=entry.key().encode())
    producer.flush()
    producer.close()


def one_round(bootstrap: str, mode: str, messages: int, batch: int, workdir: Path) -> float:
    """Messages per second through one worker in ``mode`` (loading and joining excluded)."""
    config = bench_config(bootstrap, mode, batch, workdir)
    admin = make_admin(config.kafka)
    specs = topic_specs(config.kafka)
    ensure_topics(admin, specs)
    load(config, messages)
    runner = KafkaWorkerRunner(
        config, WORKER_BY_NAME["fetch"], Resources(config), stages=[BodyToPage()],
        lock_dir=workdir / "slots",
    )  # fmt: skip
    runner.start()
    stop = threading.Event()
    try:
        first = 0
        while first == 0:  # joining the group and the first batch are not timed
            first = runner.run_batch(stop)
        started = time.perf_counter()
        done = 0
        while done < messages - first:
            done += runner.run_batch(stop)
        elapsed = time.perf_counter() - started
    finally:
        runner.close()
        admin.delete_topics([s.name for s in specs])
        admin.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("NEWSFLOW_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    )
    args = parser.parse_args()
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for mode in MODES:
                rate = one_round(args.bootstrap, mode, args.messages, args.batch, Path(tmp))
                results[mode].append(rate)
    best = {mode: max(rates) for mode, rates in results.items()}
    print(f"kafka delivery: {args.messages} messages, batch {args.batch}, best of {args.rounds}")
    for mode in MODES:
        rounds = ", ".join(f"{r:,.0f}" for r in results[mode])
        print(f"  {mode:14} {best[mode]:8,.0f} msg/s   (rounds: {rounds})")
    ratio = best["transactional"] / best["at_least_once"]
    print(f"  transactional / at_least_once: {ratio:.2f}")


if __name__ == "__main__":
    main()
