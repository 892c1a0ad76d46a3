"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1).

Each item's ``url`` is the article; ``external_url`` (a link post's target) is
used when there is no ``url``. Relative URLs resolve against the feed's
``home_page_url``, else the URL the feed was fetched from. 1.1 ``authors`` and
1.0 ``author`` are both read. A field of the wrong JSON type counts as missing
(only ``id`` may be a number).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.feeds.base import EntryBuilder, FeedLimits, ParsedFeed, parse_date
from pipeline.config import FeedConfig
from pipeline.errors import FeedError
from pipeline.urls import is_http_url

VERSION_PREFIX = "https://jsonfeed.org/version/1"


def parse(body: bytes, *, feed: FeedConfig, base_url: str, limits: FeedLimits) -> ParsedFeed:
    """Entries of a JSON Feed document.

    Read member by member (:class:`_Members`): first everything but the items
    (``home_page_url`` and the feed's authors, which the items need, may come after
    them), then the items one at a time into the builder, until it is full (the rest
    are counted from the first read). ``json.loads`` held every item at once: a 47 MB
    feed of 1.5 million items took 450 MB over its body.
    """
    text = _text(body, feed)
    document = _read(text, feed, on_item=None, which=0)
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise FeedError(
            f"not a JSON Feed: version must start with {VERSION_PREFIX}, got {version!r:.80}",
            feed=feed.name,
            reason="json_version",
        )
    items = document.get("items")
    if not isinstance(items, _Items):
        raise FeedError("not a JSON Feed: 'items' is not a list", feed=feed.name, reason="bad_json")
    home = document.get("home_page_url")
    base = home if isinstance(home, str) and is_http_url(home) else base_url
    feed_authors = _authors(document)
    builder = EntryBuilder(feed, "jsonfeed", base, limits)
    handed = {"items": 0, "others": 0}

    def add(item: Any) -> None:
        if builder.full:
            raise _Full
        handed["items"] += 1
        if not isinstance(item, dict):
            handed["others"] += 1
            builder.dropped["bad_item"] += 1
            return
        builder.add(
            _string(item.get("url")) or _string(item.get("external_url")),
            guid=_id(item.get("id")),
            title=_string(item.get("title")),
            summary=_string(item.get("summary")) or _string(item.get("content_text")),
            authors=_authors(item) or feed_authors,
            published_at=parse_date(item.get("date_published"))
            or parse_date(item.get("date_modified")),
            updated_at=parse_date(item.get("date_modified")),
        )

    try:
        if items.count:
            _read(text, feed, on_item=add, which=items.array)
    except _Full:  # the rest is only counted, as the builder would have: read once is enough
        _count_the_rest(builder, items, handed["items"], handed["others"])
    return builder.build(title=_string(document.get("title")))


class _Full(Exception):
    """The builder holds all the entries it keeps: the items left are over the cap."""


def _count_the_rest(builder: EntryBuilder, items: _Items, handed: int, others: int) -> None:
    over_cap = items.count - handed - (items.others - others)
    if over_cap:
        builder.dropped["over_cap"] += over_cap
    if items.others - others:
        builder.dropped["bad_item"] += items.others - others


def _text(body: bytes, feed: FeedConfig) -> str:
    """The document as text, in the encoding JSON allows (UTF-8, -16 or -32, detected)."""
    try:
        return body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise FeedError(
            f"cannot decode JSON Feed: {exc.reason}", feed=feed.name, reason="encoding"
        ) from None


def _read(
    text: str, feed: FeedConfig, *, on_item: Callable[[Any], None] | None, which: int
) -> dict[str, Any]:
    """The top-level members (see :class:`_Members`); every failure a FeedError."""
    try:
        return _Members(text, on_item, which).read()
    except RecursionError:
        raise FeedError("JSON nested too deeply", feed=feed.name, reason="too_deep") from None
    except _NotAnObject:
        raise FeedError(
            "not a JSON Feed: the top level is not an object", feed=feed.name, reason="bad_json"
        ) from None
    except ValueError as exc:
        raise FeedError(f"malformed JSON: {exc}", feed=feed.name, reason="bad_json") from None


