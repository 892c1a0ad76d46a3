"""``newsflow cluster ID``: the articles of one story cluster, canonical first.

``ID`` is a cluster id or the id of any article in the cluster. Each line
shows whether the article is the canonical (``*``) or a duplicate (with the
score that confirmed it), its publication time, source, id, feeds and title::

    newsflow cluster 5c3946e0a1b2c3d4e5f6
    newsflow cluster 5c3946e0a1b2c3d4e5f6 --json     # one JSON document per line
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from connectors.storage.store import open_store
from pipeline.cli.common import config_from, existing_store_url
from pipeline.errors import InputError
from pipeline.models import EnrichedArticle


def register(sub: Any) -> None:
    parser = sub.add_parser("cluster")
    parser.add_argument("id", metavar="ID", help="a cluster id, or the id of one of its articles")
    parser.add_argument("--json", action="store_true", help="print each article as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_store(existing_store_url(config), access="read") as store:
        members = store.articles.cluster(args.id)
        if not members:
            article = store.articles.get(args.id)
            if article is not None and article.cluster_id:
                members = store.articles.cluster(article.cluster_id)
    if not members:
        raise InputError(f"no cluster and no clustered article with id {args.id!r}")
    members.sort(key=lambda a: a.duplicate_of is not None)  # stable: canonical, then by date
    if args.json:
        for article in members:
            sys.stdout.write(article.model_dump_json() + "\n")
    else:
        print_cluster(sys.stdout, members)
    return 0


def print_cluster(out: TextIO, members: list[EnrichedArticle]) -> None:
    """A header line, then one line per article."""
    canonical = [a.id for a in members if a.duplicate_of is None]
    out.write(
        f"cluster {members[0].cluster_id}: {len(members)} articles,"
        f" canonical {', '.join(canonical) or '(not stored)'}\n"
    )
    for article in members:
        mark = "*" if article.duplicate_of is None else f"~{article.similarity or 0:.2f}"
        published = article.published_at.isoformat() if article.published_at else "undated"
        feeds = json.dumps(article.feeds)
        out.write(
            f"{mark:>6} {published:<25} {article.source:<24} {article.id} {feeds}"
            f" {article.title or ''}\n"
        )
