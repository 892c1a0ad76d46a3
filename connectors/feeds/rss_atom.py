"""RSS 0.9x / 1.0 (RDF) / 2.0 and Atom, parsed by feedparser from bytes we fetched.

feedparser is handed a file object, never a string: given a string (or bytes)
it would try to open it as a URL or a local file name, so a body reading
``/etc/passwd`` would be read from disk. HTML sanitising and relative-URI
rewriting inside content are switched off (the pipeline extracts the article
itself; the summary is only a hint, reduced to plain text here). The body has
passed :func:`~connectors.feeds.base.guard_xml` first, and its over-long short
fields are emptied (:func:`~connectors.feeds.base.cut_long_fields`).

feedparser is lenient: a feed with an unescaped ``&`` still yields its
entries. A document it cannot read at all is a :class:`FeedError`.
"""

from __future__ import annotations

import calendar
import codecs
import io
import re
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from connectors.feeds.base import (
    EntryBuilder,
    FeedLimits,
    ParsedFeed,
    cut_long_fields,
    guard_xml,
    split_elements,
)
from connectors.http.charset import charset_of
from pipeline.config import FeedConfig
from pipeline.errors import FeedError, one_line
from pipeline.models import FeedKind

_SY_PERIOD_SECONDS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


def parse(
    body: bytes,
    *,
    feed: FeedConfig,
    base_url: str,
    limits: FeedLimits,
    content_type: str | None = None,
) -> ParsedFeed:
    """Entries of an RSS or Atom document."""
    guard_xml(body, feed=feed)
    body, beyond = _first_items(body, limits.max_entries)
    body, cut = cut_long_fields(body, limits)  # after the cap: items left out are not cut
    body = _readable_declaration(_possible_char_refs(body))
    result, unreadable = _read(body, base_url, _readable_content_type(content_type), feed)
    version = str(result.get("version") or "")
    entries = result.get("entries") or []
    if not version and not entries:
        raise _unreadable(result, feed)
    kind: FeedKind = "atom" if version.startswith("atom") else "rss"
    builder = EntryBuilder(feed, kind, base_url, limits)
    builder.fields_cut = cut
    for entry in entries:
        builder.add(
            _link(entry),
            guid=entry.get("id"),
            title=entry.get("title"),
            summary=entry.get("summary"),
            authors=_authors(entry),
            published_at=_published(entry),
            updated_at=_updated(entry),
        )
    if beyond:
        builder.dropped["over_cap"] += beyond
    if unreadable:
        builder.dropped["bad_item"] += unreadable
    channel = result.get("feed") or {}
    parsed = builder.build(ttl_seconds=_ttl(channel), title=channel.get("title"))
    if not parsed.entries and _broken_xml(result):
        raise _unreadable(result, feed)  # broken, and nothing could be recovered from it
    return parsed


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _possible_char_refs(body: bytes) -> bytes:
    """Numeric references to code points no text holds (surrogates, past U+10FFFF) as U+FFFD.

    feedparser's lenient parser turns ``&#xD800;`` into a character it cannot
    encode, and ``&#x110000;`` or ``&#99999999999;`` into ValueError and
    OverflowError: one bad title failed the whole document.
    """
    return _CHAR_REF.sub(_possible_char_ref, body) if b"&#" in body else body


def _possible_char_ref(match: re.Match[bytes]) -> bytes:
    hexadecimal, decimal = match.groups()
    digits = hexadecimal or decimal
    code = int(digits, 16 if hexadecimal else 10) if len(digits) <= 8 else -1
    possible = 0 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
    return match.group(0) if possible else b"&#xFFFD;"


_DECLARED_ENCODING = re.compile(rb"^<\?.*encoding=['\"](.*?)['\"].*\?>")
"""feedparser's own pattern for the declared encoding (first line, greedy)."""


def _readable_declaration(body: bytes) -> bytes:
    """The body with an unusable declared encoding name replaced by an unknown one.

    feedparser decodes the name it finds as UTF-8 without a guard: one byte such
    as ``encoding="utf\\xa1-8"`` raised UnicodeDecodeError and lost the whole
    feed; ``encoding="undefined"`` (a Python codec that always raises) lost it to
    UnicodeError. An unknown name is decoded anyway, as for any unknown encoding.
    """
    match = _DECLARED_ENCODING.match(body)
    if match is None or _usable_charset(match.group(1).decode("latin-1")):
        return body
    return body[: match.start(1)] + b"x-unusable" + body[match.end(1) :]


def _usable_charset(name: str) -> bool:
    """False for a name feedparser cannot be given: non-ASCII (no encoding has such a
    name), with a NUL, or Python's ``undefined`` codec; an unknown name is usable
    (tried, then passed over)."""
    if not name.isascii():
        return False
    try:
        return codecs.lookup(name).name != "undefined"
    except LookupError:
        return True
    except ValueError:  # a NUL in the name
        return False


def _readable_content_type(content_type: str | None) -> str | None:
    """``content_type`` without a ``charset`` feedparser cannot be given (see above)."""
    charset = charset_of(content_type)
    if content_type is None or charset is None or _usable_charset(charset):
        return content_type
    return content_type.split(";", 1)[0]


_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.IGNORECASE)


def _first_items(body: bytes, limit: int) -> tuple[bytes, int]:
    """The document cut after its ``limit``-th item, and how many items were cut off.

    Only the first ``limit`` entries are kept anyway (feeds list newest first),
    and feedparser holds every item it reads: 100,000 items (13 MB) took 14 s.
    The cut document is closed again for the usual roots (RSS 2.0, Atom, RSS
    1.0); anything else is read by feedparser's lenient parser.
    """
    last: re.Match[bytes] | None = None
    count = 0
    for count, match in enumerate(_ITEM_END.finditer(body), start=1):
        if count == limit:
            last = match
    if last is None or count <= limit:
        return body, 0
    return body[: last.end()] + _closing_tags(body), count - limit


