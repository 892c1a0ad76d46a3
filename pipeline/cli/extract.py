"""``newsflow extract FILE...``: extract article pages on disk, print JSON.

One JSON object per file (a JSON line each when several files are given) with
the text, the metadata and every removed residue line with its reason::

    newsflow extract page.html --url https://example.com/news/1
    newsflow extract demo/sites/*/*.html --learned

A missing file or bytes that are not HTML get one line on stderr; the other
files are still processed, and the exit status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from connectors.http.charset import decode_page
from connectors.storage.db import Database
from connectors.storage.residue_stats import ResidueStatsRepository
from pipeline.cli.common import config_from, existing_store_url
from pipeline.config import ExtractConfig
from pipeline.errors import ExtractionError, InputError, excerpt
from pipeline.extraction import ExtractionResult, extract_article, load_rules, source_of
from pipeline.extraction.learned import LearnedBoilerplate
from pipeline.extraction.parse import check_html
from pipeline.extraction.rules import ResidueRules
from pipeline.models import carriable
from pipeline.urls import is_http_url


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "extract",
        description="Print one JSON object per file: title, text, authors, published_at, "
        "language, canonical_url, removed lines with their reasons, flags.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="HTML file(s)")
    parser.add_argument("--url", help="the page's URL (one FILE only; default: its file:// URI)")
    parser.add_argument(
        "--learned",
        action="store_true",
        help="also apply the boilerplate learned in the configured store (read-only)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.url and len(args.files) > 1:
        raise InputError("--url names the URL of one page; give exactly one FILE with it")
    if args.url and not is_http_url(args.url):
        raise InputError(f"--url {excerpt(args.url)!r} is not an http(s) URL with a valid host")
    config = config_from(args, missing_ok=not args.learned)  # --learned reads the store
    rules = load_rules(config.extract.residue_rules)
    repo = (
        ResidueStatsRepository(Database(existing_store_url(config), access="read"))
        if args.learned
        else None
    )
    failures = 0
    for name in args.files:
        try:
            result, url = _extract_file(
                Path(name),
                args.url,
                rules,
                repo,
                config.extract,
                max_bytes=config.fetch.max_body_bytes,
            )
        except (InputError, ExtractionError) as exc:
            problem = str(exc).removesuffix(f": {name}")  # the file is named once, up front
            print(f"newsflow: extract: {name}: {problem}", file=sys.stderr)
            failures += 1
            continue
        record = {"file": carriable(name), "url": url, **as_json(result)}
        indent = 2 if len(args.files) == 1 else None
        print(json.dumps(record, ensure_ascii=False, indent=indent), flush=True)
    return 1 if failures else 0


def _extract_file(
    path: Path,
    url: str | None,
    rules: ResidueRules,
    repo: ResidueStatsRepository | None,
    config: ExtractConfig,
    *,
    max_bytes: int,
) -> tuple[ExtractionResult, str]:
    content = _read(path, limit=max_bytes)
    page_url = url or path.resolve().as_uri()
    check_html(content, url=str(path))
    learned = _learned(repo, source_of(page_url), config)
    html = decode_page(content, max_bytes=max_bytes)
    result = extract_article(
        html, url=page_url, entry=None, rules=rules, learned=learned, config=config
    )
    return result, page_url


def _read(path: Path, *, limit: int) -> bytes:
    """The file's bytes, refused past ``limit`` (the service's cap on a fetched page), so a
    huge file or a device such as /dev/zero is not read into memory."""
    try:
        with path.open("rb") as handle:
            content = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError("no such file") from None
    except IsADirectoryError:
        raise InputError("is a directory, not an HTML file") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None
    if len(content) > limit:
        raise InputError(f"larger than fetch.max_body_bytes ({limit} bytes); not read")
    return content


def _learned(
    repo: ResidueStatsRepository | None, source: str, config: ExtractConfig
) -> LearnedBoilerplate | None:
    if repo is None or not source:
        return None
    return repo.learned(
        source, min_articles=config.learned_min_articles, min_share=config.learned_min_share
    )


def as_json(result: ExtractionResult) -> dict[str, Any]:
    """The printable fields of an extraction result."""
    return {
        "canonical_url": result.canonical_url,
        "title": result.title,
        "authors": result.authors,
        "published_at": result.published_at.isoformat() if result.published_at else None,
        "date_source": result.date_source,
        "language": result.language,
        "site_name": result.site_name,
        "top_image": result.top_image,
        "description": result.description,
        "text": result.text,
        "removed": [{"text": r.text, "reason": r.reason} for r in result.removed],
        "flags": result.flags,
    }
