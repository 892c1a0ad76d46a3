"""The naive peer: the script a user writes instead of running a pipeline.

Sequential on purpose, as such scripts are: for each feed, fetch it
(urllib3, one pooled client), parse it with feedparser (JSON Feed with
``json``: feedparser does not read it), and for each entry
fetch the page, extract it with trafilatura (the same call and options
newsflow uses, so only the plumbing differs) and save it to SQLite
(committed once per feed). No robots.txt, no politeness, no dedup, no tags.
Prints one JSON line::

    python -m bench.e2e.naive --feeds feeds.txt --db /tmp/naive.db
    {"articles": 2000, "failed": 0, "seconds": 95.3}
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import feedparser
import urllib3
from trafilatura import bare_extraction
from trafilatura.settings import Document

from pipeline.config import ExtractConfig
from pipeline.extraction.parse import trafilatura_options
from pipeline.models import utcnow

SCHEMA = """CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY, title TEXT, author TEXT, date TEXT, text TEXT, feed TEXT)"""


def feed_links(response: urllib3.BaseHTTPResponse) -> list[str]:
    """Article links of a feed: feedparser for RSS and Atom; it does not read JSON Feed."""
    if "json" in (response.headers.get("content-type") or ""):
        return [item["url"] for item in json.loads(response.data)["items"]]
    return [entry.link for entry in feedparser.parse(response.data).entries]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=Path, required=True, help="one feed URL per line")
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    http = urllib3.PoolManager(retries=False, timeout=30)
    options = trafilatura_options(ExtractConfig(), now=utcnow())
    db = sqlite3.connect(args.db)
    db.execute(SCHEMA)
    stored = failed = 0
    for feed_url in args.feeds.read_text(encoding="utf-8").split():
        for link in feed_links(http.request("GET", feed_url)):
            response = http.request("GET", link)
            document = bare_extraction(response.data.decode("utf-8"), url=link, **options)
            if response.status != 200 or not isinstance(document, Document) or not document.text:
                failed += 1
                continue
            db.execute(
                "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?)",
                (link, document.title, document.author, document.date, document.text, feed_url),
            )
            stored += 1
        db.commit()
    db.close()
    seconds = time.perf_counter() - started
    print(json.dumps({"articles": stored, "failed": failed, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
