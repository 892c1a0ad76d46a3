"""``newsflow topics``: create the pipeline's Kafka topics, or show them with their lag.

``create`` makes the missing topics with the partitions, retention and
compression of the ``kafka`` config section and leaves existing ones alone
(safe to run at every deploy). ``list`` shows each topic, the offsets it holds
and how far behind the group that consumes it is::

    $ newsflow topics list
    TOPIC            PARTITIONS  OFFSETS  CONSUMER GROUP        LAG
    news.items       6           1005     newsflow.fetch        0
    news.pages       6           1005     newsflow.extract      12

Offsets are not records: each transaction leaves a commit marker that takes
one (a batch's, on the stage topics; each letter's own, on the letter
topics), and so does each record of an aborted one; counting records would
mean reading the whole topic. A worker group reads past the markers, so its
lag does fall to 0. For the letter topics (``news.dlq``, ``news.retry``) the
lag is the letters waiting, counted as ``newsflow dlq list`` and the
``dead_letters_waiting`` gauge count them: their group may stop before a
marker (a replay of due letters commits just past the last one it sent).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from connectors.kafka.clients import make_admin, make_consumer
from connectors.kafka.dlq import letter_queues, pending_in
from connectors.kafka.errors import kafka_errors
from connectors.kafka.topics import (
    describe_topics,
    end_offsets,
    ensure_topics,
    group_lag,
    partitions_of,
    topic_specs,
)
from pipeline.cli.common import config_from
from pipeline.config import Config
from pipeline.topology import TOPICS, WORKERS, topic_name


def register(sub: Any) -> None:
    parser = sub.add_parser("topics")
    actions = parser.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create missing topics (existing ones are kept)")
    create.set_defaults(handler=handle_create)
    listing = actions.add_parser("list", help="show topics, their offsets and consumer lag")
    listing.set_defaults(handler=handle_list)


def handle_create(args: argparse.Namespace) -> int:
    config = config_from(args)
    specs = topic_specs(config.kafka)
    admin = make_admin(config.kafka)
    try:
        created = set(ensure_topics(admin, specs))
    finally:
        admin.close()
    for spec in specs:
        if spec.name not in created:
            print(f"{spec.name}: exists (left as it is)")
            continue
        settings = ", ".join(f"{k}={v}" for k, v in sorted(spec.configs.items()))
        print(f"{spec.name}: created ({spec.partitions} partitions; {settings})")
    return 0


def handle_list(args: argparse.Namespace) -> int:
    print_topics(config_from(args), sys.stdout)
    return 0


def print_topics(config: Config, out: TextIO) -> None:
    prefix = config.kafka.topic_prefix
    groups = {
        topic_name(prefix, t): f"{config.kafka.group_prefix}.{w.name}"
        for w in WORKERS
        for t in w.consumes
    }
    letters = {queue.topic: queue for queue in letter_queues(config.kafka)}
    groups.update({queue.topic: queue.group for queue in letters.values()})
    admin = make_admin(config.kafka)
    consumer = make_consumer(config.kafka, client_id=f"{config.kafka.group_prefix}.topics")
    try:
        names = [topic_name(prefix, t) for t in TOPICS]
        partitions = describe_topics(admin, names)
        rows = [("TOPIC", "PARTITIONS", "OFFSETS", "CONSUMER GROUP", "LAG")]
        for name in names:
            if name not in partitions:
                rows.append((name, "missing", "-", "-", "-"))
                continue
            tps = partitions_of(admin, [name])
            with kafka_errors(f"read the offsets of {name}"):
                starts = consumer.beginning_offsets(tps)
            offsets = sum(end - (starts[tp] or 0) for tp, end in end_offsets(consumer, tps).items())
            group = groups[name]
            queue = letters.get(name)
            if queue is not None:
                lag = pending_in(queue, admin, consumer)
            else:
                lag = sum(group_lag(admin, consumer, group, [name]).values())
            rows.append((name, str(partitions[name]), str(offsets), group, str(lag)))
    finally:
        consumer.close()
        admin.close()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
