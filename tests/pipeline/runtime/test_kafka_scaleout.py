"""Scale-out on the real broker: two processes per stage share a group; one dies, one takes over.

Two ``newsflow stage`` processes of each worker join its consumer group and
split the partitions. Mid-stream one process of each is killed with SIGKILL
and not restarted: the survivor takes over all the partitions (the group
ends with one member holding every partition), and nothing is lost or done
twice: the store holds each article once and ``news.articles`` holds one
record per page.
"""

from __future__ import annotations

import pytest
from kafka_support import FAST_KAFKA, KafkaEnv, corpus_entries, wait_for

from pipeline.models import article_id
from pipeline.topology import WORKER_BY_NAME

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

WORKERS = ("fetch", "extract", "dedup", "store")
KILLED = ("extract", "dedup", "store")
"""Workers that lose one of their two processes mid-stream."""


def test_the_survivor_takes_over_the_partitions_of_a_killed_process(kafka_env: KafkaEnv) -> None:
    entries = corpus_entries(600, 0, seed=31)
    kafka_env.create_topics()
    kafka_env.produce("items", entries)
    pairs = {name: [kafka_env.start_stage(name), kafka_env.start_stage(name)] for name in WORKERS}
    wait_for(
        lambda: all(len(kafka_env.group_members(name) or ()) == 2 for name in WORKERS),
        timeout=60,
        what="two members in every group",
    )
    wait_for(lambda: kafka_env.stored_count() >= 150, timeout=120, what="150 stored articles")
    for name in KILLED:
        pairs[name][0].kill()

    wait_for(lambda: kafka_env.stored_count() >= 600, timeout=180, what="600 stored articles")
    # The killed processes are not restarted, so the broker aborts their open
    # transactions on its own schedule; lag is final only after that.
    wait_for(
        lambda: not kafka_env.unsettled_transactions(),
        timeout=60,
        what="the killed processes' transactions aborted by the broker",
    )
    wait_for(lambda: kafka_env.lag() == 0, timeout=60, what="consumer lag 0 in every group")
    # When the killed processes had finished their partitions' records, lag 0 can come
    # before the broker notices them gone (session_timeout_ms) and rebalances.
    wait_for(
        lambda: all(len(kafka_env.group_members(name) or {}) == 1 for name in KILLED),
        timeout=30,
        what="one member left in each group of a killed process",
    )
    for name in KILLED:
        members = kafka_env.group_members(name)
        assert members is not None, f"{name}: still rebalancing"
        [(member, partitions)] = members.items()
        topics = WORKER_BY_NAME[name].consumes
        expected = {
            (kafka_env.topic(t), p) for t in topics for p in range(FAST_KAFKA["partitions"])
        }
        assert partitions == expected, member
    for process in (p for pair in pairs.values() for p in pair if p.process.poll() is None):
        assert process.terminate() == 0, process.output()[-2000:]

    stored = kafka_env.stored_ids()
    assert len(stored) == 600
    assert set(stored) == {article_id(e.url) for e in entries}
    assert len(kafka_env.read("articles")) == 600
    assert kafka_env.lag() == 0
