"""Memory and CPU of reading one huge sitemap, beside the whole-tree parse as baseline.

A sitemap may hold 50,000 URLs and 50 MB by the protocol, and a hostile one
more; newsflow keeps only the newest ``max_entries`` of them. The baseline is
what the sitemap reader did before it streamed: ``etree.fromstring`` of the
whole document, then every ``<url>`` into the entry builder, which held every
entry until the end. Each variant
runs in its own process on the same generated document (400,000 URLs, about
45 MB), so its peak RSS is its own::

    python -m bench.sitemap_memory [--urls 400000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("streamed", "whole-tree")


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
    if variant == "streamed":
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
    parser.add_argument("--measure", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.path)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sitemap.xml"
        write_sitemap(path, args.urls)
        size = path.stat().st_size / 1e6
        print(f"one sitemap of {args.urls:,} URLs ({size:.1f} MB), newest 2,000 kept")
        print(f"  {'variant':<28}{'CPU s':>8}{'peak RSS +MB':>14}{'entries':>9}")
        for variant in VARIANTS:
            out = subprocess.run(
                [sys.executable, "-m", "bench.sitemap_memory", "--measure", variant,
                 "--path", str(path)],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            label = "streamed (newsflow)" if variant == "streamed" else "whole tree (baseline)"
            print(f"  {label:<28}{out[0]:>8}{out[1]:>14}{out[2]:>9}")


if __name__ == "__main__":
    main()
