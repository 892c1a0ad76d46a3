"""Two dedup processes share one index: copies of a story on different partitions still meet.

Each story is published on four sites. Its copies are keyed by their own URLs,
so they land on different partitions of ``news.extracted`` and are judged by
different members of the dedup group, at about the same moment (the copies
are produced together). The index serialises the decisions (SQLite's write
lock; PostgreSQL advisory locks on the keys a decision reads), so every copy
of a story must end in one cluster under its earliest-published copy, and
no two stories may share a cluster. Readers of ``news.duplicates`` must learn
the same: per article, the event with the highest ``verdict_version`` names
that article's canonical.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import pytest
from kafka_support import KafkaEnv, corpus_entries, syndicated_copies, wait_for

from connectors.storage.store import open_store
from pipeline.dedup.fingerprint import order_key
from pipeline.models import article_id

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STORIES = 8
COPIES = 4


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_dedup_processes_put_every_copy_of_a_story_in_one_cluster(
    kafka_env: KafkaEnv, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        kafka_env.configure(storage={"url": request.getfixturevalue("postgres_url")})
    stories = [syndicated_copies(COPIES, seed=100 + s) for s in range(STORIES)]
    unique = corpus_entries(40, 0, seed=43)
    entries = [*unique, *(copy for story in stories for copy in story)]
    assert len({article_id(e.url) for e in entries}) == len(entries)
    kafka_env.create_topics()
    dedup = [kafka_env.start_stage("dedup"), kafka_env.start_stage("dedup")]
    others = [kafka_env.start_stage(name) for name in ("fetch", "extract", "store")]
    wait_for(
        lambda: len(kafka_env.group_members("dedup") or ()) == 2,
        timeout=60,
        what="two members in the dedup group",
    )
    kafka_env.produce("items", entries)
    wait_for(
        lambda: kafka_env.stored_count() >= len(entries), timeout=120, what="every entry stored"
    )
    wait_for(lambda: kafka_env.lag() == 0, timeout=60, what="consumer lag 0 in every group")
    for process in [*dedup, *others]:
        assert process.terminate() == 0, process.output()[-2000:]

    rows = stored_rows(kafka_env)
    assert len(rows) == len(entries)
    clusters: dict[str, set[str]] = defaultdict(set)
    for story in stories:
        ids = [article_id(copy.url) for copy in story]
        canonical = min(ids, key=lambda i: (order_key(rows[i][2]), i))
        assert {rows[i][0] for i in ids} == {rows[canonical][0]}, "copies split over clusters"
        assert rows[canonical][1] is None
        assert all(rows[i][1] == canonical for i in ids if i != canonical)
        clusters[rows[canonical][0]].update(ids)
    assert len(clusters) == STORIES
    announced: dict[str, tuple[int, str]] = {}  # what a reader of news.duplicates keeps
    for record in kafka_env.read("duplicates"):
        event = json.loads(record.value)
        if event["verdict_version"] >= announced.get(event["id"], (0, ""))[0]:
            announced[event["id"]] = (event["verdict_version"], event["duplicate_of"])
    copies = {i: rows[i][1] for ids in clusters.values() for i in ids if rows[i][1] is not None}
    assert {i: canonical for i, (_, canonical) in announced.items()} == copies
    for entry in unique:
        cluster, duplicate_of, _ = rows[article_id(entry.url)]
        assert duplicate_of is None and cluster not in clusters


def stored_rows(env: KafkaEnv) -> dict[str, tuple[str, str | None, datetime | None]]:
    """id -> (cluster_id, duplicate_of, published_at) of every stored article."""
    with open_store(env.config.storage.url) as store:
        rows = store.db.execute("SELECT id, cluster_id, duplicate_of, published_at FROM articles")
    return {
        row[0]: (row[1], row[2], datetime.fromisoformat(row[3]) if row[3] else None) for row in rows
    }