def _closing_tags(body: bytes) -> bytes:
    head = body[:4096]
    for opening, closing in _ROOTS:
        if opening.search(head):
            return closing
    return b""


_ROOTS = (
    (re.compile(rb"<rss[\s>]"), b"</channel></rss>"),
    (re.compile(rb"<feed[\s>]"), b"</feed>"),
    (re.compile(rb"<rdf:RDF[\s>]"), b"</rdf:RDF>"),
)


def _broken_xml(result: Any) -> bool:
    """A syntax error (not a mere encoding fallback, which feedparser recovers from)."""
    problem = result.get("bozo_exception")
    return problem is not None and "Encoding" not in type(problem).__name__


_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]", re.IGNORECASE)


def _read(
    body: bytes, base_url: str, content_type: str | None, feed: FeedConfig
) -> tuple[Any, int]:
    """feedparser's result, and how many items could not be read.

    feedparser's lenient parser (used once the document is not well-formed) has
    bugs of its own: ``<link>`` closed after its ``</item>`` raised KeyError, and
    one mis-nested item lost every entry of the feed. Then each item is read
    alone, with the channel before the first item, and only the items feedparser
    fails on are lost.
    """
    try:
        return _feedparser(body, base_url, content_type), 0
    except Exception as exc:  # a bug in feedparser, met on this document
        failure = exc
    results = [_alone(item, base_url, content_type) for item in _items_alone(body)]
    read = [result for result in results if result is not None]
    if not read:
        problem = one_line(str(failure))
        raise FeedError(
            f"malformed feed: feedparser failed on it ({type(failure).__name__}: {problem})"
            " and no item could be read on its own",
            feed=feed.name,
            reason="malformed",
        )
    merged = {
        "version": read[0].get("version"),
        "feed": read[0].get("feed"),
        "entries": [entry for result in read for entry in result.get("entries") or []],
    }
    return merged, len(results) - len(read)


def _items_alone(body: bytes) -> list[bytes]:
    """Each item of ``body`` as a document of its own: the channel before the first item,
    the item (to its end tag, or to the next item), the root closed again."""
    first = _ITEM_START.search(body)
    if first is None:
        return []
    head, closing = body[: first.start()], _closing_tags(body)
    return [head + item + closing for item in split_elements(body, _ITEM_START, _ITEM_END)]


def _alone(document: bytes, base_url: str, content_type: str | None) -> Any:
    try:
        return _feedparser(document, base_url, content_type)
    except Exception:  # this item is what feedparser fails on
        return None


def _feedparser(body: bytes, base_url: str, content_type: str | None) -> Any:
    headers = {"content-location": base_url}
    if content_type:
        headers["content-type"] = content_type
    return feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _unreadable(result: Any, feed: FeedConfig) -> FeedError:
    problem = result.get("bozo_exception")
    if problem is None:
        return FeedError("no RSS or Atom document found", feed=feed.name, reason="unknown_format")
    name = type(problem).__name__
    if "Encoding" in name:
        return FeedError(f"cannot decode feed: {problem}", feed=feed.name, reason="encoding")
    message = problem.getMessage() if hasattr(problem, "getMessage") else str(problem)
    line = f" at line {problem.getLineNumber()}" if hasattr(problem, "getLineNumber") else ""
    return FeedError(f"malformed XML: {message}{line}", feed=feed.name, reason="malformed")


def _link(entry: Any) -> str | None:
    """The article link: FeedBurner's original link, the alternate link, or a permalink GUID."""
    for key in ("feedburner_origlink", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value
    for link in entry.get("links") or []:
        href = link.get("href")
        if href and link.get("rel", "alternate") == "alternate":
            return str(href)
    guid = entry.get("id")
    if isinstance(guid, str) and guid.lower().startswith(("http://", "https://")):
        return guid
    return None


def _authors(entry: Any) -> list[str]:
    names = [a.get("name") for a in entry.get("authors") or [] if isinstance(a, dict)]
    if not any(names) and entry.get("author"):
        names = [entry.get("author")]
    return [str(n) for n in names if n]


def _published(entry: Any) -> datetime | None:
    """The entry's published time, else its updated or created time; read past
    feedparser's ``get`` as :func:`_updated` is (same answer, no DeprecationWarning)."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)
        if isinstance(value, time.struct_time):
            return _utc(value)
    return None


def _updated(entry: Any) -> datetime | None:
    """Atom ``<updated>`` (also ``atom:updated`` or ``dcterms:modified`` in RSS), when given.

    Read past feedparser's ``get``, which answers ``published_parsed`` for a
    missing ``updated_parsed`` (with a DeprecationWarning): the two are kept
    apart, and :func:`pipeline.polling.revisions.revision_of` decides when a
    pubDate counts as an update.
    """
    value = dict.get(entry, "updated_parsed")
    return _utc(value) if isinstance(value, time.struct_time) else None


def _utc(value: time.struct_time) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _ttl(channel: Any) -> float | None:
    """RSS ``<ttl>`` (minutes) or the syndication module's update period, in seconds."""
    try:
        minutes = float(str(channel.get("ttl") or "").strip() or "nan")
        if 0 < minutes < 1e6:
            return minutes * 60
    except ValueError:
        pass
    period = _SY_PERIOD_SECONDS.get(str(channel.get("sy_updateperiod") or "").strip().lower())
    if period is None:
        return None
    try:
        frequency = max(1.0, float(str(channel.get("sy_updatefrequency") or "1").strip()))
    except ValueError:
        frequency = 1.0
    return period / frequency
