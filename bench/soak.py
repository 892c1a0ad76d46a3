"""Soak: 50,000 articles through the embedded pipeline; memory must level off.

WARC-style entries (feed entries that carry their page, as a backfill
delivers them) from 50 seeded sites go through the real
:class:`~pipeline.runtime.embedded.EmbeddedPipeline` (extraction processes,
tagging, dedup, SQLite store), with one run summary for the whole run, as
``newsflow run`` keeps one while it runs for months. One article in twenty
is republished by another site, so dedup has copies to find.

The resident memory (RSS) of this process and of each extraction process is
read after every ``--every`` articles, once the pipeline has drained; the
target is that memory after 50,000 articles is within 10 % of memory after
10,000 (the dedup index, residue statistics and feed state live on disk or
are bounded)::

    python -m bench.soak [--articles 50000] [--every 5000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.e2e.procs import default_label, descendants, read_status_kb
from corpus.prose import Article, write_article
from corpus.sites import generate_sites, render_page
from pipeline.config import Config, parse_config
from pipeline.models import FeedEntry
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources

SITES = 50
SEED = 23
SIZE_KB = (10, 30)
REPUBLISH_EVERY = 20
BATCH = 256
TARGET_GROWTH = 0.10
BASELINE_AT = 10_000


def soak_config(db: Path) -> Config:
    return parse_config({"storage": {"url": f"sqlite:///{db}"}})


def entries(count: int) -> Iterator[FeedEntry]:
    """``count`` entries with their pages, sites in turn; every 20th republishes a story."""
    sites = generate_sites(SITES, SEED)
    recent: deque[Article] = deque(maxlen=10)
    for number in range(count):
        site = sites[number % SITES]
        rng = random.Random(f"soak-{SEED}-{number}")
        if number % REPUBLISH_EVERY == REPUBLISH_EVERY - 1 and recent:
            article = rng.choice(list(recent))
        else:
            article = write_article(rng, language=site.language, topic=rng.choice(site.topics))
            recent.append(article)
        page = render_page(site, number // SITES, rng, article=article, size_kb=SIZE_KB)
        yield FeedEntry(
            feed=f"soak-{site.domain}", feed_kind="warc", url=page.url,
            published_at=page.published_at, body=page.html,
        )  # fmt: skip


def memory_mb() -> dict[str, float]:
    """RSS of this process and of each extraction process, MB."""
    out = {"main": read_status_kb(os.getpid(), "VmRSS") / 1024}
    children = [p for p in descendants(os.getpid()) if read_status_kb(p, "VmRSS")]
    for index, pid in enumerate(sorted(children)):
        label = default_label(pid, os.getpid()).replace("child", "extract")
        out[f"{label}{index}"] = read_status_kb(pid, "VmRSS") / 1024
    return {k: round(v, 1) for k, v in out.items()}


def soak(articles: int, every: int, workdir: Path, *, baseline: int) -> dict[str, Any]:
    config = soak_config(workdir / "soak.db")
    resources = Resources(config)
    pipeline = EmbeddedPipeline(config, resources)
    summary = RunSummary()
    checkpoints: list[dict[str, Any]] = []
    started = time.perf_counter()
    batch: list[FeedEntry] = []
    try:
        for number, entry in enumerate(entries(articles), start=1):
            batch.append(entry)
            if len(batch) == BATCH or number % every == 0 or number == articles:
                pipeline.submit(batch, summary)
                batch = []
            if number % every == 0 or number == articles:
                pipeline.drain()
                memory = memory_mb()
                checkpoints.append({
                    "articles": number, "seconds": round(time.perf_counter() - started, 1),
                    "memory_mb": memory, "total_mb": round(sum(memory.values()), 1),
                    "db_mb": round(_db_size(workdir, "soak.db") / 1e6, 1),
                    "wal_mb": round(_db_size(workdir, "soak.db-wal") / 1e6, 1),
                })  # fmt: skip
                print(json.dumps(checkpoints[-1]), file=sys.stderr, flush=True)
    finally:
        pipeline.close()
        resources.close()
    return _report(checkpoints, summary, time.perf_counter() - started, baseline)


def _db_size(workdir: Path, name: str) -> int:
    path = workdir / name
    return path.stat().st_size if path.exists() else 0


def _report(
    checkpoints: list[dict[str, Any]], summary: RunSummary, seconds: float, baseline: int
) -> dict[str, Any]:
    base = next((c for c in checkpoints if c["articles"] >= baseline), checkpoints[0])
    last = checkpoints[-1]
    growth = last["total_mb"] / base["total_mb"] - 1
    return {
        "articles": last["articles"],
        "stored": summary.articles,
        "duplicates": summary.duplicates,
        "dead_letters": summary.failures,
        "seconds": round(seconds, 1),
        "rate": round(last["articles"] / seconds, 1),
        "baseline_articles": base["articles"],
        "baseline_mb": base["total_mb"],
        "final_mb": last["total_mb"],
        "growth": round(growth, 4),
        "target_growth": TARGET_GROWTH,
        "met": growth <= TARGET_GROWTH,
        "checkpoints": checkpoints,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--every", type=int, default=5_000)
    parser.add_argument("--baseline", type=int, default=BASELINE_AT,
                        help="articles after which memory is the baseline")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsflow-soak-") as tmp:
        report = soak(args.articles, args.every, Path(tmp), baseline=args.baseline)
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"soak: {report['articles']} articles in {report['seconds']} s"
            f" ({report['rate']}/s), {report['stored']} stored, {report['duplicates']}"
            f" duplicates, {report['dead_letters']} dead letters"
        )
        print(
            f"memory after {report['baseline_articles']}: {report['baseline_mb']} MB;"
            f" after {report['articles']}: {report['final_mb']} MB"
            f" ({report['growth']:+.1%}; target <= +{TARGET_GROWTH:.0%}:"
            f" {'PASS' if report['met'] else 'FAIL'})"
        )
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
