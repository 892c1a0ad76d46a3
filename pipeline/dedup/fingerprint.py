"""What dedup knows about one article: its keys for every layer, computed once.

A :class:`Fingerprint` is pure data derived from an article and the config; it
is all the index needs, so the index never sees a message model and the same
article always yields the same fingerprint, on any worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.config import DedupConfig
from pipeline.dedup.sketch import Sketcher
from pipeline.dedup.text import ShingleSet, content_key, shingles, text_hash, tokens
from pipeline.errors import InputError
from pipeline.keys import bounded_key
from pipeline.models import EnrichedArticle
from pipeline.urls import canonicalize_url

UNDATED = "~"  # sorts after every ISO date: an undated article is never preferred as canonical


@dataclass(frozen=True)
class Fingerprint:
    article_id: str
    url_keys: tuple[str, ...]  # canonical URL first, then the fetched URL when it differs
    text_hash: str | None  # None when the text is too short to be compared safely
    content_key: str  # title + text: what a revision changes
    page_key: str | None  # the page it was extracted from (ExtractedArticle.page_hash)
    shingles: ShingleSet  # empty when the text is too short
    bucket_keys: tuple[int, ...]
    order: str  # published time (UTC ISO) or UNDATED: the canonical order, ties by id

    @property
    def rank(self) -> tuple[str, str]:
        """Canonical order: earliest published first, then the smaller id."""
        return (self.order, self.article_id)


def order_key(published_at: datetime | None) -> str:
    """A sortable string for a publication time; naive times are taken as UTC."""
    if published_at is None:
        return UNDATED
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    return published_at.astimezone(UTC).isoformat(timespec="microseconds")


class Fingerprinter:
    """Turns articles into fingerprints with one config and one set of permutations."""

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self.sketcher = Sketcher(
            num_perm=config.num_perm, bands=config.lsh_bands, rows=config.lsh_rows
        )

    def of(self, article: EnrichedArticle) -> Fingerprint:
        words = tokens(article.text)
        shingle_set = shingles(words, self.config.shingle_size)
        comparable = len(shingle_set) >= self.config.min_shingles
        if not comparable:
            shingle_set = shingle_set[:0]
        return Fingerprint(
            article_id=article.id,
            url_keys=url_keys(article),
            text_hash=text_hash(words) if comparable else None,
            content_key=content_key(article.title, words),
            page_key=article.page_hash,
            shingles=shingle_set,
            bucket_keys=tuple(self.sketcher.bucket_keys(shingle_set)),
            order=order_key(article.published_at),
        )


def url_keys(article: EnrichedArticle) -> tuple[str, ...]:
    """The canonical forms of the article's canonical URL and of the URL it was fetched from."""
    canonical = article.canonical_url or article.url
    keys = [url_key(canonical)]
    if canonical != article.url:  # mostly they are the same URL: canonicalise it once
        fetched = url_key(article.url)
        if fetched not in keys:
            keys.append(fetched)
    return tuple(keys)


def url_key(url: str) -> str:
    """The canonical URL (bounded: :func:`~pipeline.keys.bounded_key`); a URL that cannot be
    canonicalised is compared as written."""
    try:
        return bounded_key(canonicalize_url(url))
    except InputError:
        return bounded_key(url.strip())
