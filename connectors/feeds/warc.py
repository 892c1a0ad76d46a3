"""WARC backfills: every archived HTML page becomes a :class:`FeedEntry` carrying its body.

A WARC (``.warc`` or ``.warc.gz``; e.g. Common Crawl's CC-NEWS) already holds
the pages, so entries carry ``body`` and extraction needs no fetch::

    for entry in iter_warc_entries("/data/CC-NEWS-2024*.warc.gz", feed):
        pipeline.handle(entry)

Only ``response`` records with HTTP status 200, an HTML content type and an
http(s) target URI become entries; the rest are skipped and counted in
``newsflow_warc_records_skipped_total`` by reason. A corrupt file stops only
itself: the other files are read, and then one :class:`FeedError` names the
files that failed.
"""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from prometheus_client import Counter
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader

from connectors.feeds.base import EntryBuilder, FeedLimits
from connectors.http.charset import charset_of, decode_page
from pipeline.config import FeedConfig
from pipeline.errors import FeedError, one_line
from pipeline.models import FeedEntry

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 15 * 1024 * 1024
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
WARC_SUFFIXES = (".warc", ".warc.gz")

RECORDS = Counter("newsflow_warc_records_total", "WARC records turned into entries.", ["feed"])
UNREADABLE = Counter(
    "newsflow_warc_files_unreadable_total",
    "WARC files that could not be read to their end (damaged, or not WARC at all).",
    ["feed"],
)
SKIPPED = Counter(
    "newsflow_warc_records_skipped_total", "WARC records not turned into entries.", ["reason"]
)

_UNREADABLE = (ArchiveLoadFailed, OSError, EOFError, ValueError)
_UNKNOWN_FORMAT = re.compile(
    r"(?:Unknown archive format|Invalid ARC record), first line: .*?(?=(?: after \d+ records)?$)",
    re.DOTALL,
)
"""warcio's message quotes the first line it met: kilobytes of binary in a damaged file."""


class DamagedRecord(ValueError):
    """warcio failed inside its own code on a record (its own bug, met on damaged input)."""


_WARCIO_BUGS = (AttributeError, OverflowError, TypeError, IndexError, KeyError)
"""What warcio raised on damaged records: a response record without a WARC-Target-URI
(AttributeError on None), a Content-Length past what an index holds (OverflowError)."""


class _Archive(ArchiveIterator):
    """warcio's iterator, without its raw multi-line WARNING on stderr for a record not
    followed by a blank line (a wrong ``Content-Length``): :func:`_note_misaligned` logs
    it as one line instead (warcio still counts them in ``err_count``).

    Its own failures on a damaged record are :class:`DamagedRecord`: the file is
    unreadable from there, as for any damage, instead of an internal error that lost
    the rest of the backfill.
    """

    INC_RECORD = ""

    def _iterate_records(self) -> Iterator[Any]:
        records = super()._iterate_records()
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except _WARCIO_BUGS as exc:
                raise DamagedRecord(
                    f"a damaged record warcio cannot read ({type(exc).__name__}: {exc})"
                ) from None
            yield record


def _note_misaligned(archive: _Archive, path: Path, feed: FeedConfig) -> None:
    if archive.err_count:
        log.warning(
            "feed %s: %d records of WARC file %s are not where their predecessor's"
            " Content-Length says; records may have been merged or lost",
            feed.name, archive.err_count, path.name,
            extra={"feed": feed.name, "reason": "bad_warc"},
        )  # fmt: skip


def is_warc_feed(feed: FeedConfig) -> bool:
    """True for a feed read with :func:`iter_warc_entries` rather than polled."""
    return feed.kind == "warc" or (feed.is_local and feed.url.lower().endswith(WARC_SUFFIXES))


def warc_paths(path_or_glob: str) -> list[Path]:
    """The files a configured WARC ``url`` names (a path or a glob), sorted."""
    if glob.has_magic(path_or_glob):
        return [Path(p) for p in sorted(glob.glob(path_or_glob, recursive=True))]
    return [Path(path_or_glob)]


