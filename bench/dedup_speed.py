"""Dedup cost per article with 100,000 articles indexed, and the index size on disk.

Fills a fresh SQLite index through the real stage with generated articles
(distinct stories, a quarter of them truncated copies of recent ones), then
times the stage on further articles once the index holds ``--indexed``
articles. The stream's distinct stories are about as dissimilar as real ones
(their median pairwise Jaccard is printed next to the two real seeds'); with
``--rare-word-rate 0`` they share the labelled set's stock phrases, every
article has hundreds of LSH neighbours at 100,000, and the cost is that of
scoring ``max_candidates`` of them. The
cost includes everything the stage does per article: tokens, shingles,
MinHash, one ``BEGIN IMMEDIATE`` transaction with the candidate look-ups and
the inserts, and the commit.

Measured on the shared 2-core machine (wall time moves with its load; the
CPU time much less), 100,000 indexed, 387 MiB of dedup tables (3.9 KB/article):

    load ~2.3   mean 1.94 ms  median 1.11 ms  p95 4.6 ms
    load ~4     mean 3.36 ms  median 1.53 ms  p95 19 ms   CPU 1.78 ms
                checkpoints deferred: mean 1.52 ms, median 1.23 ms, CPU 1.26 ms

The p95 and most of the mean above 1.5 ms is SQLite's WAL auto-checkpoint
(an fsync of every page dirtied since the last one) running inside whichever
commit crosses 1000 WAL pages; each article dirties ~35 random pages (30 LSH
bucket rows and the index entries). Since the storage layer checkpoints from
a thread of its own (``connectors.storage.db.WalCheckpointer``):

    load ~2.8   mean 1.39 ms  median 1.30 ms  p95 1.95 ms  CPU 1.40 ms

    python -m bench.dedup_speed                 # 100,000 indexed, 2,000 timed
    python -m bench.dedup_speed --indexed 20000 # quicker
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.dedup_labelled import SEED, SEEDS_DIR, TOPICS, Writer, truncate
from connectors.storage.db import Database
from connectors.storage.dedup_index import DedupIndex
from pipeline.config import DedupConfig
from pipeline.dedup.text import overlap, shingles, tokens
from pipeline.models import EnrichedArticle, article_id
from pipeline.stages.dedup import DedupStage

TARGET_MS = 2.0


SYLLABLES = [
    "ka",
    "ro",
    "mel",
    "tu",
    "sa",
    "ni",
    "vor",
    "den",
    "li",
    "pa",
    "gri",
    "shu",
    "an",
    "te",
    "bo",
    "qui",
    "ral",
    "mo",
    "zen",
    "fi",
    "dra",
    "ul",
    "nes",
    "ko",
    "vi",
    "ter",
    "ha",
    "lun",
    "gas",
    "pe",
    "ri",
    "sto",
    "ya",
    "mer",
    "cho",
    "ben",
    "il",
    "dor",
    "ax",
]


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def diversify(rng: random.Random, paragraphs: list[str], rate: float) -> list[str]:
    """Insert rare words (names, places, terms) so distinct stories share few 5-grams.

    The template prose of :mod:`bench.dedup_labelled` repeats its stock phrases
    far more than real news does; this brings the pairwise Jaccard of distinct
    stories down to the level measured between the two real seed articles.
    """
    out = []
    for paragraph in paragraphs:
        words = []
        for word in paragraph.split(" "):
            words.append(word)
            if rng.random() < rate:
                words.append(pseudo_word(rng))
        out.append(" ".join(words))
    return out


def articles(seed: int, rare_word_rate: float = 0.3) -> Iterator[EnrichedArticle]:
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
            body = diversify(rng, body, rare_word_rate)
            recent = [*recent[-50:], body]
        url = f"https://speed.example/{number}"
        published = start + timedelta(seconds=number)
        yield EnrichedArticle(
            id=article_id(url),
            url=url,
            canonical_url=url,
            title=f"Story {number}",
            text="\n\n".join(body),
            published_at=published,
            source="speed.example",
            fetched_at=published,
        )


def background_jaccard(rare_word_rate: float, sample: int = 300) -> tuple[float, float]:
    """Median Jaccard of random article pairs of the stream, and of the two real seeds."""
    stream = articles(SEED + 1, rare_word_rate)
    sets = [shingles(tokens(next(stream).text), 5) for _ in range(sample)]
    rng = random.Random(SEED)
    pairs = [rng.sample(range(sample), 2) for _ in range(2000)]
    median = statistics.median(overlap(sets[i], sets[j]).jaccard for i, j in pairs)
    seed_a, seed_b = (
        shingles(tokens(p.read_text(encoding="utf-8")), 5) for p in sorted(SEEDS_DIR.glob("*.txt"))
    )
    return median, overlap(seed_a, seed_b).jaccard


def time_articles(stage: DedupStage, stream: Iterator[EnrichedArticle], count: int) -> list[float]:
    """Milliseconds the stage takes for each of ``count`` further articles, sorted."""
    timings = []
    cpu = 0.0
    for _ in range(count):
        article = next(stream)
        began, began_cpu = time.perf_counter(), time.process_time()
        stage.process(article)
        timings.append((time.perf_counter() - began) * 1000)
        cpu += time.process_time() - began_cpu
    CPU_MS.append(cpu * 1000 / max(count, 1))
    return sorted(timings)


CPU_MS: list[float] = []  # CPU time per article of each timed run, in order


def describe(timings: list[float], cpu_ms: float) -> str:
    return (
        f"mean {statistics.fmean(timings):.3f} ms, median {timings[len(timings) // 2]:.3f} ms,"
        f" p95 {timings[int(len(timings) * 0.95)]:.3f} ms (CPU {cpu_ms:.3f} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indexed", type=int, default=100_000)
    parser.add_argument("--timed", type=int, default=2_000)
    parser.add_argument("--db", help="SQLite file to use (default: a temporary one)")
    parser.add_argument("--bands", type=int, help="LSH bands (default: DedupConfig)")
    parser.add_argument("--rows", type=int, help="rows per band (default: DedupConfig)")
    parser.add_argument(
        "--rare-word-rate",
        type=float,
        default=0.3,
        help="rare words inserted per word (0 = the labelled set's stock prose)",
    )
    parser.add_argument(
        "--pragma",
        action="append",
        default=[],
        help="extra SQLite PRAGMA for the connection, e.g. cache_size=-65536",
    )
    args = parser.parse_args(argv)
    layout = {"lsh_bands": args.bands, "lsh_rows": args.rows}
    config = DedupConfig(**{k: v for k, v in layout.items() if v is not None})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "dedup.db"
        db = Database(f"sqlite:///{path}")
        for pragma in args.pragma:
            db.execute(f"PRAGMA {pragma}")
        stage = DedupStage(DedupIndex(db, config), config)
        stream = articles(SEED, args.rare_word_rate)
        existing = stage.index.count()
        for _ in range(existing):  # a reused --db already holds the stream's first articles
            next(stream)
        began = time.perf_counter()
        for n in range(args.indexed - existing):
            stage.process(next(stream))
            if n and n % 10_000 == 0:
                print(f"  filled {n:,} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        fill_ms = (time.perf_counter() - began) * 1000 / max(args.indexed - existing, 1)
        timings = time_articles(stage, stream, args.timed)
        deferred: list[float] = []
        if db.dialect == "sqlite":  # the same, with SQLite's WAL checkpoints off the hot path
            db.execute("PRAGMA wal_autocheckpoint=0")
            deferred = time_articles(stage, stream, args.timed)
            db.execute("PRAGMA wal_autocheckpoint=1000")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = stage.index.size()
        db.close()
        file_bytes = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    mean = statistics.fmean(timings)
    background, seeds = background_jaccard(args.rare_word_rate)
    print(
        f"distinct-story similarity of the stream: median pairwise Jaccard {background:.4f}"
        f" (the two real seed articles: {seeds:.4f})"
    )
    print(
        f"indexed articles: {size.articles:,}  clusters: {size.clusters:,}"
        f"  bucket rows: {size.buckets:,}"
    )
    print(
        f"dedup cost per article at {args.indexed:,} indexed: {describe(timings, CPU_MS[0])}"
        f"   (target < {TARGET_MS} ms; mean while filling {fill_ms:.3f} ms)"
    )
    if deferred:
        print(f"  same, SQLite WAL checkpoints deferred: {describe(deferred, CPU_MS[1])}")
    index_mb = (size.disk_bytes or 0) / 2**20
    print(
        f"index size on disk: {index_mb:.1f} MiB in dedup tables"
        f" ({(size.disk_bytes or 0) / max(size.articles, 1):.0f} bytes/article),"
        f" database files {file_bytes / 2**20:.1f} MiB"
    )
    print(
        f"machine load average (1, 5, 15 min) at the end: {os.getloadavg()}"
        f" on {os.cpu_count()} cores; wall times grow with it, CPU times much less"
    )
    return 0 if mean < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
