"""Time to read feeds whose short fields are over-long, beside the same feeds with
normal-length fields as baseline.

Over-long author, e-mail and date fields (over 1,000 characters) and hint fields
(title, link, GUID, category over 65,536) are emptied before the parser sees them
(:func:`connectors.feeds.base.cut_long_fields`); the entries are kept. Cases:

- RSS, ``--entries`` items each with an author of ``--field-bytes`` (1,000 x 1 MB:
  the feed was refused as field_too_long before);
- RSS, 1,000 items, one of them with a 50 MB author;
- RSS, 1,000 items whose authors are 40,000 characters split by ``<!-- -->`` into
  800-character runs (passed the old guard; feedparser's e-mail pattern then took
  ~17 s an entry);
- a news sitemap of 1,000 URLs, one with an 11 MB ``news:title`` (over lxml's 10 MB
  text node limit: its entry was lost before);
- RSS, ``--near-cap-entries`` items whose authors are just under the length cap but one
  run of e-mail characters (999 letters; ``a`` x 400, ``@``, ``a.`` x 299), emptied as
  costly to read (:data:`connectors.feeds.base.MAX_EMAIL_WORK`); and the costliest
  kept, 128 characters of the worst shape, at that cap;
- Atom, 200 entries of five authors with 980-letter names (each under the length cap);
- ordinary feeds of 200 items whose authors are as publishers write them (an e-mail and
  a name, a list of names, HTML links in CDATA; Atom name, e-mail and URI, 162
  characters an author), against ``NORMAL_AUTHOR`` (Atom: a name): nothing is cut.

The document size cap is raised to fit each document. Best of ``--repeat`` runs::

    python -m bench.long_fields [--entries 1000] [--field-bytes 1000000]
        [--near-cap-entries 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Iterator

from connectors.feeds import FeedLimits, parse_feed
from connectors.feeds.base import ParsedFeed
from pipeline.config import FeedConfig

FEED = FeedConfig(name="bench", url="https://example.com/feed")
NORMAL_AUTHOR = "jane.doe@example.com (Jane Doe)"
WORST_AUTHOR = "a" * 400 + "@" + "a." * 299
"""999 characters on which feedparser's e-mail pattern does the most work found (19 ms)."""
AT_WORK_CAP = "a" * 51 + "@" + "a." * 38
"""The same shape in 128 characters: as costly as an author may be and still be read."""

Case = Callable[[bool], bytes]
"""A document: with its over-long fields (True) or with normal ones (False)."""


def rss(authors: Iterator[str]) -> bytes:
    items = "".join(
        f"<item><title>Story {i}</title><link>https://example.com/s/{i}</link>"
        f"<author>{author}</author><description>About story {i}.</description></item>"
        for i, author in enumerate(authors)
    )
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def atom(entries: Iterator[str]) -> bytes:
    body = "".join(
        f"<entry><title>Story {i}</title><link href='https://example.com/s/{i}'/>"
        f"<id>https://example.com/s/{i}</id>{authors}</entry>"
        for i, authors in enumerate(entries)
    )
    return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{body}</feed>'.encode()


