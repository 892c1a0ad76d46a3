"""An article the feed lists as updated is fetched again, and its correction stored.

A real HTTP server on 127.0.0.1 serves an Atom feed of two articles and their
pages, counting requests. The publisher then corrects one article and bumps
its ``<updated>`` (or, serving RSS, its ``pubDate``): the next ``newsflow run
--once`` fetches that page alone, and the store holds its second revision; a
run after that fetches nothing.
A publisher that sends ETags is asked conditionally when an article is listed
as updated: an unchanged page costs a 304 (also for a second feed listing it,
and for a feed whose links redirect to the page), no new revision and no dead
letter.
On the embedded transport (each store engine) and on the real broker.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka_support import KafkaEnv
from local_http import ROOT, send_body, serving

from connectors.storage.articles import ArticleRepository
from connectors.storage.db import Database
from corpus import generate_site_pages
from pipeline.cli import main
from pipeline.config import parse_config

PAGES = generate_site_pages(n_sites=1, pages_per_site=2, seed=11)
CORRECTION = "Correction: an earlier version of this article gave the wrong score."


class Publisher:
    """Serves ``/feed.xml`` (and ``/feed.xml?<anything>``, the same feed for another
    feed of the config) and ``/a/<n>.html`` from what it holds now; counts requests.

    With ``etags``, a page is served with an ETag (its content's hash) and a request
    naming the current one (If-None-Match) is answered 304 Not Modified; ``full``
    counts the pages served whole. With ``redirects``, the feed links
    ``/r/<n>``, which answers 301 with the page's own path. With ``rss``, the
    feed is RSS 2.0, each item's ``pubDate`` its updated time.
    """

    def __init__(self, *, etags: bool = False, redirects: bool = False, rss: bool = False) -> None:
        self.pages = {f"/a/{n}.html": page.html for n, page in enumerate(PAGES)}
        self.updated = {path: f"2026-01-0{n + 1}T08:00:00Z" for n, path in enumerate(self.pages)}
        self.requests: Counter[str] = Counter()
        self.full: Counter[str] = Counter()
        self.redirects = redirects
        self.rss = rss
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                publisher.requests[self.path] += 1
                if self.path.split("?")[0] == "/feed.xml":
                    send_body(self, publisher.feed(), "application/atom+xml")
                    return
                if self.path.startswith("/r/"):
                    self.send_response(301)
                    self.send_header("Location", f"/a/{self.path[3:]}.html")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = publisher.pages[self.path].encode()
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if etags else None
                if etag is not None and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                publisher.full[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                if etag is not None:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def feed(self) -> bytes:
        if self.rss:
            return self.rss_feed()
        entries = "".join(
            f"<entry><id>{self.base}{path}</id><title>{page.title}</title>"
            f'<link href="{self.base}{self.link(path)}"/>'
            f"<published>2026-01-01T08:00:00Z</published>"
            f"<updated>{self.updated[path]}</updated></entry>"
            for path, page in zip(self.pages, PAGES, strict=True)
        )
        return f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'.encode()

    def rss_feed(self) -> bytes:
        """RSS 2.0 has no updated time: a republished item carries a later pubDate."""
        items = "".join(
            f"<item><guid>{self.base}{path}</guid><title>{page.title}</title>"
            f"<link>{self.base}{self.link(path)}</link><pubDate>"
            f"{format_datetime(datetime.fromisoformat(self.updated[path]), usegmt=True)}"
            "</pubDate></item>"
            for path, page in zip(self.pages, PAGES, strict=True)
        )
        return f'<rss version="2.0"><channel><title>desk</title>{items}</channel></rss>'.encode()

    def link(self, path: str) -> str:
        """Where the feed links the page at ``path``: a redirect to it, with ``redirects``."""
        return "/r/" + path.removeprefix("/a/").removesuffix(".html") if self.redirects else path

    def correct(self, path: str, updated: str) -> None:
        html = self.pages[path]
        end = html.index("</p>") + len("</p>")
        self.pages[path] = f"{html[:end]}\n<p>{CORRECTION}</p>{html[end:]}"
        self.updated[path] = updated


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    served = Publisher()
    with serving(served.server):
        yield served


def run_once(config: Path) -> str:
    """``newsflow run --once``, as a user runs it: its summary."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--config", str(config), "run", "--once"]) == 0
    return out.getvalue()


