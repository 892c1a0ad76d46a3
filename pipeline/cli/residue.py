"""``newsflow residue``: inspect and override the learned per-source boilerplate.

newsflow residue sources                      # every source with state
newsflow residue show example.com             # its most repeated lines
newsflow residue deny example.com "Titre Aval"   # always remove this line
newsflow residue allow example.com "Weekly Review"
newsflow residue clear example.com "Weekly Review"
"""

from __future__ import annotations

import argparse
from typing import Any

from connectors.storage.db import Database
from connectors.storage.residue_stats import ResidueStatsRepository, SourceReport
from pipeline.cli.common import config_from, counted, existing_store_url
from pipeline.errors import InputError
from pipeline.extraction import line_key, source_of
from pipeline.extraction.rules import normalise_domain


def register(sub: Any) -> None:
    parser = sub.add_parser("residue")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("sources", help="list the sources with learned state")
    show = actions.add_parser("show", help="print what was learned for SOURCE")
    show.add_argument("source", metavar="SOURCE", help="publisher domain (or a URL of it)")
    show.add_argument("--limit", type=int, default=50, help="lines to list (default 50)")
    for verdict, help_text in (
        ("allow", "never remove LINE for SOURCE"),
        ("deny", "always remove LINE for SOURCE"),
        ("clear", "drop the override of LINE for SOURCE"),
    ):
        action = actions.add_parser(verdict, help=help_text)
        action.add_argument("source", metavar="SOURCE")
        action.add_argument("line", metavar="LINE", help="the line, as it appears in the text")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_from(args)
    reads_only = args.action in ("sources", "show")
    db = Database(
        existing_store_url(config),
        access="read" if reads_only else "write",
        migrate=config.storage.migrate_on_start,
    )
    try:
        repo = ResidueStatsRepository(db)
        source = _source(getattr(args, "source", ""))
        if args.action == "sources":
            for name, articles in repo.sources():
                print(f"{name}\t{counted(articles, 'article')}")
        elif args.action == "show":
            report = repo.report(
                source,
                min_articles=config.extract.learned_min_articles,
                min_share=config.extract.learned_min_share,
                limit=args.limit,
            )
            print(render(report, window=config.extract.learned_window))
        elif args.action == "clear":
            found = repo.clear_override(source, _key(args.line))
            print(f"{'cleared' if found else 'no override for'}: {args.line!r} ({source})")
        else:
            repo.set_override(source, _key(args.line), args.line, args.action)
            print(f"{args.action}: {args.line!r} ({source})")
    finally:
        db.close()
    return 0


def render(report: SourceReport, *, window: int) -> str:
    """A readable report: counts, whether each line is template, overrides."""
    out = [
        f"source: {report.source}",
        f"articles in window: {report.articles} (window {window})",
        f"template threshold: a line in >= {report.threshold} distinct articles",
    ]
    if report.articles == 0:
        out.append("nothing learned yet for this source")
    if report.lines:
        out.append("")
        out.append("articles  verdict    line")
    for line in report.lines:
        verdict = "template" if line.articles >= report.threshold else "-"
        out.append(f"{line.articles:8d}  {verdict:<9}  {line.sample}")
    if report.overrides:
        out.append("")
        out.append("overrides:")
        out.extend(f"  {o.verdict:<5}  {o.sample}" for o in report.overrides)
    return "\n".join(out)


def _source(value: str) -> str:
    if "://" in value:
        return source_of(value)
    return normalise_domain(value)


def _key(line: str) -> str:
    key = line_key(line)
    if not key:
        raise InputError(f"the line {line!r} has no letters or digits to match on")
    return key
