"""A page reached through a redirect is stored under the same clean URL as a direct link.

A real HTTP server on 127.0.0.1 serves an article at ``/a/44.html`` and a redirect
(302) to it with ``utm_source`` and a fragment; one feed lists the redirect, another
the article itself: one stored article, listing both feeds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from local_http import send_body, serving

from corpus import generate_site_pages
from pipeline.models import FeedEntry
from pipeline.runtime.embedded import EmbeddedPipeline
from pipeline.runtime.summary import RunSummary
from pipeline.runtime.wiring import Resources

PAGE = generate_site_pages(n_sites=1, pages_per_site=1, seed=7)[0]
HTML = re.sub(r'<link rel="canonical"[^>]*>', "", PAGE.html)
"""No canonical link: the URL the page was fetched at is its identity."""


class RedirectingSite:
    """``/redirect?to=URL`` answers 302 to ``URL``; any other path serves the article."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", parse_qs(parts.query)["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    send_body(self, HTML.encode(), "text/html; charset=utf-8")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def site() -> Iterator[RedirectingSite]:
    served = RedirectingSite()
    with serving(served.server):
        yield served


def test_a_redirect_to_a_tracking_url_and_a_direct_link_are_one_article(
    resources: Resources, site: RedirectingSite
) -> None:
    article = f"{site.base}/a/44.html"
    target = f"{article}?utm_source=y%23top"  # the fragment, escaped inside ?to=
    pipeline = EmbeddedPipeline(resources.config, resources)
    summary = RunSummary()
    try:
        redirected = FeedEntry(
            feed="via-redirect", feed_kind="rss", url=f"{site.base}/redirect?to={target}"
        )
        direct = FeedEntry(feed="direct", feed_kind="rss", url=article)
        assert pipeline.process([redirected], summary)
        assert pipeline.process([direct], summary)
    finally:
        pipeline.close()

    assert summary.failures == 0
    assert resources.articles.count() == 1
    [stored] = list(resources.articles.iter_all())
    assert stored.url == article
    assert sorted(stored.feeds) == ["direct", "via-redirect"]
