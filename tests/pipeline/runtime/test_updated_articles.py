"""An article the feed lists as updated is fetched again, and its correction stored.

A real HTTP server on 127.0.0.1 serves an Atom feed of two articles and their
pages, counting requests. The publisher then corrects one article and bumps
its ``<updated>``: the next run fetches that page alone, and the store holds
its second revision; a run after that fetches nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from local_http import ROOT, send_body, serving

from corpus import generate_site_pages
from pipeline.config import Config, parse_config
from pipeline.runtime.service import EmbeddedService
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources

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


def run_once(config: Config) -> tuple[RunSummary, Resources]:
    resources = Resources(config)
    service = EmbeddedService(config, resources)
    try:
        return service.run_once(), resources
    finally:
        service.close()


def test_a_corrected_article_is_fetched_again_and_stored_as_its_next_revision(
    publisher: Publisher, store_url: str
) -> None:
    config = parse_config(
        {
            "feeds": [{"name": "desk", "url": f"{publisher.base}/feed.xml"}],
            "storage": {"url": store_url},
            "extract": {"workers": 1},
            "fetch": {"allow_private_networks": True, "respect_robots": False,
                      "min_host_interval": 0},
        },
        base=ROOT,
    )  # fmt: skip
    first, resources = run_once(config)
    resources.close()
    assert (first.failures, publisher.requests["/a/0.html"]) == (0, 1)

    publisher.correct("/a/0.html", updated="2026-01-05T10:30:00Z")
    second, resources = run_once(config)
    try:
        ids = {article.url: article.id for article in resources.articles.iter_all()}
        corrected = resources.articles.revisions(ids[f"{publisher.base}/a/0.html"])
        untouched = resources.articles.revisions(ids[f"{publisher.base}/a/1.html"])
        stored = resources.articles.get(ids[f"{publisher.base}/a/0.html"])
    finally:
        resources.close()
    assert (second.failures, second.entries, second.updated_entries) == (0, 0, 1)
    assert "new entries:       0 (and 1 updated)" in second.render()
    assert (publisher.requests["/a/0.html"], publisher.requests["/a/1.html"]) == (2, 1)
    assert [r.revision for r in corrected] == [1, 2]
    assert CORRECTION not in corrected[0].text and CORRECTION in corrected[1].text
    assert stored is not None and (stored.revision, CORRECTION in stored.text) == (2, True)
    assert ([r.revision for r in untouched], len(ids)) == ([1], 2)

    run_once(config)[1].close()
    assert (publisher.requests["/a/0.html"], publisher.requests["/a/1.html"]) == (2, 1)