def long_authors(entries: int, field_bytes: int) -> Case:
    return lambda long: rss(
        ("a." * (field_bytes // 2) if long else NORMAL_AUTHOR) for _ in range(entries)
    )


def one_huge_author(long: bool) -> bytes:
    return rss(("a" * 50_000_000 if long and i == 500 else NORMAL_AUTHOR) for i in range(1000))


def comment_split_authors(long: bool) -> bytes:
    split = ("a." * 400 + "<!-- -->") * 50
    return rss((split if long else NORMAL_AUTHOR) for _ in range(1000))


def near_cap_authors(entries: int, author: str) -> Case:
    return lambda long: rss((author if long else NORMAL_AUTHOR) for _ in range(entries))


def atom_near_cap_names(long: bool) -> bytes:
    name = "a" * 980 if long else "Jane Doe"
    return atom(f"<author><name>{name}</name></author>" * 5 for _ in range(200))


ORDINARY_AUTHORS = (
    "desk@news.example (Desk)",
    "firstname.lastname@international-desk.example.co.uk (Firstname Lastname)",
    "<![CDATA[<a href='https://www.example.com/authors/jane-doe/'>Jane Doe</a> and"
    " <a href='https://www.example.com/authors/john-smith/'>John Smith</a>]]>",
    ", ".join(f"Reporter Number{i} in City{i}" for i in range(12)),
)
"""Authors as publishers write them: an e-mail and a name, HTML links, a list of names."""

ORDINARY_ATOM_AUTHOR = (
    "<author><name>Jane Doe</name><email>jane.doe@news.example.com</email>"
    "<uri>https://www.example.com/people/jane-doe-senior-correspondent-middle-east/</uri>"
    "</author>"
)


def ordinary_rss(long: bool) -> bytes:
    return rss(
        (ORDINARY_AUTHORS[i % len(ORDINARY_AUTHORS)] if long else NORMAL_AUTHOR) for i in range(200)
    )


def ordinary_atom(long: bool) -> bytes:
    author = ORDINARY_ATOM_AUTHOR if long else "<author><name>Jane Doe</name></author>"
    return atom(author * 2 for _ in range(200))


def sitemap_long_title(long: bool) -> bytes:
    urls = "".join(
        f"<url><loc>https://example.com/n/{i}</loc><news:news><news:title>"
        f"{'x' * 11_000_000 if long and i == 500 else f'Story {i}'}</news:title>"
        "</news:news></url>"
        for i in range(1000)
    )
    return (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        f' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>'
    ).encode()


def best_of(repeat: int, body: bytes) -> tuple[float, ParsedFeed]:
    limits = FeedLimits(max_bytes=len(body) + 1)
    best, parsed = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        parsed = parse_feed(body, feed=FEED, base_url=FEED.url, limits=limits)
        best = min(best, time.perf_counter() - started)
    assert parsed is not None
    return best, parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--field-bytes", type=int, default=1_000_000)
    parser.add_argument("--near-cap-entries", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="run only the cases whose name holds this text")
    args = parser.parse_args()
    near = args.near_cap_entries
    logging.getLogger("connectors.feeds.parse").setLevel(logging.ERROR)  # one line a parse
    cases: dict[str, Case] = {
        f"RSS, {args.entries:,} x {args.field_bytes / 1e6:g} MB authors": long_authors(
            args.entries, args.field_bytes
        ),
        "RSS, 1,000 items, one 50 MB author": one_huge_author,
        "RSS, 1,000 x 40,000-char authors split by comments": comment_split_authors,
        "sitemap, 1,000 URLs, one 11 MB news:title": sitemap_long_title,
        f"RSS, {near:,} near-cap authors: 999 letters": near_cap_authors(near, "a" * 999),
        f"RSS, {near:,} near-cap authors: 999-char a@a.a.": near_cap_authors(near, WORST_AUTHOR),
        f"RSS, {near:,} authors at the work cap: 128-char a@a.a.": near_cap_authors(
            near, AT_WORK_CAP
        ),
        "Atom, 200 x 5 near-cap authors: 980-letter names": atom_near_cap_names,
        "ordinary RSS, 200 items, authors as written": ordinary_rss,
        "ordinary Atom, 200 entries x 2 authors of 162 chars": ordinary_atom,
    }
    print(f"best of {args.repeat}; baseline: the same document with normal-length fields")
    print(f"  {'case':<52}{'MB':>8}{'s':>8}{'base s':>8}{'entries':>11}{'cut':>6}")
    for name, case in cases.items():
        if args.only and args.only.lower() not in name.lower():
            continue
        body = case(True)
        size = len(body) / 1e6
        seconds, parsed = best_of(args.repeat, body)
        del body
        base_seconds, base = best_of(args.repeat, case(False))
        kept = f"{len(parsed.entries)}/{len(base.entries)}"
        print(f"  {name:<52}{size:>8.1f}{seconds:>8.2f}{base_seconds:>8.3f}{kept:>11}"
              f"{parsed.fields_cut:>6}")  # fmt: skip


if __name__ == "__main__":
    main()
