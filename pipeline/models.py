"""Message contracts, one model per hop of the pipeline.

Each message is a frozen pydantic model that serialises to JSON. Consumers
ignore fields they do not know (``extra="ignore"``), so adding a field is never
a breaking change; removing or retyping one bumps :data:`SCHEMA_VERSION`.
``newsflow schema`` prints the JSON Schema of every message.

The hops::

    FeedEntry ─fetch─▶ FetchedPage ─extract─▶ ExtractedArticle ─tag─▶ EnrichedArticle
                                                                     └─dedup─▶ DuplicateEvent
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from pipeline.errors import MessageError
from pipeline.keys import bounded_key

SCHEMA_VERSION = 1

FeedKind = Literal["rss", "atom", "jsonfeed", "sitemap", "warc"]


_SURROGATE = re.compile("[\ud800-\udfff]")


def carriable(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD: UTF-8, and so a message's JSON, cannot
    carry them. They come from JSON (``"\\ud800"``) and numeric references in feeds.

    Every stored text passes here, and almost none has a surrogate: ASCII text
    (known without a scan) and text that encodes as UTF-8 (a surrogate is the
    only code point that does not) are returned as they are, without the
    regular expression's scan (~50 us per 10 KB, ~8 for the encoding).
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def utcnow() -> datetime:
    return datetime.now(UTC)


def article_id(canonical_url: str) -> str:
    """A stable article id: the same canonical URL always gives the same id."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:20]


class Message(BaseModel):
    """Base of every message; ``topic`` names the logical topic it travels on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: ClassVar[str]
    schema_version: int = SCHEMA_VERSION

    def key(self) -> str:
        """The partitioning key: messages about one article keep their order."""
        raise NotImplementedError

    def letter_key(self) -> str:
        """What makes two failures of this message one dead letter.

        A message that comes again (its poll was not committed before a crash,
        or it is replayed) differs in its timestamps and maybe its page bytes,
        not in this; the store keeps one dead letter per letter key. Bounded
        (:func:`~pipeline.keys.bounded_key`): the store indexes it.
        """
        return bounded_key(self.key())

    def to_json(self, *, exclude: set[str] | None = None) -> bytes:
        """UTF-8 JSON, serialised straight to bytes.

        ``model_dump_json()`` builds the same bytes, decodes them to a str, and
        encoding that again copied a fetched page (~120 KB) twice more: 355 us
        per page against 193 us this way. Text UTF-8 cannot carry (lone
        surrogates) becomes U+FFFD instead of failing the message.
        """
        try:
            return self.__pydantic_serializer__.to_json(self, exclude=exclude)
        except PydanticSerializationError:  # a lone surrogate some source let through
            fields = self.model_dump(mode="json", exclude=exclude)
            text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
            return carriable(text).encode("utf-8")


M = TypeVar("M", bound=Message)


def decode(model: type[M], data: bytes | str) -> M:
    """Decode one message, translating validation errors into :class:`MessageError`.

    A message of a later :data:`SCHEMA_VERSION` is refused (reason ``schema_version``),
    not read as this one: a later version has removed or retyped a field, so reading it
    here would fill what it lacks with defaults. Its dead letter waits for this worker
    to be upgraded and ``newsflow dlq replay``.
    """
    try:
        message = model.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise MessageError(
            f"not a valid {model.__name__} message: {where}: {first['msg']}"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise MessageError(f"not a valid {model.__name__} message: {exc}") from None
    if message.schema_version > SCHEMA_VERSION:
        raise MessageError(
            f"{model.__name__} message of schema_version {message.schema_version}, later than"
            f" the {SCHEMA_VERSION} this newsflow reads: upgrade this worker, then"
            " newsflow dlq replay",
            reason="schema_version",
        )
    return message


class FeedEntry(Message):
    """One item a feed listed: a link to an article plus the feed's own hints."""

    topic: ClassVar[str] = "items"

    feed: str = Field(description="Name of the configured feed that listed the entry.")
    feed_kind: FeedKind
    url: str = Field(description="Canonical link of the article (tracking parameters removed).")
    link: str | None = Field(
        default=None,
        description="The link as the feed listed it, when its canonical form differs: what"
        " is fetched (a server need not answer the canonical spelling).",
    )
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    updated_at: datetime | None = Field(
        default=None,
        description="When the source says the entry last changed (Atom <updated>, JSON Feed"
        " date_modified, sitemap <lastmod>): a later one than last seen fetches the page again"
        " (for RSS, without one, a later pubDate does).",
    )
    discovered_at: datetime = Field(default_factory=utcnow)
    body: str | None = Field(
        default=None,
        description="The page itself when the source carries it (WARC records): no fetch needed.",
    )
    etag: str | None = Field(
        default=None,
        description="On an update of an article already stored: the ETag its page was served"
        " with. The fetch sends it (If-None-Match), and a 304 Not Modified ends the entry:"
        " the page did not change.",
    )
    last_modified: str | None = Field(
        default=None,
        description="On an update of an article already stored: the Last-Modified its page"
        " was served with, sent as If-Modified-Since (see etag).",
    )

    def key(self) -> str:
        return self.url

    def letter_key(self) -> str:
        return bounded_key(f"{self.feed} {self.url}")

    @property
    def fetch_url(self) -> str:
        """What to request: the link as listed (``/reviews/guitar/amp`` may be the only
        spelling the server knows), else the canonical URL."""
        return self.link or self.url