def correction_is_stored_once(publisher: Publisher, config: Path, store_url: str) -> None:
    """Run, correct one article, run, run: the correction is its second revision, and
    each page was fetched once per version."""
    first = run_once(config)
    assert "dead-lettered:     0" in first and publisher.requests["/a/0.html"] == 1

    publisher.correct("/a/0.html", updated="2026-01-05T10:30:00Z")
    second = run_once(config)
    assert "new entries:       0 (and 1 updated)" in second
    assert "articles stored:   1" in second
    assert "dead-lettered:     0" in second
    assert (publisher.requests["/a/0.html"], publisher.requests["/a/1.html"]) == (2, 1)
    db = Database(store_url)
    try:
        articles = ArticleRepository(db)
        ids = {article.url: article.id for article in articles.iter_all()}
        corrected = articles.revisions(ids[f"{publisher.base}/a/0.html"])
        untouched = articles.revisions(ids[f"{publisher.base}/a/1.html"])
        stored = articles.get(ids[f"{publisher.base}/a/0.html"])
        rows = articles.count()
    finally:
        db.close()
    assert [r.revision for r in corrected] == [1, 2]
    assert CORRECTION not in corrected[0].text and CORRECTION in corrected[1].text
    assert stored is not None and (stored.revision, CORRECTION in stored.text) == (2, True)
    assert ([r.revision for r in untouched], len(ids), rows) == ([1], 2, 2)

    run_once(config)
    assert (publisher.requests["/a/0.html"], publisher.requests["/a/1.html"]) == (2, 1)


def revisions_by_url(store_url: str) -> dict[str, list[int]]:
    db = Database(store_url)
    try:
        articles = ArticleRepository(db)
        return {a.url: [r.revision for r in articles.revisions(a.id)] for a in articles.iter_all()}
    finally:
        db.close()


def updates_are_conditional(publisher: Publisher, config: Path, store_url: str) -> None:
    """Two feeds list the same articles. An update whose page is unchanged costs each
    feed a 304 (no page, no revision, no dead letter); a changed page comes whole once
    (the other feed's update of it in the same run asks with its new ETag: a 304) and
    is revision 2, and its new ETag is what the next update sends."""
    page = f"{publisher.base}/a/0.html"
    first = run_once(config)
    assert "dead-lettered:     0" in first and publisher.full["/a/0.html"] == 2

    publisher.updated["/a/0.html"] = "2026-01-05T10:30:00Z"  # the page is as it was
    second = run_once(config)
    assert "new entries:       0 (and 2 updated)" in second
    assert "articles stored:   0" in second and "dead-lettered:     0" in second
    assert (publisher.requests["/a/0.html"], publisher.full["/a/0.html"]) == (4, 2)
    assert revisions_by_url(store_url)[page] == [1]

    publisher.correct("/a/0.html", updated="2026-01-06T10:30:00Z")
    third = run_once(config)
    assert "new entries:       0 (and 2 updated)" in third and "dead-lettered:     0" in third
    assert publisher.full["/a/0.html"] == 3  # one page; the other feed's update, a 304
    assert revisions_by_url(store_url) == {page: [1, 2], f"{publisher.base}/a/1.html": [1]}

    fetched_whole = publisher.full["/a/0.html"]
    publisher.updated["/a/0.html"] = "2026-01-07T10:30:00Z"
    fourth = run_once(config)
    assert "(and 2 updated)" in fourth and "dead-lettered:     0" in fourth
    assert publisher.full["/a/0.html"] == fetched_whole
    assert revisions_by_url(store_url)[page] == [1, 2]
    assert publisher.full["/a/1.html"] == 2


def redirected_updates_are_conditional(publisher: Publisher, config: Path, store_url: str) -> None:
    """The feed links ``/r/0``, which redirects to the page: the store knows the page by
    where it landed, and an update of the listed link still sends its ETag (through the
    redirect), so an unchanged page costs a 304, not a page."""
    first = run_once(config)
    assert "dead-lettered:     0" in first and publisher.full["/a/0.html"] == 1
    assert f"{publisher.base}/a/0.html" in revisions_by_url(store_url)

    publisher.updated["/a/0.html"] = "2026-01-05T10:30:00Z"  # the page is as it was
    second = run_once(config)
    assert "new entries:       0 (and 1 updated)" in second
    assert "articles stored:   0" in second and "dead-lettered:     0" in second
    assert (publisher.requests["/r/0"], publisher.requests["/a/0.html"]) == (2, 2)
    assert publisher.full["/a/0.html"] == 1


