"""The small interface every feed format implements, and what they share.

A format module exposes one function, ``parse(body, *, feed, base_url,
limits) -> ParsedFeed``, that turns bytes the project fetched itself into
entries. They all build entries through :class:`EntryBuilder`, so every link is
resolved, checked to be http(s) and canonicalised the same way, every text
hint is capped, and every dropped link is counted with a reason.

Hostile input is refused *before* a parser sees it (:func:`guard_xml`): entity
declarations (billion laughs, external entities) and over-long tags
(feedparser's attribute and namespace handling is quadratic: 150,000 attributes
on one tag kept a poll busy for over ten minutes). Over-long short fields, and
authors under the length cap that would cost feedparser's quadratic e-mail regex
more than a real one can, are emptied instead (:func:`cut_long_fields`): one such
field costs itself, not the feed.
"""

from __future__ import annotations

import bisect
import html
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import AnyStr, Protocol
from urllib.parse import urldefrag, urljoin

from pipeline.config import FeedConfig, ScheduleConfig
from pipeline.errors import FeedError, InputError
from pipeline.models import FeedEntry, FeedKind, carriable
from pipeline.urls import canonicalize_url, is_http_url

TITLE_CHARS = 1000
SUMMARY_CHARS = 2000
AUTHOR_CHARS = 200
MAX_AUTHORS = 20
GUID_CHARS = 1000


@dataclass(frozen=True)
class FeedLimits:
    """Bounds on what one feed document may cost."""

    max_entries: int = 2000
    max_bytes: int = 50 * 1024 * 1024
    """Cap on the document after gzip decompression."""
    max_short_field_chars: int = 1000
    """Author, e-mail and date fields longer than this are emptied (:func:`cut_long_fields`);
    an author within it is emptied too when costly to read (:data:`MAX_EMAIL_WORK`)."""
    max_child_sitemaps: int = 20

    @classmethod
    def from_config(cls, schedule: ScheduleConfig) -> FeedLimits:
        return cls(
            max_entries=schedule.max_entries_per_poll,
            max_bytes=schedule.max_feed_bytes,
            max_child_sitemaps=schedule.max_child_sitemaps,
        )


@dataclass(frozen=True)
class ParsedFeed:
    """One feed document: its entries (at most ``limits.max_entries``) and its own hints."""

    kind: FeedKind
    entries: list[FeedEntry]
    ttl_seconds: float | None = None
    """How long the publisher asks readers to wait (RSS ``<ttl>``, ``sy:updatePeriod``)."""
    child_sitemaps: list[str] = field(default_factory=list)
    """For a sitemap index: the child sitemaps, newest first (not yet fetched)."""
    title: str | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    """Links left out, by reason: ``not_http``, ``bad_url``, ``no_link``, ``over_cap``,
    ``bad_item`` (an item that could not be read)."""
    dates_ignored: int = 0
    """Entry dates left out as implausible (:func:`plausible_date`)."""
    fields_cut: int = 0
    """Over-long short fields emptied (:func:`cut_long_fields`), their entries kept."""


class FeedFormat(Protocol):
    def __call__(
        self, body: bytes, *, feed: FeedConfig, base_url: str, limits: FeedLimits
    ) -> ParsedFeed: ...