def iter_warc_entries(
    path_or_glob: str, feed: FeedConfig, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> Iterator[FeedEntry]:
    """Entries for every HTML page archived in the WARC file(s), with ``body`` set."""
    paths = warc_paths(path_or_glob)
    if not paths:
        raise FeedError(f"no WARC files match {path_or_glob}", feed=feed.name, reason="no_files")
    failures: list[str] = []
    for path in paths:
        try:
            yield from _file_entries(path, feed, max_body_bytes)
        except _UNREADABLE as exc:
            problem = _problem(path, str(exc), feed)
            log.warning("feed %s: %s", feed.name, problem)
            failures.append(problem.removeprefix("cannot read WARC file "))
    if failures:
        raise FeedError(
            f"{len(failures)} of {len(paths)} WARC files unreadable: {'; '.join(failures)[:500]}",
            feed=feed.name,
            reason="bad_warc",
        )


@dataclass(frozen=True)
class WarcBatch:
    """Up to ``limit`` entries of one WARC file, and where the next batch starts."""

    entries: list[FeedEntry]
    next_offset: int
    finished: bool
    error: str | None = None
    """Why the file could not be read to its end (the entries before that are kept)."""


def read_warc_batch(
    path: Path,
    feed: FeedConfig,
    *,
    start_offset: int = 0,
    limit: int,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> WarcBatch:
    """Entries from the record at byte ``start_offset`` on, stopping after ``limit`` entries.

    Offsets are record boundaries (each record of a ``.warc.gz`` is its own gzip
    member), so a backfill can resume where the previous batch ended. A file
    that cannot be read to its end (corrupt, a lying ``Content-Length``, not a
    WARC at all) ends the batch with ``error`` set and ``finished``: the
    entries read before the damage are kept, and the file is not read again.
    """
    entries: list[FeedEntry] = []
    records = _Counted()
    try:
        size = _nonempty_size(path)
        if limit <= 0 or start_offset >= size:
            return WarcBatch([], start_offset, start_offset >= size)
        with path.open("rb") as stream:
            stream.seek(start_offset)
            archive = _Archive(stream)
            try:
                for entry in _record_entries(records.count(archive), feed, max_body_bytes):
                    entries.append(entry)
                    if len(entries) >= limit:
                        next_offset = archive.get_record_offset() + archive.get_record_length()
                        return WarcBatch(entries, next_offset, next_offset >= size)
                _refuse_unread_tail(archive, stream, size)
            finally:
                _note_misaligned(archive, path, feed)
    except _UNREADABLE as exc:
        where = f" after {records.seen} records" if records.seen else ""
        return WarcBatch(entries, start_offset, True, _problem(path, f"{exc}{where}", feed))
    if records.seen == 0 and start_offset == 0:
        problem = _problem(path, "no WARC records in it (not a WARC file?)", feed)
        return WarcBatch([], size, True, problem)
    return WarcBatch(entries, size, True)


class _Counted:
    """Counts the records an archive iterator yields."""

    def __init__(self) -> None:
        self.seen = 0

    def count(self, records: Iterator[Any]) -> Iterator[Any]:
        for record in records:
            self.seen += 1
            yield record


def _problem(path: Path, what: str, feed: FeedConfig) -> str:
    """One printable line (warcio quotes the bytes it choked on: binary, newlines)."""
    UNREADABLE.labels(feed.name).inc()
    what = _UNKNOWN_FORMAT.sub("not a WARC record (damaged, or another format)", what)
    return f"cannot read WARC file {path.name}: {one_line(what)[:300]}"


def _file_entries(path: Path, feed: FeedConfig, max_body_bytes: int) -> Iterator[FeedEntry]:
    size = _nonempty_size(path)
    with path.open("rb") as stream:
        archive = _Archive(stream)
        try:
            yield from _record_entries(archive, feed, max_body_bytes)
            _refuse_unread_tail(archive, stream, size)
        finally:
            _note_misaligned(archive, path, feed)


def _record_entries(
    records: ArchiveIterator, feed: FeedConfig, max_body_bytes: int
) -> Iterator[FeedEntry]:
    builder = EntryBuilder(feed, "warc", "", FeedLimits())
    for record in records:
        entry = _entry(record, feed, builder, max_body_bytes)
        if entry is not None:
            RECORDS.labels(feed.name).inc()
            yield entry


def _entry(
    record: Any, feed: FeedConfig, builder: EntryBuilder, max_body_bytes: int
) -> FeedEntry | None:
    reason = _skip_reason(record)
    url = None if reason else builder.resolve(record.rec_headers.get_header("WARC-Target-URI"))
    if reason or url is None:
        _refuse_cut_short(record)
        SKIPPED.labels(reason or "not_http").inc()
        return None
    raw = _read_capped(record.content_stream(), max_body_bytes)
    if raw is None:
        SKIPPED.labels("too_large").inc()
        return None
    _refuse_cut_short(record)
    return FeedEntry(
        feed=feed.name,
        feed_kind="warc",
        url=url,
        guid=record.rec_headers.get_header("WARC-Record-ID"),
        body=decode_page(raw, charset_of(record.http_headers.get_header("Content-Type"))),
    )


def _skip_reason(record: Any) -> str | None:
    if record.rec_type != "response" or record.http_headers is None:
        return "not_response"
    if record.http_headers.get_statuscode() != "200":
        return "status"
    content_type = (record.http_headers.get_header("Content-Type") or "").split(";")[0]
    if content_type.strip().lower() not in HTML_TYPES:
        return "content_type"
    return None


class RecordCutShort(EOFError):
    """The file ends inside a record: a download or copy cut short."""


class EmptyWarcFile(EOFError):
    """The file has no bytes at all: a download or copy that never got going."""


def _nonempty_size(path: Path) -> int:
    """The file's size; raise for a 0-byte file.

    warcio reads one as an archive of no records, without a word, so a backfill of
    empty files (a ``touch``, a transfer that failed before its first byte) passed as
    read, with no entry, no line and no count.
    """
    size = path.stat().st_size
    if size == 0:
        raise EmptyWarcFile("the file is empty (0 bytes): a download or copy that never started?")
    return size


def _refuse_cut_short(record: Any) -> None:
    """Raise when the file ends before the record's ``Content-Length``.

    warcio hands back what there is without a word, and a cut page would go
    on as an article (or an ``extract / empty`` dead letter), a cut record
    be skipped as "not a response". The rest of the record is read here, as
    warcio would read it to reach the next one.
    """
    raw = record.raw_stream
    declared = record.rec_headers.get_header("Content-Length")
    if not isinstance(raw, LimitReader):  # no usable Content-Length: where does it end?
        raise RecordCutShort(f"a record without a valid Content-Length ({declared!r}): cut short?")
    while raw.limit > 0 and raw.read(64 * 1024):
        pass
    if raw.limit > 0:
        raise RecordCutShort(
            f"the file ends {raw.limit} bytes before the end of a record"
            f" (Content-Length {declared}): cut short?"
        )


def _refuse_unread_tail(archive: ArchiveIterator, stream: BinaryIO, size: int) -> None:
    """Raise when warcio stopped before the end of the file.

    It stops without a word at a record whose headers are cut (a plain WARC)
    or whose gzip member is cut (``.warc.gz``): only what is left after the
    last whole record tells. Blank lines there are harmless.
    """
    end = archive.offset
    if end >= size:
        return
    stream.seek(end)
    if stream.read(64 * 1024).strip():
        raise RecordCutShort(f"{size - end} bytes after the last whole record: a record cut short?")


def _read_capped(stream: Any, cap: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
