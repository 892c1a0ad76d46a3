"""Keys past PostgreSQL's index entry limit (2,704 bytes), through the real stages, on both
engines: a long URL made every write of its transaction fail, on PostgreSQL only (the
dedup index, the dead letter that should have kept it), and so did a long paragraph (learned
boilerplate). A long entity name: ``test_storage_articles``."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from local_http import send_body, serving

from corpus import generate_site_pages
from pipeline.models import FeedEntry
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources

PAGE = generate_site_pages(n_sites=1, pages_per_site=1, seed=5)[0]
RANDOM = random.Random(3)
LONG = "/story/" + "".join(RANDOM.choices(string.ascii_lowercase + string.digits, k=6000))
"""Random, as real long URLs are: PostgreSQL compresses a repetitive key under its limit."""


class Site:
    """Serves ``html`` at every path but those ending in ``gone`` (404)."""

    def __init__(self) -> None:
        self.html = PAGE.html
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("gone"):
                    self.send_error(404)
                else:
                    send_body(self, site.html.encode(), "text/html; charset=utf-8")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    with serving(served.server):
        yield served


def run(resources: Resources, site: Site, path: str) -> RunSummary:
    summary = RunSummary()
    pipeline = EmbeddedPipeline(resources.config, resources)
    try:
        entry = FeedEntry(feed="f", feed_kind="rss", url=site.base + path)
        assert pipeline.process([entry], summary)
    finally:
        pipeline.close()
    return summary


def test_a_page_at_a_6000_character_url_is_stored_once(resources: Resources, site: Site) -> None:
    site.html = re.sub(r'<link rel="canonical"[^>]*>', "", PAGE.html)  # the long URL is its key
    first = run(resources, site, LONG)
    again = run(resources, site, LONG)

    assert (first.articles, first.failures) == (1, 0)
    assert again.failures == 0
    assert resources.articles.count() == 1


def test_a_missing_page_at_a_6000_character_url_is_one_dead_letter(
    resources: Resources, site: Site
) -> None:
    run(resources, site, LONG + "gone")
    run(resources, site, LONG + "gone")

    [letter_id] = resources.dead_letters.ids()
    letter = resources.dead_letters.get(letter_id)
    assert letter is not None and (letter.reason, letter.attempts) == ("http_404", 2)


def test_a_6000_character_paragraph_is_counted_as_a_line(resources: Resources, site: Site) -> None:
    words = [
        "".join(RANDOM.choices(string.ascii_lowercase, k=RANDOM.randint(2, 9))) for _ in range(900)
    ]
    paragraph = "Every word of this long paragraph is different " + " ".join(words) + "."
    first = f"<p>{escape(PAGE.paragraphs[1])}"
    assert first in PAGE.html
    site.html = PAGE.html.replace(first, f"<p>{paragraph}</p>{first}", 1)

    summary = run(resources, site, "/story/long-paragraph")

    assert (summary.articles, summary.failures) == (1, 0)
    keys = resources.store.db.execute("SELECT line_key FROM residue_lines")
    assert max(len(str(row[0]).encode()) for row in keys) <= 1000
    assert any(str(row[0]).startswith("every word of this") for row in keys)
