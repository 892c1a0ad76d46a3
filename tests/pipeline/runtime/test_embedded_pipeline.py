"""The streaming embedded pipeline: order, completion callbacks, failures, stop, pools.

Real stages on real pages: entries carry their page (as a WARC backfill
delivers them), so nothing touches the network; extraction runs in this
thread (``extract.workers: 1``) or in a process pool (2 workers).
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.storage.residue_stats import ResidueStatsRepository
from corpus import generate_site_pages
from pipeline import logs
from pipeline.config import Config, parse_config
from pipeline.extraction import load_rules
from pipeline.models import ExtractedArticle, FeedEntry, FetchedPage, article_id
from pipeline.runtime import embedded
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources
from pipeline.stages.extract import ExtractStage

ROOT = Path(__file__).resolve().parents[3]
PAGES = generate_site_pages(n_sites=4, pages_per_site=6, seed=5)


def make_config(db: Path, workers: int) -> Config:
    return parse_config(
        {"storage": {"url": f"sqlite:///{db}"}, "extract": {"workers": workers}}, base=ROOT
    )


def entries(start: int, stop: int) -> list[FeedEntry]:
    return [
        FeedEntry(feed=f"feed-{p.site}", feed_kind="warc", url=p.url, body=p.html)
        for p in PAGES[start:stop]
    ]


def stored_urls_in_order(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT url FROM articles ORDER BY seq")]


@pytest.fixture(params=[1, 2], ids=["inline", "process-pool"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> EmbeddedPipeline:
    config = make_config(tmp_path / "news.db", request.param)
    resources = Resources(config)
    running = EmbeddedPipeline(config, resources)
    yield running
    running.close()
    resources.close()


def test_entries_are_stored_in_the_order_they_were_submitted(
    pipeline: EmbeddedPipeline, tmp_path: Path
) -> None:
    summary = RunSummary()
    first, second = entries(0, 12), entries(12, 24)
    pipeline.submit(first, summary)
    pipeline.submit(second, summary)
    assert pipeline.drain() is True
    assert stored_urls_in_order(tmp_path / "news.db") == [e.url for e in first + second]
    assert summary.articles == 24
    assert summary.failures == 0


def test_on_done_runs_once_its_entries_are_stored(
    pipeline: EmbeddedPipeline, tmp_path: Path
) -> None:
    db = tmp_path / "news.db"
    seen_when_done: dict[str, list[str]] = {}
    batches = {"a": entries(0, 5), "b": entries(5, 9)}

    def done(name: str) -> None:
        seen_when_done[name] = stored_urls_in_order(db)

    empty_done: list[bool] = []
    pipeline.submit([], RunSummary(), on_done=lambda: empty_done.append(True))
    assert empty_done == [True]  # nothing to wait for: done at once
    for name, batch in batches.items():
        pipeline.submit(batch, RunSummary(), on_done=lambda n=name: done(n))
    pipeline.drain()
    assert set(seen_when_done) == {"a", "b"}
    for name in ("a", "b"):
        assert {e.url for e in batches[name]} <= set(seen_when_done[name])


def test_entries_stored_again_unchanged_are_not_counted_as_stored(
    pipeline: EmbeddedPipeline,
) -> None:
    """``run --once`` twice on the same data: the second run changes nothing in the store,
    so its summary stores nothing (it said "articles stored: 6" both times)."""
    first, again = RunSummary(), RunSummary()
    assert pipeline.process(entries(0, 6), first) is True
    assert pipeline.process(entries(0, 6), again) is True
    assert (first.articles, first.failures) == (6, 0)
    assert (again.articles, again.duplicates, again.failures) == (0, 0, 0)
    assert "articles stored:   0" in again.render()


def test_a_failing_entry_is_dead_lettered_and_its_batch_still_completes(
    pipeline: EmbeddedPipeline, tmp_path: Path
) -> None:
    bad = FeedEntry(feed="f", feed_kind="warc", url="https://x.example/a.pdf", body="%PDF-1.4")
    batch = [*entries(0, 2), bad, *entries(2, 3)]
    summary = RunSummary()
    completed: list[bool] = []
    pipeline.submit(batch, summary, on_done=lambda: completed.append(True))
    pipeline.drain()
    assert completed == [True]
    assert summary.failures == 1
    assert summary.articles == 3
    [letter] = pipeline.resources.dead_letters.list()
    assert (letter.stage, letter.reason) == ("extract", "not_html")


def test_more_entries_than_fit_in_flight_all_go_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "MAX_IN_FLIGHT", 3)
    config = make_config(tmp_path / "news.db", 1)
    resources = Resources(config)
    pipeline = EmbeddedPipeline(config, resources)
    try:
        summary = RunSummary()
        pipeline.submit(entries(0, 10), summary)
        pipeline.drain()
    finally:
        pipeline.close()
        resources.close()
    assert summary.articles == 10


def test_a_stop_leaves_open_batches_without_their_callback(tmp_path: Path) -> None:
    config = make_config(tmp_path / "news.db", 2)  # extraction in processes: not done at once
    resources = Resources(config)
    pipeline = EmbeddedPipeline(config, resources)
    stop = threading.Event()
    completed: list[bool] = []
    try:
        pipeline.submit(entries(0, 6), RunSummary(), on_done=lambda: completed.append(True))
        stop.set()
        assert pipeline.drain(stop) is False
        assert completed == []
        assert pipeline.process(entries(6, 8), RunSummary()) is True  # usable afterwards
    finally:
        pipeline.close()
        resources.close()
    assert {e.url for e in entries(6, 8)} <= set(stored_urls_in_order(tmp_path / "news.db"))


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def line_counts(db: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db) as conn:
        query = "SELECT source, line_key, articles FROM residue_lines ORDER BY source, line_key"
        return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def test_lines_learned_in_processes_are_counted_as_in_one_thread(tmp_path: Path) -> None:
    """Extraction processes hand their line counts to this thread, which writes them with
    the articles: the learned state is the same as when one thread does everything."""
    counts = []
    for workers in (1, 2):
        db = tmp_path / f"news-{workers}.db"
        config = make_config(db, workers)
        resources = Resources(config)
        pipeline = EmbeddedPipeline(config, resources)
        try:
            assert pipeline.process(entries(0, 24), RunSummary()) is True
        finally:
            pipeline.close()
            resources.close()
        counts.append(line_counts(db))
    inline, pooled = counts
    assert pooled == inline
    assert max(articles for _, _, articles in pooled) > 1  # template lines were counted


def test_a_failure_to_count_lines_still_stores_the_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: ResidueStatsRepository, *args: object, **kwargs: object) -> None:
        raise RuntimeError("counting bug")

    monkeypatch.setattr(ResidueStatsRepository, "observe", broken)
    failed_before = metric("newsflow_extract_learned_observations_total", result="failed")
    db = tmp_path / "news.db"
    config = make_config(db, 2)
    resources = Resources(config)
    pipeline = EmbeddedPipeline(config, resources)
    summary = RunSummary()
    try:
        assert pipeline.process(entries(0, 6), summary) is True
    finally:
        pipeline.close()
        resources.close()
    assert stored_urls_in_order(db) == [e.url for e in entries(0, 6)]
    assert summary.failures == 0
    assert line_counts(db) == []
    assert sum("counting bug" in r.getMessage() for r in caplog.records) == 6
    failed = metric("newsflow_extract_learned_observations_total", result="failed")
    assert failed == failed_before + 6


def test_a_page_extracted_again_after_learning_is_stored_once(tmp_path: Path) -> None:
    """Each site's first page, listed again by a second feed after the site's template
    was learned, can extract into a shorter text: still the same page, so the store keeps
    its one revision and credits the second feed (it made a revision 2 before)."""
    firsts = list({p.site: p for p in reversed(PAGES)}.values())
    again = [
        FeedEntry(feed="second-feed", feed_kind="warc", url=p.url, body=p.html) for p in firsts
    ]
    config = make_config(tmp_path / "news.db", 1)
    resources = Resources(config)
    pipeline = EmbeddedPipeline(config, resources)
    extract = ExtractStage(
        load_rules(config.extract.residue_rules), resources.residue_stats, config.extract
    )
    try:
        assert pipeline.process([*entries(0, len(PAGES)), *again], RunSummary()) is True
        texts_now = [_extract_text(extract, entry) for entry in again]
        stored = [resources.articles.get(article_id(entry.url)) for entry in again]
        revisions = [resources.articles.revisions(article_id(entry.url)) for entry in again]
    finally:
        pipeline.close()
        resources.close()
    first_texts = [page_revisions[0].text for page_revisions in revisions]
    assert texts_now != first_texts  # the learned template moved in between for some site
    for page, article, stored_revisions in zip(firsts, stored, revisions, strict=True):
        assert article is not None
        assert [r.revision for r in stored_revisions] == [1], page.url
        assert (article.revision, article.feeds) == (1, [f"feed-{page.site}", "second-feed"])


def _extract_text(stage: ExtractStage, entry: FeedEntry) -> str:
    """What the page extracts into now, with what the pipeline has learned."""
    [article] = stage.process(FetchedPage(entry=entry, url=entry.url, html=entry.body or ""))
    assert isinstance(article, ExtractedArticle)
    return article.text


def test_extraction_processes_follow_a_reloaded_log_level(tmp_path: Path) -> None:
    """SIGHUP with ``service.log_level: DEBUG`` reaches the processes that extract pages
    (within ``LEVEL_CHECK_SECONDS``), not only the service's own."""
    config = make_config(tmp_path / "news.db", 2)
    resources = Resources(config)
    pipeline = EmbeddedPipeline(config, resources)
    pool = pipeline._extract_executor()
    assert pool is not None
    previous = logging.getLevelName(logging.getLogger().level)
    logs.set_level("INFO")
    try:
        root_level = logging.getLogger().getEffectiveLevel
        assert {pool.submit(root_level).result(timeout=60) for _ in range(4)} == {logging.INFO}

        logs.set_level("DEBUG")
        time.sleep(logs.LEVEL_CHECK_SECONDS * 2)

        levels = [pool.submit(root_level) for _ in range(20)]
        assert {level.result(timeout=10) for level in levels} == {logging.DEBUG}
        assert logging.getLogger("urllib3").level == logging.INFO  # the parent, as at start
    finally:
        logs.set_level(previous)
        pipeline.close()
        resources.close()


def test_a_step_ends_when_a_signal_handler_outlasts_its_wait(tmp_path: Path) -> None:
    """A stop could hang the service for good: the pipeline's wait for completed work (0.1 s,
    in the main thread) was a ``SimpleQueue.get``, which on CPython 3.11 never returns once
    a signal's handler runs past its deadline (on a loaded machine, starting up). Here the
    handler busies itself 0.3 s; SIGALRM, 3 s on, breaks a wait that hangs."""
    config = make_config(tmp_path / "news.db", 1)
    resources = Resources(config)
    running = EmbeddedPipeline(config, resources)

    def slow_handler(signum: int, frame: object) -> None:
        started = time.monotonic()
        while time.monotonic() - started < 0.3:
            pass

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the step's wait did not end")

    previous = {
        signal.SIGUSR1: signal.signal(signal.SIGUSR1, slow_handler),
        signal.SIGALRM: signal.signal(signal.SIGALRM, hung),
    }
    timer = threading.Timer(0.03, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        signal.alarm(3)
        timer.start()
        started = time.monotonic()
        running.step()
        took = time.monotonic() - started
    finally:
        signal.alarm(0)
        timer.cancel()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        running.close()
        resources.close()
    assert took < 1.0
