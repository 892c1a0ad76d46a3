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
from pipeline.cli.common import config_from, existing_store_url
from pipeline.errors import InputError


def register(sub: Any) -> None:
    parser = sub.add_parser("export")
    parser.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    _check_output(args.output)
    config = config_from(args)
    with open_store(existing_store_url(config), access="read") as store:
        lines = store.articles.iter_json()
        if args.output is not None:
            count = _write_file(Path(args.output), lines)
        else:
            count = write_lines(sys.stdout, lines)
    print(f"newsflow: exported {count} articles", file=sys.stderr)
    return 0


def _check_output(output: str | None) -> None:
    """``--output ''`` (an unset variable in a script) wrote to stdout as if it were absent."""
    if output == "":
        raise InputError("--output is empty: give a file name, or leave it out for stdout")


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
    """Write FILE the way ``> FILE`` would, without ever leaving half a regular file.

    A symlink is followed, so the link stays and its target gets the export. An
    existing path that is not a regular file (``/dev/null``, a FIFO a reader waits
    on) is written in place: renaming a temporary file over it would replace the
    device or the pipe with a regular file.
    """
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise InputError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        if target.exists() and not target.is_file():
            return _write_in_place(target, lines)
        return _write_through_partial(target, lines)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_in_place(target: Path, lines: Iterable[str]) -> int:
    with target.open("w", encoding="utf-8", newline="\n") as out:
        return write_lines(out, lines)


def _write_through_partial(target: Path, lines: Iterable[str]) -> int:
    """A failed export leaves the previous file as it was, not half a new one."""
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            count = write_lines(out, lines)
        partial.replace(target)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    return count
