"""Sitemaps: Google News sitemaps, plain ``<urlset>`` sitemaps, sitemap indexes, text sitemaps.

Parsed with lxml configured so that the document cannot reach outside itself
or blow up: no entity resolution, no DTD loading, no network, no huge-tree
mode (on top of :func:`~connectors.feeds.base.guard_xml`). Elements are matched
by local name, so sitemaps with missing or odd namespaces still parse.

A sitemap lists pages in no particular order, so when it has more than
``limits.max_entries`` the newest (by ``news:publication_date`` or
``lastmod``) are kept. An index yields no entries, only ``child_sitemaps``
(newest first); the poller fetches a bounded number of them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from connectors.feeds.base import (
    EntryBuilder,
    FeedLimits,
    ParsedFeed,
    cut_long_fields,
    guard_xml,
    parse_date,
    split_elements,
)
from pipeline.config import FeedConfig
from pipeline.errors import FeedError, InputError, excerpt, one_line
from pipeline.urls import canonicalize_url, is_http_url

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def parse(body: bytes, *, feed: FeedConfig, base_url: str, limits: FeedLimits) -> ParsedFeed:
    """Entries (or child sitemaps) of a sitemap document.

    Read as a stream: each ``<url>`` is let go once read, and only the newest
    entries are kept as it goes (:class:`EntryBuilder`), so a 45 MB sitemap of
    400,000 URLs does not become a 400,000-element tree (470 MB) in memory.
    """
    if body.lstrip()[:8].lower().startswith((b"http://", b"https://")):
        return _parse_text(body, feed=feed, base_url=base_url, limits=limits)
    guard_xml(body, feed=feed)
    body, cut = cut_long_fields(body, limits)
    builder = EntryBuilder(feed, "sitemap", base_url, limits, keep_order=False)
    children: list[tuple[datetime | None, str]] = []
    try:
        name: str | None = _read(body, builder, children, base_url)
    except etree.XMLSyntaxError as exc:  # libxml2 may put a newline in its message
        problem = one_line(str(exc))
        builder = EntryBuilder(feed, "sitemap", base_url, limits, keep_order=False)
        children = []
        name = _read_piece_by_piece(body, builder, children, base_url)
        if name is None:
            raise FeedError(
                f"malformed XML: {problem}", feed=feed.name, reason="malformed"
            ) from None
    builder.fields_cut = cut
    if name == "sitemapindex":
        children.sort(key=lambda c: (c[0] is None, -(c[0].timestamp() if c[0] else 0.0)))
        return builder.build(child_sitemaps=list(dict.fromkeys(url for _, url in children)))
    if name != "urlset":
        raise FeedError(
            f"not a sitemap: root element <{name}>", feed=feed.name, reason="unknown_format"
        )
    return builder.build()


def _read(
    body: bytes,
    builder: EntryBuilder,
    children: list[tuple[datetime | None, str]],
    base_url: str,
) -> str:
    """Read every ``<url>`` (or ``<sitemap>``) of ``body`` into ``builder`` (``children``);
    the root element's local name. Raises XMLSyntaxError for a document not well-formed."""
    root: str | None = None
    read = etree.iterparse(
        io.BytesIO(body), events=("end",), tag=("{*}url", "{*}sitemap"), **_PARSER_OPTIONS
    )
    for _, element in read:
        parent = element.getparent()
        if parent is None or parent.getparent() is not None:
            continue  # only <url> / <sitemap> elements right under the root
        root = root or _local_name(parent)
        if root == "urlset":
            _add_url(builder, element)
        elif root == "sitemapindex":
            _add_child(builder, children, element, base_url)
        _let_go(element)
    return root or _root_name(read)


_ROOT_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(urlset|sitemapindex)(?:\s[^<>]*)?>")
_PIECE_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:url|sitemap)[\s>]")
_PIECE_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:url|sitemap)\s*>")


def _read_piece_by_piece(
    body: bytes,
    builder: EntryBuilder,
    children: list[tuple[datetime | None, str]],
    base_url: str,
) -> str | None:
    """Read a sitemap that is not well-formed one ``<url>`` at a time; None when no
    sitemap root or no readable ``<url>`` is found.

    One bad byte (a Latin-1 title in a UTF-8 news sitemap, a NUL, a bare ``&`` in
    one ``<loc>``) made the whole sitemap malformed, and every entry was lost.
    libxml2's recover mode would keep them, but silently shortened or altered the
    bad ``<loc>`` (``a&b`` read as ``a``): a wrong URL. Here each piece is parsed
    strictly, after the document's prolog and root tag (its encoding and namespaces),
    a group at a time (:class:`_Group`), and only the pieces that fail are left out
    (``bad_item``).
    """
    root = _ROOT_TAG.search(body)
    if root is None:
        return None
    closing = b"</" + root.group(0)[1:].split(maxsplit=1)[0].rstrip(b">") + b">"
    head = _readable_head(body, root, closing)
    if head is None:
        return None
    group = _Group(head, closing, builder, children, base_url)
    found = split_elements(body, _PIECE_START, _PIECE_END, root.end())
    if not found:
        return None
    read = 0
    for first in range(0, len(found), _GROUP):
        read += group.read(found[first : first + _GROUP])
    return root.group(1).decode("ascii").lower() if read else None