class EntryBuilder:
    """Collects entries of one document: canonical http(s) links, capped hints, counted drops.

    ``keep_order=True`` keeps the first ``max_entries`` in document order (feeds
    list newest first); otherwise :meth:`build` keeps the newest by date
    (sitemaps are in no particular order).
    """

    def __init__(
        self,
        feed: FeedConfig,
        kind: FeedKind,
        base_url: str,
        limits: FeedLimits,
        *,
        keep_order: bool = True,
    ) -> None:
        self.feed = feed
        self.kind = kind
        self.base_url = base_url
        self.limits = limits
        self.keep_order = keep_order
        self.dropped: Counter[str] = Counter()
        self.dates_ignored = 0
        self.fields_cut = 0
        self._pending: list[tuple[datetime | None, dict[str, object]]] = []

    @property
    def full(self) -> bool:
        return self.keep_order and len(self._pending) >= self.limits.max_entries

    def add(
        self,
        link: str | None,
        *,
        guid: str | None = None,
        title: str | None = None,
        summary: str | None = None,
        authors: Iterable[str] = (),
        published_at: datetime | None = None,
        updated_at: datetime | None = None,
        body: str | None = None,
    ) -> None:
        if self.full:
            self.dropped["over_cap"] += 1
            return
        url = self.resolve(link)
        if url is None:
            return
        listed = self._as_listed(link)
        published_at = self._plausible(published_at)
        updated_at = self._plausible(updated_at)
        fields: dict[str, object] = {
            "url": url,
            "link": listed if listed not in (None, url) else None,
            "guid": _cap(guid, GUID_CHARS),
            "title": clean_text(title, TITLE_CHARS),
            "summary": clean_text(summary, SUMMARY_CHARS),
            "authors": _authors(authors),
            "published_at": published_at,
            "updated_at": updated_at,
            "body": body,
        }
        self._pending.append((published_at, fields))
        if not self.keep_order and len(self._pending) >= 2 * self.limits.max_entries:
            self._keep_newest()  # a huge sitemap: hold the newest so far, not every entry

    def _plausible(self, when: datetime | None) -> datetime | None:
        if when is not None and plausible_date(when) is None:
            self.dates_ignored += 1
            return None
        return when

    def _keep_newest(self) -> None:
        if len(self._pending) > self.limits.max_entries:
            self._pending.sort(key=_newest_first)  # stable: equal dates keep document order
            self.dropped["over_cap"] += len(self._pending) - self.limits.max_entries
            del self._pending[self.limits.max_entries :]

    def resolve(self, link: str | None) -> str | None:
        """The canonical form of ``link``, or None (counted) when it is missing or not http(s)."""
        if not link or not link.strip():
            self.dropped["no_link"] += 1
            return None
        base = self.base_url if self.base_url.lower().startswith(("http://", "https://")) else None
        try:
            return canonicalize_url(link, base=base)
        except InputError as exc:
            self.dropped[exc.reason] += 1
            return None

    def _as_listed(self, link: str | None) -> str | None:
        """``link`` made absolute, without its fragment: what the publisher's server knows.

        Only called once :meth:`resolve` accepted it; None when, as written, it could not
        go on a request line (spaces, control characters): the canonical form is then used.
        """
        text = (link or "").strip()
        base = self.base_url if self.base_url.lower().startswith(("http://", "https://")) else None
        listed = urldefrag(urljoin(base, text) if base else text).url
        sendable = listed.isprintable() and " " not in listed and is_http_url(listed)
        return listed if sendable else None

    def build(
        self,
        *,
        ttl_seconds: float | None = None,
        child_sitemaps: list[str] | None = None,
        title: str | None = None,
    ) -> ParsedFeed:
        if not self.keep_order:
            self._keep_newest()
        pending = self._pending
        entries = [
            FeedEntry(feed=self.feed.name, feed_kind=self.kind, **fields)  # type: ignore[arg-type]
            for _, fields in pending
        ]
        return ParsedFeed(
            kind=self.kind,
            entries=entries,
            ttl_seconds=ttl_seconds,
            child_sitemaps=child_sitemaps or [],
            title=clean_text(title, TITLE_CHARS),
            dropped=dict(self.dropped),
            dates_ignored=self.dates_ignored,
            fields_cut=self.fields_cut,
        )


def _newest_first(item: tuple[datetime | None, dict[str, object]]) -> tuple[int, float]:
    when = item[0]
    return (0, -when.timestamp()) if when else (1, 0.0)


_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")


def clean_text(value: object, limit: int) -> str | None:
    """Plain text of a feed field: tags dropped, entities decoded, spaces collapsed, capped."""
    if value is None:
        return None
    text = str(value)[: limit * 4]
    if "<" in text:
        text = _TAG.sub(" ", text)
    text = _SPACE.sub(" ", carriable(html.unescape(text))).strip()
    return text[:limit] or None


