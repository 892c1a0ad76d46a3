"""``newsflow dlq``: list dead letters and replay them once their cause is fixed.

A dead letter is a message a stage could not handle. On Kafka it is kept in
``news.dlq`` with its original bytes and headers saying where it came from and
why, or in ``news.retry`` while it waits for its time to be fetched again;
``replay`` sends the pending ones of both back to their source topic. Embedded it
is a row of the store; ``replay`` runs its message through the rest of the
pipeline here and stores it (:mod:`pipeline.runtime.replay`). ``drop``
discards letters whose cause will never be fixed. Either way only letters of
one stage, reason or age can be chosen (the others stay pending)::

    newsflow dlq list --reason undecodable
    newsflow dlq replay --stage extract
    newsflow dlq drop --reason http_404
    newsflow dlq drop --older-than 14
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any, TextIO

from connectors.kafka.dlq import DeadLetter, ReplayResult, letter_queues, pending_letters, replay
from connectors.storage import DeadLetter as StoredLetter
from connectors.storage import open_store
from pipeline.cli.common import config_from, counted, existing_store_url
from pipeline.config import Config
from pipeline.errors import InputError, one_line
from pipeline.models import utcnow
from pipeline.runtime.outcome import LetterFilter
from pipeline.topology import STAGES

PREVIEW_CHARS = 120
MAX_DAYS = 100 * 365


def register(sub: Any) -> None:
    parser = sub.add_parser("dlq")
    actions = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="print pending dead letters, one per line")
    _add_filters(listing)
    listing.add_argument(
        "--all", action="store_true", help="Kafka: include letters already replayed"
    )
    listing.add_argument(
        "--json", action="store_true", help="JSON Lines (Kafka: with every header)"
    )
    listing.set_defaults(handler=handle_list)
    again = actions.add_parser(
        "replay",
        help="send pending dead letters back to their source topic (embedded: through the"
        " pipeline to the store; exit 1 if some fail again)",
    )
    _add_filters(again)
    again.set_defaults(handler=handle_replay)
    drop = actions.add_parser(
        "drop",
        help="discard pending dead letters whose cause will not be fixed (pages gone for good)",
    )
    _add_filters(drop)
    drop.add_argument("--all", action="store_true", help="every pending letter (no filter)")
    drop.set_defaults(handler=handle_drop)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", choices=STAGES, help="only letters of this stage")
    parser.add_argument("--reason", help="only letters with this reason (undecodable, ...)")
    parser.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="only letters that last failed more than DAYS days ago (fractions allowed)",
    )


def _days(text: str) -> timedelta:
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not 0 < days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"a number of days above 0, at most {MAX_DAYS}: {text!r}")
    return timedelta(days=days)


def _letter_filter(args: argparse.Namespace) -> LetterFilter:
    older_than: timedelta | None = args.older_than
    return LetterFilter(
        stage=args.stage,
        reason=args.reason,
        failed_before=None if older_than is None else utcnow() - older_than,
    )


def handle_list(args: argparse.Namespace) -> int:
    config = config_from(args)
    letters = _letter_filter(args)
    if config.transport == "embedded":
        return list_stored(config, letters, as_json=args.json)
    count = 0
    for queue in letter_queues(config.kafka):
        for letter in pending_letters(config.kafka, queue, include_replayed=args.all):
            if letter.info is not None and not letters.matches(letter.info):
                continue
            if letter.info is None and letters != LetterFilter():
                continue
            write_letter(sys.stdout, letter, as_json=args.json)
            count += 1
    print(f"newsflow: {counted(count, 'dead letter')}", file=sys.stderr)
    return 0


def handle_replay(args: argparse.Namespace) -> int:
    config = config_from(args)
    letters = _letter_filter(args)
    if config.transport == "embedded":
        return replay_stored(config, letters)
    result = replay_queues(config, letters)
    print(
        f"newsflow: replayed {counted(result.replayed, 'dead letter')}; {result.kept} kept"
        + (f" ({result.invalid} without valid headers)" if result.invalid else ""),
        file=sys.stderr,
    )
    return 0


def handle_drop(args: argparse.Namespace) -> int:
    letters = _letter_filter(args)
    if letters == LetterFilter() and not args.all:
        raise InputError("say which letters to drop: --stage, --reason, --older-than, or --all")
    config = config_from(args)
    if config.transport == "embedded":
        url, migrate = existing_store_url(config), config.storage.migrate_on_start
        with open_store(url, access="write", migrate=migrate) as store:
            dropped = store.dead_letters.remove_matching(
                stage=letters.stage, reason=letters.reason, failed_before=letters.failed_before
            )
            kept = store.dead_letters.count()
    else:
        result = replay_queues(config, letters, drop=True)
        dropped, kept = result.dropped, result.kept
    print(f"newsflow: dropped {counted(dropped, 'dead letter')}; {kept} kept", file=sys.stderr)
    return 0


def replay_queues(config: Config, letters: LetterFilter, *, drop: bool = False) -> ReplayResult:
    """Kafka: replay (or drop) the matching letters of ``news.dlq`` and ``news.retry``; the
    waiting ones go back now, as a person asked, without waiting for their time."""
    result = ReplayResult()
    for queue in letter_queues(config.kafka):
        result += replay(config.kafka, letters, queue=queue, drop=drop)
    return result


def write_letter(out: TextIO, letter: DeadLetter, *, as_json: bool) -> None:
    info = letter.info
    if as_json:
        document: dict[str, Any] = {
            "topic": letter.topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "key": (letter.key or b"").decode("utf-8", errors="replace"),
            "headers": {n: v.decode("utf-8", errors="replace") for n, v in letter.headers},
            "value_bytes": len(letter.value),
        }
        out.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    where = letter.place
    if info is None:
        out.write(f"{where}  (not a dead letter: headers missing)\n")
        return
    error = one_line(info.error_message)[:PREVIEW_CHARS]
    retry = _next_try(info.retry_at)
    out.write(
        f"{where}  {info.source}"
        f"  {info.stage}  {info.reason}  x{info.attempts}{retry}  {info.error_class}: {error}\n"
    )


def list_stored(config: Config, letters: LetterFilter, *, as_json: bool) -> int:
    """The embedded transport's letters, from the store, oldest first."""
    count = 0
    with open_store(existing_store_url(config), access="read") as store:
        for letter_id in store.dead_letters.ids():
            letter = store.dead_letters.get(letter_id)
            if letter is None or not letters.matches(letter):
                continue
            write_stored_letter(sys.stdout, letter, as_json=as_json)
            count += 1
    print(f"newsflow: {counted(count, 'dead letter')}", file=sys.stderr)
    return 0


