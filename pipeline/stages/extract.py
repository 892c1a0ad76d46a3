"""Extract stage: a fetched page in, the article (residue removed, metadata checked) out.

Before filtering, the stage reads its source's learned boilerplate from the
store; after, it hands the article's lines to its line counter, which counts
them into the store (:class:`StoredLines`, at once or in the caller's
transaction), so every worker learns from every article (see
:mod:`pipeline.extraction.learned` for cold start and deferred counting).
If the store is unavailable the article is still extracted, with the generic
rules only, and ``newsflow_extract_learned_unavailable_total`` counts it.

Per-source health metrics: pages by outcome (share of empty extractions),
missing and future dates, date disagreements, guard trips and text length.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import ClassVar

from prometheus_client import Counter, Histogram

from connectors.storage.residue_stats import ResidueStatsRepository
from pipeline.config import ExtractConfig
from pipeline.errors import ExtractionError, StorageError, StoreUnavailable
from pipeline.extraction import (
    ExtractionResult,
    LearnedBoilerplate,
    LineCounter,
    LineObservation,
    extract_article,
    source_of,
)
from pipeline.extraction.rules import ResidueRules
from pipeline.extraction.urls import choose_canonical
from pipeline.models import ExtractedArticle, FetchedPage, Message, article_id
from pipeline.stages.base import Stage

log = logging.getLogger(__name__)

PAGES = Counter(
    "newsflow_extract_pages_total",
    "Pages handled by the extract stage, per source and outcome (ok, empty, not_html, parse,"
    " too_deeply_nested).",
    ["source", "outcome"],
)
RESIDUE_REMOVED = Counter(
    "newsflow_extract_residue_lines_total",
    "Residue lines removed, by reason (rule:<category>, learned:..., shape:..., metadata:...).",
    ["reason"],
)
DATE_PROBLEMS = Counter(
    "newsflow_extract_date_problems_total",
    "Articles with a missing date, a future date, disagreeing dates or an impossible date"
    " on the page (missing, future_date, date_disagreement, page_date_invalid), per source.",
    ["source", "problem"],
)
METADATA_LOST = Counter(
    "newsflow_extract_metadata_lost_total",
    "Articles whose page metadata trafilatura could not read (the text was kept), per source.",
    ["source"],
)
FLATTENED = Counter(
    "newsflow_extract_flattened_total",
    "Articles found only once the page's markup, nested past the HTML parser's limit of"
    " 256 elements, was flattened, per source.",
    ["source"],
)
GUARD_TRIPS = Counter(
    "newsflow_extract_residue_guard_total",
    "Articles whose residue filter was overruled by the guard rails, per source.",
    ["source"],
)
TEXT_CHARS = Histogram(
    "newsflow_extract_text_chars",
    "Length of extracted article text per source (watch for drift after a site redesign).",
    ["source"],
    buckets=(250, 500, 1000, 2000, 4000, 8000, 16000, 32000),
)
LEARNED_UPDATES = Counter(
    "newsflow_extract_learned_observations_total",
    "Articles offered to learned boilerplate: counted, seen (already in window), near_copy,"
    " failed.",
    ["result"],
)
LEARNED_UNAVAILABLE = Counter(
    "newsflow_extract_learned_unavailable_total",
    "Articles extracted without learned boilerplate because the store failed.",
)

_FLAG_WARNINGS: dict[str, tuple[Counter | None, str]] = {
    "flattened": (
        FLATTENED,
        "%s is nested deeper than the HTML parser goes (256 elements): its article was found"
        " with the markup flattened",
    ),
    "nesting_cut": (
        None,
        "%s is nested deeper than the HTML parser goes (256 elements) and flattening did"
        " not bring it within: its text is what the parser read before it stopped, and may"
        " stop short",
    ),
    "metadata_lost": (
        METADATA_LOST,
        "metadata of %s could not be read (trafilatura failed on it, e.g. a date with an"
        " impossible time-zone offset): stored with the feed's title and date",
    ),
}
"""Flags of an article that are logged, with their warning, and counted per source (when
they have a counter)."""

_NOT_HTML_TYPES = ("image/", "video/", "audio/", "font/", "application/pdf", "application/zip")


class ExtractStage(Stage):
    """A fetched page in, one :class:`ExtractedArticle` out (or an ExtractionError)."""

    name: ClassVar[str] = "extract"
    accepts: ClassVar[tuple[type[Message], ...]] = (FetchedPage,)

    def __init__(
        self,
        rules: ResidueRules,
        learned_repo: ResidueStatsRepository | None,
        config: ExtractConfig,
        *,
        counter: LineCounter | None = None,
    ) -> None:
        """``counter`` receives each article's lines; by default they are counted into
        ``learned_repo`` at once (no learning without a repository)."""
        self.rules = rules
        self.learned_repo = learned_repo
        self.config = config
        if counter is None and learned_repo is not None:
            counter = StoredLines(learned_repo, config)
        self.counter = counter

    def process(self, message: Message) -> Iterable[Message]:
        assert isinstance(message, FetchedPage)
        source = source_of(message.url)
        try:
            _refuse_non_html_type(message)
            canonical = choose_canonical(message.html, message.url)
            result = extract_article(
                message.html,
                url=message.url,
                entry=message.entry,
                rules=self.rules,
                learned=self._learned(source, article_id(canonical)),
                config=self.config,
                canonical_url=canonical,
            )
        except ExtractionError as exc:
            PAGES.labels(source, exc.reason).inc()
            raise
        article = _article(message, source, result)
        self._observe(source, article.id, result)
        _record_health(source, result)
        return [article]

    def close(self) -> None:
        """The store connection belongs to the process's resources, not to the stage."""

    def _learned(self, source: str, key: str) -> LearnedBoilerplate | None:
        if self.learned_repo is None:
            return None
        try:
            try:
                return self._read_learned(self.learned_repo, source, key)
            except StoreUnavailable:  # a dropped connection is replaced by the next statement
                return self._read_learned(self.learned_repo, source, key)
        except StorageError as exc:
            LEARNED_UNAVAILABLE.inc()
            log.warning("learned boilerplate unavailable for %s: %s", source, exc)
            return None

    def _read_learned(
        self, repo: ResidueStatsRepository, source: str, key: str
    ) -> LearnedBoilerplate:
        return repo.learned(
            source,
            min_articles=self.config.learned_min_articles,
            min_share=self.config.learned_min_share,
            excluding=key,
        )

    def _observe(self, source: str, key: str, result: ExtractionResult) -> None:
        if self.counter is None:
            return
        lines = {line.key: line.text for line in result.raw_lines if line.key}
        content = [line.key for line in result.lines if line.sentence_like and line.key]
        self.counter.count(LineObservation(source, key, lines, content))