def _cap(value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = carriable(str(value)).strip()
    return text if 0 < len(text) <= limit else None


def _authors(names: Iterable[str]) -> list[str]:
    result: list[str] = []
    for name in names:
        text = clean_text(name, AUTHOR_CHARS)
        if text and text not in result:
            result.append(text)
        if len(result) >= MAX_AUTHORS:
            break
    return result


def parse_date(value: object) -> datetime | None:
    """An ISO 8601 / W3C datetime (``2024-05-01``, ``...T10:00:00Z``) as aware UTC, or None."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # 0001-01-01T00:00+14:00 has no UTC time
        return None


EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def plausible_date(when: datetime) -> datetime | None:
    """``when``, or None for a date no news entry has: before 1990 or over a day ahead.

    Feeds carry epoch seconds read as years, year 1 and year 9999 as "no
    date"; trusted, such a date would make a copy look older than the
    original that dedup should keep.
    """
    return when if EARLIEST_DATE <= when <= datetime.now(UTC) + FUTURE_SLACK else None


# ---------------------------------------------------------------------------
# Hostile input guards


GZIP_MAGIC = b"\x1f\x8b"
_MAX_GZIP_MEMBERS = 1000


def gunzip_bounded(body: bytes, *, feed: FeedConfig, max_bytes: int) -> bytes:
    """Decompress a gzip body (``sitemap.xml.gz``), refusing to grow past ``max_bytes``.

    Output is capped per call, so a gzip bomb costs at most ``max_bytes`` of memory.
    """
    out = bytearray()
    raw = body
    for _ in range(_MAX_GZIP_MEMBERS):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(raw, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise FeedError(
                f"corrupt gzip data: {exc}", feed=feed.name, reason="bad_gzip"
            ) from None
        if len(out) > max_bytes:
            raise FeedError(
                f"feed is larger than {max_bytes} bytes after decompression",
                feed=feed.name,
                reason="too_large",
            )
        if not inflater.eof:
            raise FeedError("truncated gzip data", feed=feed.name, reason="bad_gzip")
        raw = inflater.unused_data.lstrip(b"\0")
        if not raw:
            return bytes(out)
    raise FeedError("too many gzip members", feed=feed.name, reason="bad_gzip")


_ENTITY_DECL = re.compile(r"<!ENTITY")
MAX_TAG_CHARS = 16_384
"""Longest start tag accepted: real feeds' longest (a root with its namespaces, an
enclosure with a long URL) are a few KB; 8,000 attributes (80 KB) took 0.8 s to parse."""
_LONG_TAG = re.compile(rf"<[^<>]{{{MAX_TAG_CHARS}}}")
_ENTITY_DECL_BYTES = re.compile(_ENTITY_DECL.pattern.encode())
_LONG_TAG_BYTES = re.compile(_LONG_TAG.pattern.encode())


def wide_text(body: bytes) -> str | None:
    """The body decoded when it is UTF-16/32 (BOM, or NULs around the first ``<``), else None."""
    encoding = _wide_encoding(body)
    return body.decode(encoding) if encoding else None


def guard_xml(body: bytes, *, feed: FeedConfig) -> None:
    """Refuse XML a parser should never see: entity declarations and over-long tags.

    Over-long short fields are not refused but emptied (:func:`cut_long_fields`).
    A byte-encoded document (UTF-8, Latin-1...) is searched as bytes: decoded first,
    a 1 GB body cost a second of copying.
    """
    wide = wide_text(body)
    if wide is not None:
        _refuse_hostile(wide, _ENTITY_DECL, _LONG_TAG, feed)
    else:
        _refuse_hostile(body, _ENTITY_DECL_BYTES, _LONG_TAG_BYTES, feed)


def _refuse_hostile(
    text: AnyStr, entities: re.Pattern[AnyStr], long_tag: re.Pattern[AnyStr], feed: FeedConfig
) -> None:
    if entities.search(text):
        raise FeedError(
            "XML entity declarations are not allowed (entity-expansion / external-entity guard)",
            feed=feed.name,
            reason="xml_entities",
        )
    if long_tag.search(text):
        raise FeedError(
            f"a tag longer than {MAX_TAG_CHARS} characters (thousands of attributes or"
            " namespaces: hostile or broken feed)",
            feed=feed.name,
            reason="tag_too_long",
        )


_AUTHOR_NAMES = "author|creator|managingEditor|webMaster|contributor|publisher|name|email"
"""Fields feedparser runs its e-mail pattern over (RSS ``<author>``, ``dc:creator``,
``<managingEditor>``, ``<webMaster>``, Atom ``<name>`` and ``<email>`` as the text of the
author before the next one): quadratic in the runs of e-mail characters (16,000 characters
took 3.6 s, 1,000 took 16 ms). Cut past ``limits.max_short_field_chars`` or
:data:`MAX_EMAIL_WORK`."""
_DATE_NAMES = (
    "pubDate|published|updated|date|lastBuildDate|modified|issued|created|lastmod|publication_date"
)
"""Date fields, read by regular expressions too: cut past ``limits.max_short_field_chars``."""
_HINT_NAMES = "title|subtitle|category|subject|keywords|guid|id|link|loc|comments"
"""Fields kept as short hints (a title, a link): read in linear time, but a 50 MB title
is carried for nothing, and a text node over 10 MB makes lxml refuse a sitemap."""
HINT_FIELD_CHARS = 65_536
"""Longest hint field kept as written: eight times the longest URL accepted (8,192)."""
_FIELD_START = re.compile(
    (
        rf"<((?:[A-Za-z_][\w.-]*:)?(?:(?P<author>{_AUTHOR_NAMES})|(?P<date>{_DATE_NAMES})"
        rf"|{_HINT_NAMES}))(?:\s[^<>]{{0,{MAX_TAG_CHARS}}}?)?(?P<empty>/?)>"
    ).encode(),
    re.IGNORECASE,
)
MAX_EMAIL_RUN = 128
"""Longest run of e-mail characters (``[A-Za-z0-9_.+@-]``) an author field may hand
feedparser's e-mail pattern: twice the 64 characters RFC 5321 allows before the ``@``,
longer than real addresses. The pattern does about ``run**2`` steps a run (measured,
feedparser alone: 999 letters 8.4 ms an item, 128 letters 0.22 ms, no author 0.13 ms;
the worst 999 characters found, ``a`` x 400 + ``@`` + ``a.`` x 299, 19 ms, and the
worst 128, 0.50 ms)."""
MAX_EMAIL_WORK = MAX_EMAIL_RUN**2
"""An author field is cut when its runs' squared lengths add up to more than this, the
work of one longest run however the field is split: ten runs of 40 cost as much as one
of 128. ``jane@example.com (Jane)`` is 272, 999 letters 998,001."""
_MARKUP = re.compile(rb"<!\[CDATA\[(.*?)\]\]>|<!--.*?-->|</?[A-Za-z_][^<>]*>", re.DOTALL)
_EMAIL_RUN = re.compile(rb"[\w.+@&#;-]+")
"""E-mail characters, with ``&#;`` of references (``&#97;`` reaches the pattern as ``a``)."""