@dataclass(frozen=True)
class _Items:
    """Where ``items`` was: an array of ``count`` values (``others`` not objects), the
    ``array``-th of the document."""

    count: int
    array: int
    others: int = 0


class _NotAnObject(ValueError):
    """The document is JSON, but not an object."""


_SPACE = re.compile(r"[ \t\n\r]*")


class _Members:
    """The top-level object read member by member with the standard decoder: every
    member but ``items`` is kept (the last of a repeated name, as ``json.loads``
    does); the values of the ``which``-th ``items`` array are handed to ``on_item``
    one at a time and not kept; ``items`` itself becomes an :class:`_Items`."""

    def __init__(self, text: str, on_item: Callable[[Any], None] | None, which: int) -> None:
        self.text = text
        self.on_item = on_item
        self.which = which
        self.arrays = 0
        self.decoder = json.JSONDecoder(parse_int=_int)

    def read(self) -> dict[str, Any]:
        at = self._skip(0)
        if not self.text.startswith("{", at):
            value, _ = self.decoder.raw_decode(self.text, at)  # a RecursionError, or:
            raise _NotAnObject(type(value).__name__)
        members: dict[str, Any] = {}
        at = self._skip(at + 1)
        if self.text.startswith("}", at):
            return self._end(members, at + 1)
        while True:
            name, at = self.decoder.raw_decode(self.text, at)
            if not isinstance(name, str):
                raise json.JSONDecodeError("Expecting property name", self.text, at)
            at = self._expect(":", at)
            if name == "items" and self.text.startswith("[", at):
                members[name], at = self._items(at)
            else:
                members[name], at = self.decoder.raw_decode(self.text, at)
            at = self._skip(at)
            if self.text.startswith("}", at):
                return self._end(members, at + 1)
            at = self._expect(",", at)

    def _items(self, at: int) -> tuple[_Items, int]:
        self.arrays += 1
        hand_on = self.on_item if self.arrays == self.which else None
        count = others = 0
        at = self._skip(at + 1)
        if self.text.startswith("]", at):
            return _Items(0, self.arrays), at + 1
        while True:
            value, at = self.decoder.raw_decode(self.text, at)
            count += 1
            others += not isinstance(value, dict)
            if hand_on is not None:
                hand_on(value)
            at = self._skip(at)
            if self.text.startswith("]", at):
                return _Items(count, self.arrays, others), at + 1
            at = self._expect(",", at)

    def _skip(self, at: int) -> int:
        match = _SPACE.match(self.text, at)
        return match.end() if match else at

    def _expect(self, char: str, at: int) -> int:
        at = self._skip(at)
        if not self.text.startswith(char, at):
            raise json.JSONDecodeError(f"Expecting {char!r} delimiter", self.text, at)
        return self._skip(at + 1)

    def _end(self, members: dict[str, Any], at: int) -> dict[str, Any]:
        if self._skip(at) != len(self.text):
            raise json.JSONDecodeError("Extra data", self.text, self._skip(at))
        return members


def _int(digits: str) -> int | float:
    """A JSON integer; past Python's 4,300-digit limit, a float (inf), which no field takes.

    ``int()`` raised ValueError on one such number: the whole feed was malformed JSON,
    every item lost for one item's ``id``."""
    return int(digits) if len(digits) <= 4000 else float(digits)


def _string(value: Any) -> str | None:
    """A string field's value; anything else counts as missing.

    ``"external_url": 5`` read as ``"5"`` became the relative link ``http://host/5``
    and a 404 dead letter; a numeric title or summary is no more trustworthy."""
    return value if isinstance(value, str) else None


def _id(value: Any) -> str | None:
    """The item's ``id``: a string, or a number (JSON Feed 1.0 allowed numeric ids)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    return _string(value)


def _authors(container: dict[str, Any]) -> list[str]:
    authors = container.get("authors")
    if not isinstance(authors, list):
        single = container.get("author")
        authors = [single] if isinstance(single, dict) else []
    return [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
