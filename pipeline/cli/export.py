"""``newsflow export``: every stored article as JSON Lines, in id order.

The output is streamed (one page of rows in memory at a time) and is the same,
byte for byte, whichever engine holds the articles, so two stores can be
compared with ``cmp``::

    newsflow export > articles.jsonl
    newsflow export --output articles.jsonl
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from connectors.storage.store import open_store
from pipeline.cli.common import config_from
from pipeline.errors import InputError


def register(sub: Any) -> None:
    parser = sub.add_parser("export", help="print every stored article as JSON Lines")
    parser.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_from(args)
    with open_store(config.storage.url) as store:
        lines = store.articles.iter_json()
        if args.output:
            count = _write_file(Path(args.output), lines)
        else:
            count = write_lines(sys.stdout, lines)
    print(f"newsflow: exported {count} articles", file=sys.stderr)
    return 0


def write_lines(out: TextIO, lines: Iterable[str]) -> int:
    """Write one line per document; return how many were written."""
    count = 0
    for line in lines:
        out.write(line)
        out.write("\n")
        count += 1
    out.flush()
    return count


def _write_file(path: Path, lines: Iterable[str]) -> int:
    """Write through a temporary file so a failed export never leaves half a file behind."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            count = write_lines(out, lines)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return count