def replay_stored(config: Config, letters: LetterFilter) -> int:
    from pipeline.runtime.replay import replay_letters
    from pipeline.runtime.wiring import Resources

    existing_store_url(config)  # replaying into a store that is not there would make one
    resources = Resources(config, store_access="write")
    try:
        result = replay_letters(resources, letters)
    finally:
        resources.close()
    print(
        f"newsflow: replayed {counted(result.through + result.failed_again, 'dead letter')}:"
        f" {result.through} through, {result.failed_again} failed again; {result.kept} kept"
        + (f"; {result.elsewhere} settled by another replay" if result.elsewhere else ""),
        file=sys.stderr,
    )
    return 1 if result.failed_again else 0


def write_stored_letter(out: TextIO, letter: StoredLetter, *, as_json: bool) -> None:
    url = _url_of(letter.payload)
    if as_json:
        document = {
            "id": letter.id,
            "stage": letter.stage,
            "topic": letter.topic,
            "reason": letter.reason,
            "error_class": letter.error_class,
            "error": letter.error,
            "url": url,
            "attempts": letter.attempts,
            "first_failed_at": letter.created_at,
            "last_failed_at": letter.last_failed_at,
            "retry_at": letter.retry_at,
            "payload_bytes": len(letter.payload.encode("utf-8")),
        }
        out.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    error = one_line(letter.error)[:PREVIEW_CHARS]
    where = one_line(url or "-")
    retry = _next_try(letter.retry_at)
    out.write(
        f"#{letter.id}  {letter.stage}  {letter.reason}  x{letter.attempts}{retry}  {where}"
        f"  {letter.error_class}: {error}\n"
    )


def _next_try(retry_at: str | None) -> str:
    """When the service tries a letter again, to the second, for a listing line."""
    return f"  retry {retry_at[:19]}Z" if retry_at else ""


def _url_of(payload: str) -> str | None:
    """The failed message's URL (every message names one), for the listing."""
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    url = document.get("url") if isinstance(document, dict) else None
    return url if isinstance(url, str) else None
