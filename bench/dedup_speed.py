"""Dedup cost per article with 100,000 articles indexed, and the index size on disk.

Fills a fresh SQLite index through the real stage with generated articles
(distinct stories, a share of them with syndicated copies), then times the
stage on further articles once the index holds ``--indexed`` articles. The
cost includes everything the stage does per article: tokens, shingles,
MinHash, one ``BEGIN IMMEDIATE`` transaction with the candidate look-ups and
the inserts, and the commit.

    python -m bench.dedup_speed                 # 100,000 indexed, 2,000 timed
    python -m bench.dedup_speed --indexed 20000 # quicker
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.dedup_labelled import SEED, TOPICS, Writer, truncate
from connectors.storage.db import Database
from connectors.storage.dedup_index import DedupIndex
from pipeline.config import DedupConfig
from pipeline.models import EnrichedArticle, article_id
from pipeline.stages.dedup import DedupStage

TARGET_MS = 2.0


def articles(seed: int) -> Iterator[EnrichedArticle]:
    """An endless stream of articles: ~75 % distinct stories, ~25 % truncated copies."""
    rng = random.Random(seed)
    writer = Writer(rng)
    topics = sorted(TOPICS)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    recent: list[list[str]] = []
    number = 0
    while True:
        number += 1
        if recent and rng.random() < 0.25:
            body = truncate(rng, rng.choice(recent))
        else:
            topic = rng.choice(topics)
            body = writer.paragraphs(topic, writer.cast(topic), rng.choice((150, 300, 500, 800)))
            recent = [*recent[-50:], body]
        url = f"https://speed.example/{number}"
        published = start + timedelta(seconds=number)
        yield EnrichedArticle(
            id=article_id(url), url=url, canonical_url=url, title=f"Story {number}",
            text="\n\n".join(body), published_at=published, source="speed.example",
            fetched_at=published,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indexed", type=int, default=100_000)
    parser.add_argument("--timed", type=int, default=2_000)
    parser.add_argument("--db", help="SQLite file to use (default: a temporary one)")
    parser.add_argument("--bands", type=int, help="LSH bands (default: DedupConfig)")
    parser.add_argument("--rows", type=int, help="rows per band (default: DedupConfig)")
    parser.add_argument("--pragma", action="append", default=[],
                        help="extra SQLite PRAGMA for the connection, e.g. cache_size=-65536")
    args = parser.parse_args(argv)
    layout = {"lsh_bands": args.bands, "lsh_rows": args.rows}
    config = DedupConfig(**{k: v for k, v in layout.items() if v is not None})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "dedup.db"
        db = Database(f"sqlite:///{path}")
        for pragma in args.pragma:
            db.execute(f"PRAGMA {pragma}")
        stage = DedupStage(DedupIndex(db, config), config)
        stream = articles(SEED)
        existing = stage.index.count()
        for _ in range(existing):  # a reused --db already holds the stream's first articles
            next(stream)
        began = time.perf_counter()
        for n in range(args.indexed - existing):
            stage.process(next(stream))
            if n and n % 10_000 == 0:
                print(f"  filled {n:,} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        fill_ms = (time.perf_counter() - began) * 1000 / max(args.indexed - existing, 1)
        timings = []
        for _ in range(args.timed):
            article = next(stream)
            t0 = time.perf_counter()
            stage.process(article)
            timings.append((time.perf_counter() - t0) * 1000)
        size = stage.index.size()
        db.close()
        file_bytes = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    timings.sort()
    mean = statistics.fmean(timings)
    print(f"indexed articles: {size.articles:,}  clusters: {size.clusters:,}"
          f"  bucket rows: {size.buckets:,}")
    print(f"dedup cost per article at {args.indexed:,} indexed: mean {mean:.3f} ms,"
          f" median {timings[len(timings) // 2]:.3f} ms, p95 {timings[int(len(timings) * .95)]:.3f}"
          f" ms   (target < {TARGET_MS} ms; mean while filling {fill_ms:.3f} ms)")
    index_mb = (size.disk_bytes or 0) / 2**20
    print(f"index size on disk: {index_mb:.1f} MiB in dedup tables"
          f" ({(size.disk_bytes or 0) / max(size.articles, 1):.0f} bytes/article),"
          f" database files {file_bytes / 2**20:.1f} MiB")
    return 0 if mean < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