class StoredLines:
    """Counts observations into the store: one transaction each, or a savepoint of the
    caller's transaction when it has one open (the embedded runtime's store batch).

    Counting is best effort: when it fails the article is still stored, the
    failure is logged and ``newsflow_extract_learned_observations_total``
    counts it as ``failed`` (the savepoint undoes the partial count). A store
    that cannot take work at all (a full disk, a lost server) is raised
    instead: the article cannot be stored either, and the runtime waits for
    the store rather than logging one warning per article.
    """

    def __init__(self, repo: ResidueStatsRepository, config: ExtractConfig) -> None:
        self.repo = repo
        self.config = config

    def count(self, observation: LineObservation) -> None:
        try:
            outcome = self.repo.observe(
                observation.source,
                observation.article_key,
                observation.lines,
                window=self.config.learned_window,
                content_keys=observation.content_keys,
                near_copy_share=self.config.learned_near_copy_share,
            )
        except StoreUnavailable:
            raise
        except Exception as exc:  # counting is best effort: a failure must not cost the article
            LEARNED_UPDATES.labels("failed").inc()
            expected = isinstance(exc, StorageError)  # anything else is a bug: say its class
            log.log(
                logging.WARNING if expected else logging.ERROR,
                "could not count lines of %s for %s: %s",
                observation.article_key,
                observation.source,
                exc if expected else f"{type(exc).__name__}: {exc}",
            )
            return
        LEARNED_UPDATES.labels(outcome).inc()


def _refuse_non_html_type(page: FetchedPage) -> None:
    content_type = (page.content_type or "").split(";", 1)[0].strip().lower()
    if content_type.startswith(_NOT_HTML_TYPES):
        raise ExtractionError(
            f"not an HTML page ({content_type}): {page.url}", url=page.url, reason="not_html"
        )


def _article(page: FetchedPage, source: str, result: ExtractionResult) -> ExtractedArticle:
    return ExtractedArticle(
        id=article_id(result.canonical_url),
        url=page.url,
        canonical_url=result.canonical_url,
        title=result.title,
        text=result.text,
        authors=result.authors,
        published_at=result.published_at,
        language=result.language,
        source=source,
        site_name=result.site_name,
        top_image=result.top_image,
        description=result.description,
        feeds=[page.entry.feed],
        fetched_at=page.fetched_at,
        removed=result.removed,
        flags=result.flags,
        page_hash=result.page_hash,
        page_etag=page.etag,
        page_last_modified=page.last_modified,
        listed_url=page.entry.url if page.entry.url != page.url else None,
    )


def _record_health(source: str, result: ExtractionResult) -> None:
    PAGES.labels(source, "ok").inc()
    TEXT_CHARS.labels(source).observe(len(result.text))
    for line in result.removed:
        RESIDUE_REMOVED.labels(line.reason).inc()
    if "residue_guard" in result.flags:
        GUARD_TRIPS.labels(source).inc()
    if result.published_at is None:
        DATE_PROBLEMS.labels(source, "missing").inc()
    for flag in ("future_date", "date_disagreement", "page_date_invalid"):
        if flag in result.flags:
            DATE_PROBLEMS.labels(source, flag).inc()
    for flag, (counter, warning) in _FLAG_WARNINGS.items():
        if flag in result.flags:
            if counter is not None:
                counter.labels(source).inc()
            log.warning(warning, result.canonical_url, extra={"event": flag, "source": source})