def email_work(content: bytes) -> int:
    """How much work feedparser's e-mail pattern may do on a field: the squares of the
    lengths of its runs of e-mail characters, added up.

    Measured on the text the parser sees: CDATA sections are text, comments and tags
    are not there (``a<!-- -->a`` and ``a<x/>a`` reach the pattern as ``aa``; a tag
    ends no run). For an Atom author, its name, e-mail and URI run together: more
    than the pattern does, never less.
    """
    text = b"".join(filter(None, _MARKUP.split(content)))  # texts and CDATA contents
    return sum(len(run) ** 2 for run in _EMAIL_RUN.findall(text))


def cut_long_fields(body: bytes, limits: FeedLimits) -> tuple[bytes, int]:
    """``body`` with the content of over-long short fields emptied, and how many were.

    An author of a megabyte is no author: emptied, its entry is kept (the whole feed
    was refused, every entry lost for one field). Nor is one of 999 letters, which cost
    feedparser's e-mail pattern 8.4 ms (2,000 such items: 17 s a poll): an author field
    is emptied too when :func:`email_work` finds more than :data:`MAX_EMAIL_WORK` in
    it. An Atom author is measured whole (its name, e-mail and URI), then each of its
    children; when it is emptied, so are they. A field's length is that of all
    between its start and end tag, comments and CDATA sections included: text split by
    ``<!-- -->`` reached feedparser's quadratic e-mail pattern whole. A field without an
    end tag is measured to the next tag. Start and end tags inside comments and CDATA
    sections are text, not fields (the ``<link>`` of HTML in a description). A
    UTF-8/Latin-1 document is cut as bytes (decoded, 1 GB cost a second of copying);
    UTF-16 and UTF-32 as UTF-8, encoded back.
    """
    wide = _wide_encoding(body)
    if wide is None:
        return _cut(body, limits)
    cut_body, cut = _cut(body.decode(wide).encode(), limits)
    return (cut_body.decode().encode(wide) if cut else body), cut


def _cut(body: bytes, limits: FeedLimits) -> tuple[bytes, int]:
    kept: list[bytes] = []
    cut = done = 0
    ends = _EndTags(body)
    match = _FIELD_START.search(body)
    while match is not None:
        opened = match.end()
        if match["empty"] or ends.quoted(match.start()) is not None:  # nothing to cut
            match = _FIELD_START.search(body, opened)
            continue
        short = match["author"] or match["date"]
        cap = limits.max_short_field_chars if short else HINT_FIELD_CHARS
        end = ends.find(match.group(1), opened, cap)
        if end is None:  # no end tag: the text up to the next tag
            following = body.find(b"<", opened)
            end = len(body) if following < 0 else following
        if end - opened > cap or (match["author"] and _costly_author(body[opened:end])):
            kept.append(body[done:opened])
            done, cut = end, cut + 1
        match = _FIELD_START.search(body, end if done == end else opened)
    if not cut:
        return body, 0
    kept.append(body[done:])
    return b"".join(kept), cut


