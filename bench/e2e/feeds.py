"""Feed documents for the served corpus: RSS 2.0, Atom 1.0 and JSON Feed 1.1.

URLs in a feed carry the server's port, so documents are rendered when the
server starts (:func:`render_feed`). :func:`poll_feed` renders the small
feeds of the polling benchmark, whose content changes with their generation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from bench.e2e.corpus import FeedRecord, Manifest

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "jsonfeed": "application/feed+json; charset=utf-8",
}


def render_feed(manifest: Manifest, feed: FeedRecord, port: int) -> bytes:
    """The document of ``feed``, newest entry first, linking pages on ``port``."""
    items = [
        {
            "url": manifest.page_url(i, port),
            "title": manifest.pages[i].title,
            "published": datetime.fromisoformat(manifest.pages[i].published_at),
            "authors": manifest.pages[i].authors,
        }
        for i in reversed(feed.pages)
    ]
    title = manifest.site_names[feed.site]
    home = f"http://{manifest.site_host(feed.site)}:{port}/"
    return RENDERERS[feed.kind](title, home, manifest.feed_url(feed, port), items)


def poll_feed(number: int, generation: int, base: str, *, items: int = 20) -> bytes:
    """Feed ``number`` of the polling benchmark at ``generation`` (one new item per generation)."""
    start = datetime(2024, 5, 1, tzinfo=UTC)
    entries = [
        {
            "url": f"{base}/poll/{number}/story-{g}",
            "title": f"Story {g} of desk {number}",
            "published": start + timedelta(minutes=g),
            "authors": [f"Desk {number % 97}"],
        }
        for g in range(generation + items, generation, -1)
    ]
    return _rss(f"Desk {number}", f"{base}/poll/{number}/", f"{base}/poll/{number}.xml", entries)


def _rss(title: str, home: str, self_url: str, items: list[dict]) -> bytes:
    body = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['url'])}</link>"
        f'<guid isPermaLink="true">{escape(i["url"])}</guid>'
        f"<pubDate>{format_datetime(i['published'])}</pubDate>"
        f"<author>desk@example.org ({escape(', '.join(i['authors']))})</author>"
        f"<description>{escape(i['title'])}: the full story.</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(home)}</link>"
        f"<description>{escape(title)}</description>{body}</channel></rss>"
    ).encode()


def _atom(title: str, home: str, self_url: str, items: list[dict]) -> bytes:
    body = "".join(
        f"<entry><title>{escape(i['title'])}</title>"
        f'<link rel="alternate" href="{escape(i["url"])}"/><id>{escape(i["url"])}</id>'
        f"<updated>{i['published'].isoformat()}</updated>"
        f"<published>{i['published'].isoformat()}</published>"
        + "".join(f"<author><name>{escape(a)}</name></author>" for a in i["authors"])
        + f"<summary>{escape(i['title'])}: the full story.</summary></entry>"
        for i in items
    )
    updated = items[0]["published"].isoformat() if items else "2024-01-01T00:00:00+00:00"
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>{escape(title)}</title><link rel="self" href="{escape(self_url)}"/>'
        f"<id>{escape(self_url)}</id><updated>{updated}</updated>{body}</feed>"
    ).encode()


def _jsonfeed(title: str, home: str, self_url: str, items: list[dict]) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": home,
        "feed_url": self_url,
        "items": [
            {
                "id": i["url"],
                "url": i["url"],
                "title": i["title"],
                "summary": f"{i['title']}: the full story.",
                "date_published": i["published"].isoformat(),
                "authors": [{"name": a} for a in i["authors"]],
            }
            for i in items
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


RENDERERS = {"rss": _rss, "atom": _atom, "jsonfeed": _jsonfeed}
