"""``newsflow feeds check``: try every configured feed once and print a table.

Nothing is written: no feed state, no articles. Each feed is fetched without
validators and parsed; a broken feed shows its error in its row and the
others carry on. Exit status 1 when any feed failed::

    $ newsflow feeds check
    NAME      STATUS  KIND     ENTRIES  LAST MODIFIED                  ERROR
    example   ok      rss      25       Wed, 01 May 2024 10:00:00 GMT
    broken    error   -        0        -                              http_404: ...
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from connectors.http import build_fetcher
from pipeline.cli.common import config_from
from pipeline.config import Config, FeedConfig
from pipeline.errors import InputError
from pipeline.polling.poller import FeedPoller, PollResult

CHECK_THREADS = 8
ERROR_CHARS = 160


@dataclass(frozen=True)
class CheckRow:
    name: str
    status: str
    kind: str
    entries: int
    last_modified: str
    error: str


def register(sub: Any) -> None:
    parser = sub.add_parser("feeds")
    feeds_sub = parser.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)
    check = feeds_sub.add_parser("check", help="try every configured feed once; writes nothing")
    check.add_argument(
        "--feed", action="append", metavar="NAME", help="check only this feed (repeatable)"
    )
    check.set_defaults(handler=handle_check)


def handle_check(args: argparse.Namespace) -> int:
    config = config_from(args)
    feeds = _selected(config, args.feed)
    rows = check_feeds(config, feeds)
    print_table(rows, sys.stdout)
    return 1 if any(r.status == "error" for r in rows) else 0


def check_feeds(config: Config, feeds: Sequence[FeedConfig]) -> list[CheckRow]:
    """One row per feed, in configuration order; a failing feed never stops the others."""
    fetcher = build_fetcher(
        config.fetch,
        local_feeds=[f.url for f in feeds if f.is_local],
        max_feed_bytes=config.schedule.max_feed_bytes,
    )
    poller = FeedPoller(fetcher, None, config)
    try:
        with ThreadPoolExecutor(max(1, min(CHECK_THREADS, len(feeds)))) as pool:
            return list(pool.map(lambda feed: _check_one(poller, feed), feeds))
    finally:
        fetcher.close()


def _check_one(poller: FeedPoller, feed: FeedConfig) -> CheckRow:
    if not feed.enabled:
        return CheckRow(feed.name, "disabled", feed.kind, 0, "-", "")
    try:
        result = poller.check(feed)
    except Exception as exc:  # one feed's surprise must not hide the other rows
        return CheckRow(feed.name, "error", "-", 0, "-", f"internal: {type(exc).__name__}: {exc}")
    return _row(feed, result)


def _row(feed: FeedConfig, result: PollResult) -> CheckRow:
    error = ""
    if result.error is not None:
        error = f"{result.error.reason}: {result.error}"
    elif result.child_errors:
        error = f"{len(result.child_errors)} child sitemaps failed: {result.child_errors[0]}"
    return CheckRow(
        name=feed.name,
        status=result.status,
        kind=result.kind or "-",
        entries=len(result.entries) or result.total_entries,
        last_modified=result.last_modified or "-",
        error=_one_line(error),
    )


def print_table(rows: Sequence[CheckRow], out: TextIO) -> None:
    header = ("NAME", "STATUS", "KIND", "ENTRIES", "LAST MODIFIED", "ERROR")
    cells = [header] + [
        (r.name, r.status, r.kind, str(r.entries), r.last_modified, r.error) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
    for line in cells:
        padded = [value.ljust(width) for value, width in zip(line[:-1], widths, strict=True)]
        out.write("  ".join([*padded, line[-1]]).rstrip() + "\n")
    failed = sum(r.status == "error" for r in rows)
    out.write(f"\n{len(rows)} feeds checked, {failed} failed\n")


def _selected(config: Config, names: list[str] | None) -> list[FeedConfig]:
    if not names:
        return list(config.feeds)
    unknown = [n for n in names if config.feed(n) is None]
    if unknown:
        raise InputError(f"no configured feed named {', '.join(map(repr, unknown))}")
    return [f for f in config.feeds if f.name in names]


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= ERROR_CHARS else flat[: ERROR_CHARS - 3] + "..."