class _EndTags:
    """Finds a field's end tag outside comments and CDATA sections: first within the
    field's cap (the usual short field), else anywhere after it, remembering where each
    name's next end tag is (or that there is none), so that many unclosed or over-long
    fields cost one pass over the document."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.spans = _quoted_spans(body, 0)
        self.known: dict[bytes, tuple[int, int | None]] = {}

    def find(self, name: bytes, start: int, cap: int) -> int | None:
        """Where the first end tag of ``name`` after ``start`` begins, or None."""
        name = name.lower()
        pattern = _end_tag(name)
        near = self._search(pattern, start, start + cap + len(name) + 64)
        if near is not None:
            return near
        searched, found = self.known.get(name, (len(self.body) + 1, None))
        if searched <= start and (found is None or found >= start):
            return found
        found = self._search(pattern, start, len(self.body))
        self.known[name] = (start, found)
        return found

    def quoted(self, at: int) -> int | None:
        """Where the comment or CDATA section holding ``at`` ends, or None."""
        return _quoted_end(self.spans, at)

    def _search(self, pattern: re.Pattern[bytes], start: int, stop: int) -> int | None:
        while (match := pattern.search(self.body, start, stop)) is not None:
            start = self.quoted(match.start()) or 0
            if not start:
                return match.start()
        return None


def _costly_author(content: bytes) -> bool:
    """More work for feedparser's e-mail pattern than :data:`MAX_EMAIL_WORK`: never for a
    field of at most :data:`MAX_EMAIL_RUN` bytes, whose text is no longer."""
    return len(content) > MAX_EMAIL_RUN and email_work(content) > MAX_EMAIL_WORK


@lru_cache(maxsize=256)
def _end_tag(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"</" + re.escape(name) + rb"\s*>", re.IGNORECASE)


def _wide_encoding(body: bytes) -> str | None:
    """The encoding :func:`wide_text` reads ``body`` in, or None (a byte encoding)."""
    if not body.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<", b"\x00\x00")):
        return None
    for encoding in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
        try:
            body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def split_elements(
    body: bytes, start: re.Pattern[bytes], end: re.Pattern[bytes], pos: int = 0
) -> list[bytes]:
    """Each element of ``body`` from ``pos`` on that ``start`` opens, to its ``end`` tag
    or, without one, to where the next begins (or the body ends): the items of a feed
    that is not well-formed, read one by one so that only the bad ones are lost.

    A start inside a comment or CDATA section is no element: a ``<url>`` the publisher
    commented out was read as soon as another part of the document broke."""
    quoted = _quoted_spans(body, pos)
    starts = [
        match.start()
        for match in start.finditer(body, pos)
        if _quoted_end(quoted, match.start()) is None
    ]
    if not starts:
        return []
    found = []
    for begin, following in zip(starts, [*starts[1:], len(body)], strict=True):
        closed = end.search(body, begin, following)
        found.append(body[begin : closed.end() if closed else following])
    return found


_QUOTE_OPEN = re.compile(rb"<!--|<!\[CDATA\[")


def _quoted_spans(body: bytes, pos: int) -> list[tuple[int, int]]:
    """Where the closed comments and CDATA sections of ``body`` are, in order; one that is
    never closed ends the list (the text after it is read: the document is broken there)."""
    spans = []
    opened = _QUOTE_OPEN.search(body, pos)
    while opened is not None:
        closer = b"-->" if opened.group(0) == b"<!--" else b"]]>"
        closed = body.find(closer, opened.end())
        if closed < 0:
            break
        spans.append((opened.start(), closed + len(closer)))
        opened = _QUOTE_OPEN.search(body, closed + len(closer))
    return spans


def _quoted_end(spans: list[tuple[int, int]], at: int) -> int | None:
    """Where the span of ``spans`` (:func:`_quoted_spans`) holding ``at`` ends, or None."""
    index = bisect.bisect_right(spans, at, key=lambda span: span[0]) - 1
    return spans[index][1] if index >= 0 and at < spans[index][1] else None
