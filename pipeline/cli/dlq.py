"""``newsflow dlq``: list dead letters on Kafka and replay them to their source topics.

A dead letter is a message a stage could not handle, kept in ``news.dlq``
with its original bytes and headers saying where it came from and why.
``list`` prints the pending ones (not yet replayed); ``replay`` sends them
back to their source topic once the cause is fixed, optionally only those of
one stage or reason (the others stay pending)::

    newsflow dlq list --reason undecodable
    newsflow dlq replay --stage extract
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from connectors.kafka.dlq import DeadLetter, LetterFilter, pending_letters, replay
from pipeline.cli.common import config_from

PREVIEW_CHARS = 120


def register(sub: Any) -> None:
    parser = sub.add_parser("dlq", help="list or replay dead letters (Kafka transport)")
    actions = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="print pending dead letters, one per line")
    _add_filters(listing)
    listing.add_argument("--all", action="store_true", help="include letters already replayed")
    listing.add_argument("--json", action="store_true", help="JSON Lines with every header")
    listing.set_defaults(handler=handle_list)
    again = actions.add_parser(
        "replay", help="send pending dead letters back to their source topic"
    )
    _add_filters(again)
    again.set_defaults(handler=handle_replay)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", help="only letters of this stage (fetch, extract, dedup, ...)")
    parser.add_argument("--reason", help="only letters with this reason (undecodable, ...)")


def handle_list(args: argparse.Namespace) -> int:
    config = config_from(args)
    letters = LetterFilter(stage=args.stage, reason=args.reason)
    count = 0
    for letter in pending_letters(config.kafka, include_replayed=args.all):
        if letter.info is not None and not letters.matches(letter.info):
            continue
        if letter.info is None and (args.stage or args.reason):
            continue
        write_letter(sys.stdout, letter, as_json=args.json)
        count += 1
    print(f"newsflow: {count} dead letters", file=sys.stderr)
    return 0


def handle_replay(args: argparse.Namespace) -> int:
    config = config_from(args)
    result = replay(config.kafka, LetterFilter(stage=args.stage, reason=args.reason))
    print(
        f"newsflow: replayed {result.replayed} dead letters; {result.kept} kept"
        + (f" ({result.invalid} without valid headers)" if result.invalid else ""),
        file=sys.stderr,
    )
    return 0


def write_letter(out: TextIO, letter: DeadLetter, *, as_json: bool) -> None:
    info = letter.info
    if as_json:
        document: dict[str, Any] = {
            "partition": letter.partition,
            "offset": letter.offset,
            "key": (letter.key or b"").decode("utf-8", errors="replace"),
            "headers": {n: v.decode("utf-8", errors="replace") for n, v in letter.headers},
            "value_bytes": len(letter.value),
        }
        out.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    where = f"[{letter.partition}]@{letter.offset}"
    if info is None:
        out.write(f"{where}  (not a dead letter: headers missing)\n")
        return
    error = " ".join(info.error_message.split())[:PREVIEW_CHARS]
    out.write(
        f"{where}  {info.source_topic}[{info.source_partition}]@{info.source_offset}"
        f"  {info.stage}  {info.reason}  {info.error_class}: {error}\n"
    )