class FetchedPage(Message):
    """An article page as fetched, with the entry that led to it."""

    topic: ClassVar[str] = "pages"

    entry: FeedEntry
    url: str = Field(
        description="Canonical final URL after redirects (tracking parameters and fragment"
        " removed, as for a listed link); the entry's canonical URL when its link was not"
        " redirected."
    )
    status: int = 200
    content_type: str = "text/html"
    html: str
    fetched_at: datetime = Field(default_factory=utcnow)
    etag: str | None = Field(default=None, description="The page's ETag response header.")
    last_modified: str | None = Field(
        default=None, description="The page's Last-Modified response header."
    )

    def key(self) -> str:
        return self.entry.url

    def letter_key(self) -> str:
        return self.entry.letter_key()


class RemovedLine(BaseModel):
    """A line the residue filter dropped, and why (a stable reason code)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str
    reason: str


class ExtractedArticle(Message):
    """The main text and metadata of one article, residue removed."""

    topic: ClassVar[str] = "articles"

    id: str
    url: str
    canonical_url: str
    title: str | None = None
    text: str
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    source: str = Field(description="The publisher's domain.")
    site_name: str | None = None
    top_image: str | None = None
    description: str | None = None
    feeds: list[str] = Field(default_factory=list)
    fetched_at: datetime
    removed: list[RemovedLine] = Field(default_factory=list)
    flags: list[str] = Field(
        default_factory=list,
        description="Quality notes, e.g. 'date_disagreement', 'future_date', 'page_date_invalid',"
        " 'residue_guard', 'metadata_lost', 'flattened' (found once the page's markup, nested"
        " past the HTML parser's limit, was flattened), 'nesting_cut' (the parser stopped at"
        " that limit and the text is what came before: it may stop short).",
    )
    page_hash: str | None = Field(
        default=None,
        description="Hash of what trafilatura read from the page (title and text) before the"
        " residue filter: the same page has the same hash, whatever the filter has learned since.",
    )
    page_etag: str | None = Field(
        default=None,
        description="The ETag the page was served with: the store keeps it, so fetching the"
        " page again when its feed lists it as updated asks whether it changed.",
    )
    page_last_modified: str | None = Field(
        default=None, description="The Last-Modified the page was served with (see page_etag)."
    )
    listed_url: str | None = Field(
        default=None,
        description="The canonical URL the feed listed, when a redirect led from it to url:"
        " an update is fetched by the listed URL, so the store finds the page's validators"
        " by it too.",
    )

    def key(self) -> str:
        return self.canonical_url

    def letter_key(self) -> str:
        return bounded_key(" ".join([*sorted(self.feeds), self.canonical_url]))


class Entity(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    type: str = Field(description="country, organization, person, place, ...")


class TopicTag(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    label: str
    score: float
    evidence: list[str] = Field(default_factory=list, description="The matched terms.")


VERDICT_VERSION = (
    "Grows with every change to the article's cluster (founded, joined, a new canonical:"
    " an earlier-published copy arrived), also across the dedup window. Messages about one"
    " article reach you in no fixed order (two topics, two producers): the one with the"
    " highest verdict_version holds its present verdict."
)


class EnrichedArticle(ExtractedArticle):
    """An article with its dedup verdict and tags: what ``news.enriched`` carries."""

    topic: ClassVar[str] = "enriched"

    duplicate_of: str | None = None
    cluster_id: str | None = None
    similarity: float | None = None
    verdict_version: int = Field(default=1, description=VERDICT_VERSION)
    revision: int = 1
    topics: list[str] = Field(default_factory=list)
    topic_tags: list[TopicTag] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)

    def key(self) -> str:
        return self.cluster_id or self.canonical_url

    def with_verdict(
        self,
        *,
        cluster_id: str | None,
        duplicate_of: str | None,
        similarity: float | None,
        version: int,
        **other: Any,
    ) -> EnrichedArticle:
        """A copy carrying this dedup verdict (and the ``other`` fields given).

        The four fields go together: a verdict without its version would rank
        wrongly against the messages readers already hold.
        """
        verdict = {
            "cluster_id": cluster_id,
            "duplicate_of": duplicate_of,
            "similarity": similarity,
            "verdict_version": version,
        }
        return self.model_copy(update={**verdict, **other})

    def verdict(self) -> dict[str, Any]:
        """The dedup verdict this article carries (the fields :meth:`with_verdict` sets)."""
        return {name: getattr(self, name) for name in VERDICT_FIELDS}


VERDICT_FIELDS = ("cluster_id", "duplicate_of", "similarity", "verdict_version")


class DuplicateEvent(Message):
    """One article found to duplicate another; carries the article so it can be stored."""

    topic: ClassVar[str] = "duplicates"

    id: str
    url: str
    duplicate_of: str
    cluster_id: str
    similarity: float
    method: Literal["url", "text_hash", "near_duplicate"]
    verdict_version: int = Field(default=1, description=VERDICT_VERSION)
    feeds: list[str] = Field(default_factory=list)
    detected_at: datetime = Field(default_factory=utcnow)
    article: EnrichedArticle

    def key(self) -> str:
        return self.cluster_id

    def letter_key(self) -> str:
        return self.article.letter_key()


MESSAGE_TYPES: tuple[type[Message], ...] = (
    FeedEntry,
    FetchedPage,
    ExtractedArticle,
    EnrichedArticle,
    DuplicateEvent,
)

MESSAGE_BY_TOPIC: dict[str, type[Message]] = {m.topic: m for m in MESSAGE_TYPES}


def json_schemas() -> dict[str, Any]:
    """The JSON Schema of every message, keyed by logical topic name."""
    return {m.topic: m.model_json_schema() for m in MESSAGE_TYPES}
