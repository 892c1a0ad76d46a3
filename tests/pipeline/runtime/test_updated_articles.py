"""An article the feed lists as updated is fetched again, and its correction stored.

A real HTTP server on 127.0.0.1 serves an Atom feed of two articles and their
pages, counting requests. The publisher then corrects one article and bumps
its ``<updated>``: the next ``newsflow run --once`` fetches that page alone,
and the store holds its second revision; a run after that fetches nothing.
On the embedded transport (each store engine) and on the real broker.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterator
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
    """Serves ``/feed.xml`` and ``/a/<n>.html`` from what it holds now; counts requests."""

    def __init__(self) -> None:
        self.pages = {f"/a/{n}.html": page.html for n, page in enumerate(PAGES)}
        self.updated = {path: f"2026-01-0{n + 1}T08:00:00Z" for n, path in enumerate(self.pages)}
        self.requests: Counter[str] = Counter()
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                publisher.requests[self.path] += 1
                if self.path == "/feed.xml":
                    send_body(self, publisher.feed(), "application/atom+xml")
                else:
                    send_body(self, publisher.pages[self.path].encode(), "text/html")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def feed(self) -> bytes:
        entries = "".join(
            f"<entry><id>{self.base}{path}</id><title>{page.title}</title>"
            f'<link href="{self.base}{path}"/><published>2026-01-01T08:00:00Z</published>'
            f"<updated>{self.updated[path]}</updated></entry>"
            for path, page in zip(self.pages, PAGES, strict=True)
        )
        return f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'.encode()

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


def test_an_article_listed_as_updated_whose_page_is_unchanged_is_not_counted_as_stored(
    publisher: Publisher, store_url: str, tmp_path: Path
) -> None:
    """The feed bumps ``<updated>`` but the page says what it said: it is fetched again,
    the store finds nothing to change, and the summary must not say it stored it."""
    config = embedded_config(publisher, store_url, tmp_path)
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


def embedded_config(publisher: Publisher, store_url: str, tmp_path: Path) -> Path:
    raw = local_settings(publisher) | {"storage": {"url": store_url}}
    config = tmp_path / "newsflow.yaml"
    config.write_text(yaml.safe_dump(parse_config(raw, base=ROOT).model_dump(mode="json")))
    return config


def local_settings(publisher: Publisher) -> dict[str, Any]:
    return {
        "feeds": [{"name": "desk", "url": f"{publisher.base}/feed.xml"}],
        "extract": {"workers": 1},
        "fetch": {"allow_private_networks": True, "respect_robots": False,
                  "min_host_interval": 0},
        "service": {"http_enabled": False},
    }  # fmt: skip


def test_a_corrected_article_is_fetched_again_and_stored_as_its_next_revision(
    publisher: Publisher, store_url: str, tmp_path: Path
) -> None:
    correction_is_stored_once(publisher, embedded_config(publisher, store_url, tmp_path), store_url)


@pytest.mark.kafka
@pytest.mark.slow
def test_on_kafka_a_corrected_article_is_stored_as_its_next_revision(
    publisher: Publisher, kafka_env: KafkaEnv
) -> None:
    for section, values in local_settings(publisher).items():
        kafka_env.configure(**{section: values})
    correction_is_stored_once(publisher, kafka_env.config_file(), kafka_env.config.storage.url)
