"""Two dedup worker processes on one store, fed near-duplicates at the same moment.

Each process opens its own connection to the same SQLite file (or PostgreSQL
database), waits at a barrier, then runs the real stage over its half of the
copies. Whatever the interleaving, every story must end as one cluster with
exactly one canonical article: its earliest-published copy.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.storage.db import Database
from connectors.storage.dedup_index import DedupIndex
from pipeline.config import DedupConfig
from pipeline.models import EnrichedArticle, article_id
from pipeline.stages.dedup import DedupStage

SEEDS = sorted((Path(__file__).parents[3] / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))
NOW = datetime(2024, 5, 1, tzinfo=UTC)
CONFIG = DedupConfig()
BOILERPLATE = [
    "Subscribe to our newsletter.",
    "Advertisement",
    "Copyright 2024 Wire.",
    "Related coverage: more on this story",
]


def stories() -> list[str]:
    """Four distinct stories: the halves of the two seed articles."""
    out = []
    for path in SEEDS:
        words = path.read_text(encoding="utf-8").split(" ")
        out += [" ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])]
    return out


def copies(story: int, text: str) -> list[EnrichedArticle]:
    """Four copies of one story, published at different times (copy 3 is the earliest)."""
    words = text.split(" ")
    bodies = [
        text,
        BOILERPLATE[0] + "\n" + text,
        " ".join(words[: int(len(words) * 0.8)]),
        text + "\n" + BOILERPLATE[story % 4],
    ]
    hours = [2, 3, 4, 1]
    out = []
    for n, body in enumerate(bodies):
        url = f"https://site{n}.example/story-{story}"
        out.append(
            EnrichedArticle(
                id=article_id(url),
                url=url,
                canonical_url=url,
                title=f"story {story}",
                text=body,
                published_at=NOW + timedelta(hours=hours[n]),
                source=f"site{n}.example",
                fetched_at=NOW,
            )
        )
    return out


def worker(url: str, articles: list[str], barrier: multiprocessing.synchronize.Barrier) -> None:
    db = Database(url)
    stage = DedupStage(DedupIndex(db, CONFIG), CONFIG)
    items = [EnrichedArticle.model_validate_json(a) for a in articles]
    barrier.wait(timeout=60)
    for item in items:
        stage.process(item)
    db.close()


def run_two_workers(url: str) -> list[list[EnrichedArticle]]:
    DedupIndex(Database(url), CONFIG).db.close()  # schema first, so workers race on data only
    groups = [copies(n, text) for n, text in enumerate(stories())]
    first = [group[i] for group in groups for i in (0, 3)]
    second = [group[i] for group in reversed(groups) for i in (1, 2)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [
        context.Process(target=worker, args=(url, [a.model_dump_json() for a in half], barrier))
        for half in (first, second)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    return groups


def assert_one_canonical_per_story(url: str, groups: list[list[EnrichedArticle]]) -> None:
    index = DedupIndex(Database(url), CONFIG)
    canonicals = dict(index.canonicals())
    assert len(canonicals) == len(groups)
    for group in groups:
        clusters = {index.cluster_of(a.id) for a in group}
        assert len(clusters) == 1
        [cluster_id] = clusters
        assert cluster_id is not None
        members = index.cluster(cluster_id)
        earliest = min(group, key=lambda a: (a.published_at, a.id)).id
        assert [m.article_id for m in members if m.duplicate_of is None] == [earliest]
        assert canonicals[cluster_id] == earliest
        assert all(m.duplicate_of == earliest for m in members if m.article_id != earliest)
    index.db.close()


def test_two_processes_on_one_store_agree_on_one_canonical_per_cluster(store_url: str) -> None:
    groups = run_two_workers(store_url)
    assert_one_canonical_per_story(store_url, groups)


def test_two_processes_agree_again_on_a_replay(sqlite_url: str) -> None:
    groups = run_two_workers(sqlite_url)
    before = DedupIndex(Database(sqlite_url), CONFIG).size()
    run_two_workers(sqlite_url)
    after = DedupIndex(Database(sqlite_url), CONFIG).size()
    assert (after.articles, after.clusters, after.buckets) == (
        before.articles,
        before.clusters,
        before.buckets,
    )
    assert_one_canonical_per_story(sqlite_url, groups)
