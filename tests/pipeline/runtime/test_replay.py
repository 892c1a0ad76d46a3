"""Replaying the embedded transport's dead letters: through the rest of the pipeline, once.

Pages come from a real HTTP server on 127.0.0.1 whose answers a test changes
(the "fix"); letters are made by the embedded pipeline itself, or written
directly for the stages a served page cannot make fail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kafka_support import wait_for
from local_http import local_resources, send_body, serving

from connectors.storage.dead_letters import DeadLetter
from corpus import Page, generate_site_pages
from pipeline.errors import StorageError
from pipeline.models import EnrichedArticle, FeedEntry, Message, article_id
from pipeline.runtime import replay as replay_module
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.outcome import LetterFilter
from pipeline.runtime.replay import ReplayResult, replay_letters
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources, build_stage
from pipeline.stages.base import Stage, run_chain

ROOT = Path(__file__).resolve().parents[3]
PAGES = generate_site_pages(n_sites=2, pages_per_site=2, seed=7)
EMPTY_PAGE = b"<html><head><title>x</title></head><body></body></html>"


class Pages:
    """Serves ``/<n>``: 404 until a test sets what path ``n`` answers."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = bodies.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                send_body(self, body, "text/html; charset=utf-8")

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def entry(self, n: int, feed: str = "feed-a") -> FeedEntry:
        return FeedEntry(feed=feed, feed_kind="rss", url=f"{self.base}/{n}")

    def serve(self, n: int, page: Page | bytes) -> None:
        self.bodies[f"/{n}"] = page if isinstance(page, bytes) else page.html.encode()


@pytest.fixture
def pages() -> Iterator[Pages]:
    served = Pages()
    with serving(served.server):
        yield served


def run(resources: Resources, *entries: FeedEntry) -> None:
    pipeline = EmbeddedPipeline(resources.config, resources)
    try:
        pipeline.process(list(entries), RunSummary())
    finally:
        pipeline.close()


def letters(resources: Resources) -> list[DeadLetter]:
    found = [resources.dead_letters.get(i) for i in resources.dead_letters.ids()]
    return [letter for letter in found if letter is not None]


def stored_ids(resources: Resources) -> set[str]:
    rows = resources.store.db.execute("SELECT id FROM articles")
    return {str(row[0]) for row in rows}


def add_letter(resources: Resources, stage: str, message: Message) -> None:
    resources.dead_letters.add(
        stage=stage,
        topic=message.topic,
        error_class="StorageError",
        reason="storage",
        error="written by the test",
        payload=message.to_json().decode(),
        letter_key=message.letter_key(),
    )


def tagged(resources: Resources, page: Page) -> EnrichedArticle:
    """The message the dedup stage takes for ``page`` (fetch, extract and tag run here)."""
    stages = [build_stage(s, resources) for s in ("fetch", "extract", "tag")]
    entry = FeedEntry(feed="feed-w", feed_kind="warc", url=page.url, body=page.html)
    [article] = run_chain(stages, entry)
    assert isinstance(article, EnrichedArticle)
    return article


def test_a_fetch_letter_goes_through_once_its_page_is_back(
    pages: Pages, resources: Resources
) -> None:
    run(resources, pages.entry(1), pages.entry(2))
    assert [(x.stage, x.reason) for x in letters(resources)] == [("fetch", "http_404")] * 2
    pages.serve(1, PAGES[0])
    pages.serve(2, PAGES[1])

    result = replay_letters(resources, LetterFilter())

    assert result == ReplayResult(through=2, failed_again=0, kept=0)
    assert letters(resources) == []
    [row] = resources.store.db.execute(
        "SELECT title, feeds FROM articles WHERE url = ?", (pages.entry(1).url,)
    )
    assert row[0] == PAGES[0].title
    assert "feed-a" in str(row[1])
    assert len(stored_ids(resources)) == 2


def test_a_letter_that_fails_again_at_its_stage_stays_one_letter(
    pages: Pages, resources: Resources
) -> None:
    run(resources, pages.entry(1))
    [before] = letters(resources)

    result = replay_letters(resources, LetterFilter())

    assert result == ReplayResult(through=0, failed_again=1, kept=0)
    [after] = letters(resources)
    assert (after.id, after.stage, after.attempts) == (before.id, "fetch", 2)
    assert after.created_at == before.created_at
    assert after.last_failed_at >= before.last_failed_at


def test_a_letter_that_fails_at_a_later_stage_becomes_that_stages_letter(
    pages: Pages, resources: Resources
) -> None:
    run(resources, pages.entry(1))
    pages.serve(1, EMPTY_PAGE)  # fetched now, but there is no article in it

    result = replay_letters(resources, LetterFilter())

    assert result == ReplayResult(through=0, failed_again=1, kept=0)
    [after] = letters(resources)
    assert (after.stage, after.topic, after.attempts) == ("extract", "pages", 2)
    assert stored_ids(resources) == set()