def two_feeds(publisher: Publisher) -> dict[str, Any]:
    """The publisher's feed configured twice, as two feeds listing the same articles."""
    feeds = [{"name": name, "url": f"{publisher.base}/feed.xml?{name}"} for name in ("a", "b")]
    return local_settings(publisher) | {"feeds": feeds}


def test_an_article_listed_as_updated_whose_page_is_unchanged_is_not_counted_as_stored(
    publisher: Publisher, store_url: str, tmp_path: Path
) -> None:
    """The feed bumps ``<updated>`` but the page says what it said: it is fetched again,
    the store finds nothing to change, and the summary must not say it stored it."""
    config = embedded_config(local_settings(publisher), store_url, tmp_path)
    assert "articles stored:   2" in run_once(config)
    publisher.updated["/a/0.html"] = "2026-01-05T10:30:00Z"  # the page itself is as it was
    second = run_once(config)
    assert publisher.requests["/a/0.html"] == 2
    assert "new entries:       0 (and 1 updated)" in second
    assert "articles stored:   0" in second and "duplicates found:  0" in second
    db = Database(store_url)
    try:
        articles = ArticleRepository(db)
        revisions = [len(articles.revisions(a.id)) for a in articles.iter_all()]
    finally:
        db.close()
    assert revisions == [1, 1]


def embedded_config(settings: dict[str, Any], store_url: str, tmp_path: Path) -> Path:
    raw = settings | {"storage": {"url": store_url}}
    config = tmp_path / "newsflow.yaml"
    config.write_text(yaml.safe_dump(parse_config(raw, base=ROOT).model_dump(mode="json")))
    return config


def kafka_config(settings: dict[str, Any], kafka_env: KafkaEnv) -> Path:
    for section, values in settings.items():
        kafka_env.configure(**{section: values})
    return kafka_env.config_file()


def local_settings(publisher: Publisher) -> dict[str, Any]:
    return {
        "feeds": [{"name": "desk", "url": f"{publisher.base}/feed.xml"}],
        "extract": {"workers": 1},
        "fetch": {"allow_private_networks": True, "respect_robots": False,
                  "min_host_interval": 0},
        "service": {"http_enabled": False},
    }  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """A run of updates (``check``) against a publisher, with the settings it needs."""

    check: Callable[[Publisher, Path, str], None]
    settings: Callable[[Publisher], dict[str, Any]]
    etags: bool = False
    redirects: bool = False
    rss: bool = False

    @contextlib.contextmanager
    def publisher(self) -> Iterator[Publisher]:
        served = Publisher(etags=self.etags, redirects=self.redirects, rss=self.rss)
        with serving(served.server):
            yield served


SCENARIOS = [
    pytest.param(Scenario(correction_is_stored_once, local_settings), id="corrected"),
    pytest.param(Scenario(correction_is_stored_once, local_settings, rss=True), id="rss-pubdate"),
    pytest.param(Scenario(updates_are_conditional, two_feeds, etags=True), id="etag-304"),
    pytest.param(
        Scenario(redirected_updates_are_conditional, local_settings, etags=True, redirects=True),
        id="redirect-304",
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_article_listed_as_updated_is_fetched_again_and_a_change_is_its_next_revision(
    scenario: Scenario, store_url: str, tmp_path: Path
) -> None:
    with scenario.publisher() as publisher:
        config = embedded_config(scenario.settings(publisher), store_url, tmp_path)
        scenario.check(publisher, config, store_url)


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_on_kafka_an_article_listed_as_updated_is_fetched_again(
    scenario: Scenario, kafka_env: KafkaEnv
) -> None:
    with scenario.publisher() as publisher:
        config = kafka_config(scenario.settings(publisher), kafka_env)
        scenario.check(publisher, config, kafka_env.config.storage.url)
