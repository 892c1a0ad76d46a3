"""Article store throughput on SQLite and PostgreSQL, beside the skeleton store as baseline.

For each engine, on a fresh database: 1,000 articles upserted one transaction
each (what the store stage does), the same 1,000 replayed (all unchanged),
1,000 more in batches of 100 (``upsert_many``), 100 searches, and an export.
The baseline is the article store of the project's skeleton (commit
``e2e2255``: one table, no revisions, tags, full-text index or migrations),
read from git and run through the same :class:`Database` on the same input,
so the difference is the cost of what this store adds.

    python -m bench.storage_upsert                           # SQLite only
    python -m bench.storage_upsert --postgres postgresql://postgres@127.0.0.1:15432/newsflow_test
    NEWSFLOW_TEST_POSTGRES_URL=... python -m bench.storage_upsert --articles 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from connectors.storage import SearchQuery, open_store
from connectors.storage.db import Database
from pipeline.models import EnrichedArticle, Entity, article_id

BASELINE_COMMIT = "e2e2255"
SEEDS = Path(__file__).resolve().parents[1] / "bench" / "data" / "dedup" / "seeds"
QUERIES = ["Iran Russia", "NATO expansion", "energy prices", "story 42", "Moscow Tehran"]


def sample_articles(count: int, offset: int = 0) -> list[EnrichedArticle]:
    """Articles of realistic length (the seed texts plus a unique paragraph each)."""
    bodies = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))] or ["Text."]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    result = []
    for n in range(offset, offset + count):
        url = f"https://bench.example/{n}"
        result.append(
            EnrichedArticle(
                id=article_id(url), url=url, canonical_url=url, title=f"Story {n}",
                text=f"{bodies[n % len(bodies)]}\n\nUpdate {n}: energy prices moved by {n % 97}%.",
                language="en", source="bench.example", feeds=[f"feed-{n % 7}"],
                published_at=start + timedelta(minutes=n), fetched_at=start + timedelta(minutes=n),
                topics=["politics", "conflict, war and peace"][: 1 + n % 2],
                entities=[Entity(name="Iran", type="country"), Entity(name="NATO", type="org")],
            )
        )  # fmt: skip
    return result


def timed(action: Callable[[], Any]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def measure_current(url: str, count: int) -> dict[str, str]:
    first, second = sample_articles(count), sample_articles(count, offset=count)
    with open_store(url) as store:
        insert = timed(lambda: [store.articles.upsert(a) for a in first])
        replay = timed(lambda: [store.articles.upsert(a) for a in first])
        batched = timed(
            lambda: [store.articles.upsert_many(second[i : i + 100]) for i in range(0, count, 100)]
        )
        latencies = []
        for n in range(100):
            query = SearchQuery(QUERIES[n % len(QUERIES)], limit=20)
            latencies.append(timed(lambda q=query: store.search.search(q)))  # type: ignore[misc]
        exported = timed(lambda: sum(1 for _ in store.articles.iter_json()))
        total = store.articles.count()
    return {
        "upsert, new (1 tx each)": rate(count, insert),
        "upsert, replay (unchanged)": rate(count, replay),
        "upsert_many, new (100/tx)": rate(count, batched),
        "search, median of 100": f"{statistics.median(latencies) * 1000:.1f} ms",
        "export": rate(total, exported),
    }


def measure_baseline(url: str, count: int) -> dict[str, str]:
    module = _skeleton_articles()
    if module is None:
        return {}
    first = sample_articles(count)
    db = Database(url)
    try:
        repo = module.ArticleRepository(db)
        insert = timed(lambda: [repo.upsert(a) for a in first])
        replay = timed(lambda: [repo.upsert(a) for a in first])
        exported = timed(lambda: sum(1 for _ in repo.iter_all()))
    finally:
        db.close()
    return {
        "upsert, new (1 tx each)": rate(count, insert),
        "upsert, replay (unchanged)": rate(count, replay),
        "export": rate(count, exported),
    }


def _skeleton_articles() -> types.ModuleType | None:
    """The skeleton's ArticleRepository, loaded from git (None outside a git checkout)."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:connectors/storage/articles.py"],
            capture_output=True, text=True, check=True, cwd=Path(__file__).parent,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("skeleton_articles")
    exec(compile(source, f"{BASELINE_COMMIT}:articles.py", "exec"), module.__dict__)
    return module


@contextmanager
def fresh_databases(engine: str, postgres: str | None, tmp: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases (current store, baseline) on one engine, removed afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp / 'current.db'}", f"sqlite:///{tmp / 'baseline.db'}"
        return
    assert postgres
    import psycopg

    names = [f"nf_bench_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(postgres, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            urls = [urlunsplit(urlsplit(postgres)._replace(path=f"/{n}")) for n in names]
            yield urls[0], urls[1]
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("NEWSFLOW_TEST_POSTGRES_URL"),
        help="a PostgreSQL server URL (bench databases are created and dropped on it)",
    )
    args = parser.parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.postgres else ["sqlite"]
    print(f"{'engine':<11} {'operation':<28} {'newsflow':>12} {'skeleton':>12}")
    for engine in engines:
        with (
            tempfile.TemporaryDirectory() as tmp,
            fresh_databases(engine, args.postgres, Path(tmp)) as (current_url, baseline_url),
        ):
            current = measure_current(current_url, args.articles)
            baseline = measure_baseline(baseline_url, args.articles)
        for operation, figure in current.items():
            print(f"{engine:<11} {operation:<28} {figure:>12} {baseline.get(operation, '-'):>12}")
    if not args.postgres:
        print("(PostgreSQL not measured: pass --postgres URL or set NEWSFLOW_TEST_POSTGRES_URL)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
