"""Where newsflow's CPU goes per article, component by component, on the corpus pages.

Each component runs over the same pages in this one process and is timed
with ``time.process_time`` (CPU, not wall: other load on the machine does not
count), next to trafilatura alone. It answers "how far can the end-to-end
rate get from the extraction-only limit": every millisecond here is spent on
top of trafilatura's, on the same cores::

    python -m bench.e2e.budget --root .run/bench-corpus [--pages 200]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trafilatura import bare_extraction

from bench.e2e.corpus import Manifest, load_manifest
from bench.e2e.feeds import render_feed
from bench.e2e.server import CorpusServer
from connectors.feeds import parse_feed
from pipeline.config import Config, FeedConfig, parse_config
from pipeline.extraction.parse import trafilatura_options
from pipeline.models import (
    EnrichedArticle,
    ExtractedArticle,
    FeedEntry,
    FetchedPage,
    Message,
    utcnow,
)
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.stages.base import Stage


def timed(label: str, results: dict[str, float], work: Callable[..., Any], *args: Any) -> Any:
    started = time.process_time()
    value = work(*args)
    results[label] = results.get(label, 0.0) + time.process_time() - started
    return value


def budget(manifest: Manifest, pages: int, workdir: Path) -> dict[str, float]:
    """CPU seconds per component over ``pages`` pages (sites in turn, as feeds deliver them)."""
    per_site = manifest.spec.pages_per_site
    indices = sorted(range(len(manifest.pages)), key=lambda i: (i % per_site, i))[:pages]
    config = _config(manifest, workdir)
    resources = Resources(config)
    stages = {name: build_stage(name, resources) for name in ("extract", "tag", "dedup", "store")}
    options = trafilatura_options(config.extract, now=utcnow())
    fetch = build_stage("fetch", resources)
    _warm_up(manifest, indices.pop(), stages)
    results: dict[str, float] = {}
    with CorpusServer(manifest.root) as server:
        feeds = [f for f in manifest.feeds if any(i in indices for i in f.pages)]
        entries = 0
        for feed in feeds:
            body = render_feed(manifest, feed, server.port)
            config_feed = FeedConfig(name=feed.name, url=manifest.feed_url(feed, server.port))
            parsed = timed("feed parse (per entry)", results, _parse, body, config_feed)
            entries += len(parsed.entries)
        for index in indices:
            url = manifest.page_url(index, server.port)
            html = manifest.page_file(index).read_text(encoding="utf-8")
            timed("trafilatura alone (the limit)", results, _trafilatura, html, url, options)
            entry = FeedEntry(feed="bench", feed_kind="rss", url=url)
            [page] = timed("fetch over HTTP (client side)", results, _run, fetch, entry)
            assert isinstance(page, FetchedPage)
            timed("page to a process and back (pickle)", results, _round_trip, page)
            [article] = timed("extract stage (trafilatura + newsflow)", results, _run,
                              stages["extract"], page)  # fmt: skip
            assert isinstance(article, ExtractedArticle)
            [enriched] = timed("tag", results, _run, stages["tag"], article)
            assert isinstance(enriched, EnrichedArticle)
            produced = timed("dedup", results, _run, stages["dedup"], enriched)
            for message in produced:
                timed("store", results, _run, stages["store"], message)
    resources.close()
    results["extract stage: newsflow's share"] = (
        results["extract stage (trafilatura + newsflow)"] - results["trafilatura alone (the limit)"]
    )
    per_article = {k: v / len(indices) * 1000 for k, v in results.items()}
    per_article["feed parse (per entry)"] = results["feed parse (per entry)"] / entries * 1000
    return per_article


def _warm_up(manifest: Manifest, index: int, stages: dict[str, Stage]) -> None:
    """One page through every stage untimed: models load and caches fill once per process."""
    html = manifest.page_file(index).read_text(encoding="utf-8")
    entry = FeedEntry(feed="warm", feed_kind="rss", url=manifest.page_url(index, 1))
    messages: list[Message] = [FetchedPage(entry=entry, url=entry.url, html=html)]
    for name in ("extract", "tag", "dedup", "store"):
        messages = [out for m in messages for out in stages[name].process(m)]


def _parse(body: bytes, feed: FeedConfig) -> Any:
    return parse_feed(body, feed=feed, base_url=feed.url)


def _trafilatura(html: str, url: str, options: dict[str, Any]) -> Any:
    return bare_extraction(html, url=url, **options)


def _run(stage: Stage, message: Message) -> list[Message]:
    return list(stage.process(message))


def _round_trip(page: FetchedPage) -> Any:
    return pickle.loads(pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL))


def _config(manifest: Manifest, workdir: Path) -> Config:
    return parse_config({
        "storage": {"url": f"sqlite:///{workdir / 'budget.db'}"},
        "fetch": {"allow_private_networks": True, "min_host_interval": 0},
    })  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.root)
    with tempfile.TemporaryDirectory(prefix="newsflow-budget-") as tmp:
        per_article = budget(manifest, args.pages, Path(tmp))
    if args.json:
        print(json.dumps(per_article))
        return 0
    limit = per_article["trafilatura alone (the limit)"]
    print(f"CPU per article over {args.pages} pages (ms; process time)")
    for name, ms in per_article.items():
        print(f"  {name:42} {ms:7.2f}  {ms / limit:6.1%} of trafilatura")
    return 0


if __name__ == "__main__":
    sys.exit(main())
