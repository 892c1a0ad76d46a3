"""Crashes on the real broker: ``kill -9`` of stage processes loses nothing and doubles nothing.

1,000 entries (800 distinct articles, 200 of them listed again by a second
feed) flow through ``newsflow stage`` processes. The extract, dedup and
store processes are each killed with SIGKILL part-way, at different moments,
and started again. Afterwards the store holds exactly the 800 articles, every
consumer group has caught up, and, transactions doing their job, every topic
holds each hop's output exactly once: 1,000 pages and 1,000 articles.
"""

from __future__ import annotations

import pytest
from kafka_support import KafkaEnv, corpus_entries, wait_for

from pipeline.models import article_id

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_kill_9_of_extract_dedup_and_store_part_way_loses_and_doubles_nothing(
    kafka_env: KafkaEnv,
) -> None:
    entries = corpus_entries(800, 200)
    kafka_env.create_topics()
    kafka_env.produce("items", entries)
    stages = {name: kafka_env.start_stage(name) for name in ("fetch", "extract", "dedup", "store")}

    for victim, progress in (("extract", 100), ("dedup", 300), ("store", 500)):
        wait_for(
            lambda p=progress: kafka_env.stored_count() >= p,
            timeout=120,
            what=f"{progress} stored articles before killing {victim}",
        )
        stages[victim].kill()
        assert stages[victim].process.returncode == -9
        stages[victim] = kafka_env.start_stage(victim)

    wait_for(lambda: kafka_env.stored_count() >= 800, timeout=180, what="800 stored articles")
    wait_for(lambda: kafka_env.lag() == 0, timeout=60, what="consumer lag 0 in every group")
    for stage in stages.values():
        assert stage.terminate() == 0, stage.output()[-2000:]

    stored = kafka_env.stored_ids()
    assert len(stored) == 800
    assert set(stored) == {article_id(e.url) for e in entries}
    assert len(kafka_env.read("pages")) == 1000
    assert len(kafka_env.read("articles")) == 1000
    assert kafka_env.read("dlq") == []
    assert kafka_env.lag() == 0
