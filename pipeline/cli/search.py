"""``newsflow search "QUERY"``: full-text search over the stored articles.

The query is plain words (every word must match); quotes, operators and SQL
are just text. Filters narrow the result::

    newsflow search "energy prices" --topic economy --since 2024-05-01
    newsflow search "" --entity Iran --format jsonl --limit 100
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from connectors.storage.search import MAX_LIMIT, SearchHit, SearchQuery, parse_since
from connectors.storage.store import open_store
from pipeline.cli.common import config_from, existing_store_url
from pipeline.errors import one_line


def register(sub: Any) -> None:
    parser = sub.add_parser("search")
    parser.add_argument("query", help='words to find, e.g. "Iran Russia" ("" with a filter: all)')
    parser.add_argument("--topic", help="only articles tagged with this topic")
    parser.add_argument("--entity", help="only articles mentioning this entity (e.g. Iran)")
    parser.add_argument("--since", help="only articles published on or after DATE (2024-05-01)")
    parser.add_argument("--limit", type=int, default=20, help=f"at most N hits (1-{MAX_LIMIT})")
    parser.add_argument("--format", choices=["text", "jsonl"], default="text")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    query = SearchQuery(
        text=args.query,
        topic=args.topic,
        entity=args.entity,
        since=parse_since(args.since) if args.since else None,
        limit=args.limit,
    )
    config = config_from(args)
    with open_store(existing_store_url(config), access="read") as store:
        hits = store.search.search(query)
    for hit in hits:
        print(format_hit(hit, args.format))
    if not hits:
        print("newsflow: no matching articles", file=sys.stderr)
    return 0


def format_hit(hit: SearchHit, fmt: str) -> str:
    """One hit as a line: the article's JSON (plus ``score``), or date, id, source and title."""
    article = hit.article
    if fmt == "jsonl":
        document = json.loads(article.model_dump_json())
        document["score"] = round(hit.score, 6)
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    day = article.published_at.date().isoformat() if article.published_at else "----------"
    return f"{day}  {article.id}  {one_line(article.source)}  {one_line(article.title or '-')}"
