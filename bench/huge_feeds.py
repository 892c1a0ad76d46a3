"""Memory and CPU of reading one huge feed, beside how it was read before as baseline.

newsflow keeps only ``max_entries`` (2,000) entries of a feed document, but a
sitemap may hold 50,000 URLs and 50 MB by the protocol (a hostile one more),
and an RSS feed as many items as fit in ``fetch.max_body_bytes``:

- sitemap, 400,000 URLs (~44 MB): read as a stream (each ``<url>`` let go,
  the newest entries kept as it goes) vs the whole tree, with every entry held
  until the end (before);
- RSS, 100,000 items (~13 MB): cut after the 2,000th item before feedparser
  reads it vs feedparser reading every item (before).

Each variant runs in its own process on the same generated document, so its
peak RSS is its own::

    python -m bench.huge_feeds [--urls 400000] [--items 100000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("sitemap-streamed", "sitemap-whole-tree", "rss-cut", "rss-whole")
LABELS = {
    "sitemap-streamed": "sitemap streamed (newsflow)",
    "sitemap-whole-tree": "sitemap whole tree (before)",
    "rss-cut": "RSS cut at the cap (newsflow)",
    "rss-whole": "RSS read whole (before)",
}


def write_sitemap(path: Path, urls: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        )
        for i in range(urls):
            out.write(
                f"<url><loc>https://example.com/news/{i}/a-story-slug-of-some-length</loc>"
                f"<lastmod>2024-0{1 + i % 9}-1{i % 10}</lastmod></url>"
            )
        out.write("</urlset>")


def write_rss(path: Path, items: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>')
        for i in range(items):
            out.write(
                f"<item><title>Story {i}</title><link>https://example.com/s/{i}</link>"
                f"<description>Some text about story {i}.</description></item>"
            )
        out.write("</channel></rss>")


def measure(variant: str, path: Path) -> None:
    """In a child process: parse ``path`` one way; print CPU s and peak RSS growth (MB)."""
    from connectors.feeds import FeedLimits, parse_feed
    from connectors.feeds.base import EntryBuilder
    from connectors.feeds.sitemap import _add_url
    from pipeline.config import FeedConfig

    body = path.read_bytes()
    feed = FeedConfig(name="big", url="https://example.com/sitemap.xml")
    limits = FeedLimits(max_entries=2000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    if variant.startswith("rss"):
        from connectors.feeds import rss_atom

        if variant == "rss-whole":
            rss_atom._first_items = lambda body, limit: (body, 0)  # type: ignore[assignment]
        entries = len(parse_feed(body, feed=feed, base_url=feed.url, limits=limits).entries)
    elif variant == "sitemap-streamed":
        entries = len(parse_feed(body, feed=feed, base_url=feed.url, limits=limits).entries)
    else:
        from lxml import etree

        builder = EntryBuilder(feed, "sitemap", feed.url, limits, keep_order=False)
        prune = builder._keep_newest
        builder._keep_newest = lambda: None  # type: ignore[method-assign]  # held all until build
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        for url in root.iterfind("{*}url"):
            _add_url(builder, url)
        builder._keep_newest = prune  # type: ignore[method-assign]
        entries = len(builder.build().entries)
    cpu = time.process_time() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"{cpu:.2f} {grown:.0f} {entries}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--urls", type=int, default=400_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--measure", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.path)
        return
    with tempfile.TemporaryDirectory() as tmp:
        sitemap, rss = Path(tmp) / "sitemap.xml", Path(tmp) / "feed.xml"
        write_sitemap(sitemap, args.urls)
        write_rss(rss, args.items)
        print(
            f"one sitemap of {args.urls:,} URLs ({sitemap.stat().st_size / 1e6:.1f} MB), one RSS"
            f" feed of {args.items:,} items ({rss.stat().st_size / 1e6:.1f} MB); 2,000 kept"
        )
        print(f"  {'variant':<32}{'CPU s':>8}{'peak RSS +MB':>14}{'entries':>9}")
        for variant in VARIANTS:
            path = rss if variant.startswith("rss") else sitemap
            out = subprocess.run(
                [sys.executable, "-m", "bench.huge_feeds", "--measure", variant,
                 "--path", str(path)],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            print(f"  {LABELS[variant]:<32}{out[0]:>8}{out[1]:>14}{out[2]:>9}")


if __name__ == "__main__":
    main()
