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
from typing import Any

from connectors.feeds.base import EntryBuilder, FeedLimits, ParsedFeed, parse_date
from pipeline.config import FeedConfig
from pipeline.errors import FeedError
from pipeline.urls import is_http_url

VERSION_PREFIX = "https://jsonfeed.org/version/1"


def parse(body: bytes, *, feed: FeedConfig, base_url: str, limits: FeedLimits) -> ParsedFeed:
    """Entries of a JSON Feed document."""
    document = _load(body, feed)
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise FeedError(
            f"not a JSON Feed: version must start with {VERSION_PREFIX}, got {version!r:.80}",
            feed=feed.name,
            reason="json_version",
        )
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedError("not a JSON Feed: 'items' is not a list", feed=feed.name, reason="bad_json")
    home = document.get("home_page_url")
    base = home if isinstance(home, str) and is_http_url(home) else base_url
    feed_authors = _authors(document)
    builder = EntryBuilder(feed, "jsonfeed", base, limits)
    for item in items:
        if not isinstance(item, dict):
            builder.dropped["bad_item"] += 1
            continue
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
    return builder.build(title=_string(document.get("title")))


def _load(body: bytes, feed: FeedConfig) -> dict[str, Any]:
    try:
        document = json.loads(body, parse_int=_int)
    except UnicodeDecodeError as exc:
        raise FeedError(
            f"cannot decode JSON Feed: {exc.reason}", feed=feed.name, reason="encoding"
        ) from None
    except RecursionError:
        raise FeedError("JSON nested too deeply", feed=feed.name, reason="too_deep") from None
    except ValueError as exc:
        raise FeedError(f"malformed JSON: {exc}", feed=feed.name, reason="bad_json") from None
    if not isinstance(document, dict):
        raise FeedError(
            "not a JSON Feed: the top level is not an object", feed=feed.name, reason="bad_json"
        )
    return document


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