_XMLNS = re.compile(rb"""\sxmlns(?::[A-Za-z_][\w.-]*)?\s*=\s*(?:"[^"<]*"|'[^'<]*')""")


def _readable_head(body: bytes, root: re.Match[bytes], closing: bytes) -> bytes | None:
    """What each group of pieces is read after: the prolog and root tag as written, else
    the root tag alone (a broken prolog: junk, an unknown encoding), else the root with
    only its namespace declarations (a broken attribute); None when none is well-formed.

    A broken head made every piece fail: all entries were lost (after ~2 parses a piece),
    though the break was outside them."""
    name = root.group(0)[1:].split(maxsplit=1)[0].rstrip(b">")
    declared = b"".join(dict.fromkeys(_XMLNS.findall(root.group(0))))
    for head in (body[: root.end()], root.group(0), b"<" + name + declared + b">"):
        try:
            etree.fromstring(head + closing, etree.XMLParser(**_PARSER_OPTIONS))
        except (etree.XMLSyntaxError, LookupError):
            continue
        return head
    return None


_GROUP = 512
"""Pieces read as one document: one parse each costs ~0.1 ms, 200,000 of them 21 s."""


@dataclass(frozen=True)
class _Group:
    """Reads pieces of a sitemap after its head, halving a group that is not well-formed
    until the bad pieces stand alone: one bad piece costs ~10 checks, not one per piece."""

    head: bytes
    closing: bytes
    builder: EntryBuilder
    children: list[tuple[datetime | None, str]]
    base_url: str

    def read(self, pieces: list[bytes]) -> int:
        """How many of ``pieces`` were read; the others are counted as ``bad_item``."""
        document = self.head + b"".join(pieces) + self.closing
        try:
            etree.fromstring(document, etree.XMLParser(**_PARSER_OPTIONS))
        except etree.XMLSyntaxError:
            if len(pieces) == 1:
                self.builder.dropped["bad_item"] += 1
                return 0
            half = len(pieces) // 2
            return self.read(pieces[:half]) + self.read(pieces[half:])
        _read(document, self.builder, self.children, self.base_url)
        return len(pieces)


def _root_name(read: Any) -> str:
    """The root element's name once ``read`` (an iterparse) is done: '' for none."""
    return _local_name(read.root) if read.root is not None else ""


def _local_name(element: etree._Element) -> str:
    """An element's name without its namespace, lower case.

    Not :class:`etree.QName`: it re-checks the whole ``{uri}name`` and raised
    ValueError for a namespace URI with a brace in it, which libxml2 accepts."""
    return str(element.tag).rsplit("}", 1)[-1].lower()


def _add_url(builder: EntryBuilder, url: etree._Element) -> None:
    news = url.find("{*}news")
    published = _date(news, "publication_date") if news is not None else None
    modified = _date(url, "lastmod")
    builder.add(
        _text(url, "loc"),
        title=_text(news, "title") if news is not None else None,
        published_at=published or modified,
        updated_at=modified,
    )


def _add_child(
    builder: EntryBuilder,
    children: list[tuple[datetime | None, str]],
    sitemap: etree._Element,
    base_url: str,
) -> None:
    loc = _text(sitemap, "loc")
    if not loc:
        builder.dropped["no_link"] += 1
        return
    try:
        resolved = _child_url(loc, base_url)
    except InputError as exc:
        builder.dropped[exc.reason] += 1
        return
    children.append((_date(sitemap, "lastmod"), resolved))


def _let_go(element: etree._Element) -> None:
    """Free a read element and the siblings before it (iterparse keeps the whole tree)."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _parse_text(body: bytes, *, feed: FeedConfig, base_url: str, limits: FeedLimits) -> ParsedFeed:
    """A text sitemap: one absolute URL per line (sitemaps.org, "Text file")."""
    builder = EntryBuilder(feed, "sitemap", base_url, limits)
    for line in body.decode("utf-8", "replace").splitlines():
        text = line.strip()
        if text[:8].lower().startswith(("http://", "https://")):
            builder.add(text)  # a bad host or port is counted bad_url, as in any other feed
        elif text:
            builder.dropped["not_http"] += 1
    return builder.build()


def _child_url(loc: str, base_url: str) -> str:
    """A child sitemap's absolute URL, resolved but not canonicalised (its query matters).

    One that is not fetched raises the :class:`~pipeline.errors.InputError` a page link
    written so would (reason ``not_http`` or ``bad_url``), so the two are counted alike.
    """
    base = base_url if is_http_url(base_url) else None
    try:
        url = urljoin(base, loc) if base else loc
    except ValueError:  # "http://[::1": urljoin cannot split it
        url = ""
    if is_http_url(url):
        return url
    canonicalize_url(loc, base=base)  # raises for what is_http_url refused, with its reason
    raise InputError(f"not a valid URL: {excerpt(loc)}", reason="bad_url")  # too long, joined


def _text(element: etree._Element | None, name: str) -> str | None:
    if element is None:
        return None
    child = element.find("{*}" + name)
    if child is None or child.text is None:
        return None
    return str(child.text).strip() or None


def _date(element: etree._Element | None, name: str) -> datetime | None:
    return parse_date(_text(element, name))