def test_only_the_letters_matching_the_filter_are_replayed(
    pages: Pages, resources: Resources
) -> None:
    run(resources, pages.entry(1))
    pages.serve(2, EMPTY_PAGE)
    run(resources, pages.entry(2))
    pages.serve(1, PAGES[0])
    pages.serve(2, PAGES[1])

    result = replay_letters(resources, LetterFilter(reason="http_404"))

    assert result == ReplayResult(through=1, failed_again=0, kept=1)
    [kept] = letters(resources)
    assert (kept.stage, kept.attempts) == ("extract", 1)
    assert stored_ids(resources) == {article_id(pages.entry(1).url)}


class SlowThenServed:
    """``/1`` answers its first request with a 404 once ``release`` is set, and every later
    one at once with the page: a replay that started first finishes last."""

    def __init__(self, page: Page) -> None:
        self.release = threading.Event()
        self.requests = 0
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                held.requests += 1
                if held.requests == 1:
                    held.release.wait(30)
                    self.send_error(404)
                    return
                send_body(self, page.html.encode(), "text/html; charset=utf-8")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/1"


def test_two_replays_at_once_settle_each_letter_once(store_url: str, resources: Resources) -> None:
    """The first replay's fetch fails after the second replay stored the article: the
    letter must not come back (before claiming, it did: one letter for a stored article)."""
    server = SlowThenServed(PAGES[0])
    entry = FeedEntry(feed="feed-a", feed_kind="rss", url=server.url)
    add_letter(resources, "fetch", entry)
    first: list[ReplayResult] = []
    with serving(server.server), local_resources(store_url) as other:
        slow = threading.Thread(target=lambda: first.append(replay_letters(other, LetterFilter())))
        slow.start()
        wait_for(lambda: server.requests == 1, timeout=20, what="the first replay's fetch")

        second = replay_letters(resources, LetterFilter())
        server.release.set()
        slow.join(30)

    assert second == ReplayResult(through=1)
    assert first == [ReplayResult(elsewhere=1)]
    assert letters(resources) == []
    assert stored_ids(resources) == {article_id(server.url)}


def test_a_dedup_letter_resumes_at_dedup_and_is_stored(resources: Resources) -> None:
    article = tagged(resources, PAGES[0])
    add_letter(resources, "dedup", article)

    assert replay_letters(resources, LetterFilter()) == ReplayResult(through=1)

    assert letters(resources) == []
    stored = resources.articles.get(article.id)
    assert stored is not None
    assert stored.cluster_id is not None  # the dedup stage ran: it gave the article its cluster
    assert stored.topics == article.topics


def test_an_extraction_process_crash_letter_fetches_its_entry_again(
    resources: Resources,
) -> None:
    """A dead extraction process leaves the entry, not the page, as its letter."""
    page = PAGES[1]
    entry = FeedEntry(feed="feed-w", feed_kind="warc", url=page.url, body=page.html)
    add_letter(resources, "extract", entry)

    assert replay_letters(resources, LetterFilter()) == ReplayResult(through=1)

    assert stored_ids(resources) == {article_id(page.url)}
    assert letters(resources) == []


def test_an_undecodable_letter_stays_as_it_was(resources: Resources) -> None:
    resources.dead_letters.add(
        stage="fetch", topic="items", error_class="MessageError", reason="undecodable",
        error="not JSON", payload="{not json", letter_key=None,
    )  # fmt: skip
    [before] = letters(resources)

    assert replay_letters(resources, LetterFilter()) == ReplayResult(failed_again=1)

    assert letters(resources) == [before]


class FailingStore(Stage):
    """The store stage, failing after it wrote the article: its write must be undone."""

    def __init__(self, inner: Stage) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.accepts = inner.accepts  # type: ignore[misc]

    def process(self, message: Message) -> list[Message]:
        list(self.inner.process(message))
        raise StorageError("disk full (injected)")


def test_a_store_failure_keeps_the_letter_and_stores_nothing(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    article = tagged(resources, PAGES[0])
    add_letter(resources, "store", article)

    def build(name: str, given: Resources) -> Stage:
        stage = build_stage(name, given)
        return FailingStore(stage) if name == "store" else stage

    monkeypatch.setattr(replay_module, "build_stage", build)
    assert replay_letters(resources, LetterFilter()) == ReplayResult(failed_again=1)

    [letter] = letters(resources)
    assert (letter.stage, letter.reason, letter.attempts) == ("store", "storage", 2)
    assert "disk full" in letter.error
    assert stored_ids(resources) == set()
