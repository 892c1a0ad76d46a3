"""``extract_article``: trafilatura, then the residue filter, then metadata.

result = extract_article(html, url=url, entry=entry, rules=rules,
                         learned=None, config=ExtractConfig())
result.text, result.removed, result.flags
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from pipeline.config import ExtractConfig
from pipeline.errors import ExtractionError
from pipeline.extraction.learned import LearnedBoilerplate
from pipeline.extraction.lines import Line, split_lines
from pipeline.extraction.metadata import (
    DateWitness,
    choose_date,
    declared_dates,
    detect_language,
    entry_date,
    html_language,
    parse_page_date,
    split_authors,
)
from pipeline.extraction.nesting import (
    FLAT_DEPTH,
    MAX_TAGS,
    PARSER_MAX_DEPTH,
    flatten,
)
from pipeline.extraction.parse import LoadedHtml, load_page, parse_page
from pipeline.extraction.residue import MetadataHints, filter_residue
from pipeline.extraction.rules import ResidueRules
from pipeline.extraction.urls import choose_canonical, source_of
from pipeline.models import FeedEntry, RemovedLine, utcnow


@dataclass(frozen=True)
class ExtractionResult:
    """The article text with residue removed, its metadata, and what was removed and why."""

    text: str
    title: str | None
    authors: list[str]
    published_at: datetime | None
    language: str | None
    canonical_url: str
    top_image: str | None
    site_name: str | None
    description: str | None
    removed: list[RemovedLine] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    date_source: str | None = None
    raw_lines: list[Line] = field(default_factory=list)  # trafilatura's, before the filter
    page_hash: str | None = None  # ParsedPage.digest: the same page, however it was filtered
    lines: list[Line] = field(default_factory=list)  # the kept lines (for learning)


Extract = Callable[[str, LoadedHtml], ExtractionResult]
"""An extraction of a page: its HTML and its parse."""


def extract_article(
    html: str,
    *,
    url: str,
    entry: FeedEntry | None,
    rules: ResidueRules,
    learned: LearnedBoilerplate | None,
    config: ExtractConfig,
    now: datetime | None = None,
    canonical_url: str | None = None,
) -> ExtractionResult:
    """Extract one article; raise :class:`ExtractionError` (reason ``not_html``, ``empty``,
    ``parse``, ``too_deeply_nested``) when there is no article to be had.

    A page the HTML parser cut at its nesting limit is extracted with its markup
    flattened (flag ``flattened``); when that finds nothing, what lies before the
    cut is the article (flag ``nesting_cut``: the text may stop short).

    ``canonical_url``: the page's :func:`choose_canonical`, when the caller needed it
    before extracting (the extract stage keys learned boilerplate by it); chosen here
    otherwise."""
    extract = partial(
        _extract,
        url=url,
        entry=entry,
        rules=rules,
        learned=learned,
        config=config,
        now=now or utcnow(),
        canonical_url=canonical_url,
    )
    page = load_page(html, url=url)
    if not page.depth_cut:
        return extract(html, page)
    return _extract_cut(html, page, extract, url=url)


def _extract_cut(html: str, page: LoadedHtml, extract: Extract, *, url: str) -> ExtractionResult:
    """``html``, which the HTML parser cut at its nesting limit, extracted flattened
    (:mod:`pipeline.extraction.nesting`); as it was parsed, cut, when flattening is
    impossible or finds nothing. Text found in the cut page is not enough: it is only
    what came before the cut."""
    flat = flatten(html)
    flat_failed = None
    if flat is not None and flat != html:
        flat_page = load_page(flat, url=url)
        try:
            result = extract(flat, flat_page)
        except ExtractionError as exc:
            flat_failed = exc
        else:
            still_cut = ["nesting_cut"] if flat_page.depth_cut else []
            return _flagged(result, "flattened", *still_cut)
    try:
        return _flagged(extract(html, page), "nesting_cut")
    except ExtractionError as exc:
        if exc.reason != "empty":
            raise
        if flat_failed is not None:
            raise ExtractionError(
                f"{flat_failed} (its markup is nested past the HTML parser's limit of"
                f" {PARSER_MAX_DEPTH} elements; none with it flattened to {FLAT_DEPTH} either)",
                url=flat_failed.url,
                reason=flat_failed.reason,
            ) from None
        why = "too many tags to flatten" if flat is None else "markup that cannot be flattened"
        raise ExtractionError(
            f"no article text found in {exc.url}: the HTML parser stops at"
            f" {PARSER_MAX_DEPTH} nested elements, and the page has {why}"
            + (f" (over {MAX_TAGS:,})" if flat is None else ""),
            url=exc.url,
            reason="too_deeply_nested",
        ) from None


def _flagged(result: ExtractionResult, *flags: str) -> ExtractionResult:
    return replace(result, flags=[*result.flags, *flags])


def _extract(
    html: str,
    page: LoadedHtml,
    *,
    url: str,
    entry: FeedEntry | None,
    rules: ResidueRules,
    learned: LearnedBoilerplate | None,
    config: ExtractConfig,
    now: datetime,
    canonical_url: str | None,
) -> ExtractionResult:
    """The article in ``html``, parsed as ``page``."""
    parsed = parse_page(page, url=url, config=config, now=now)
    lines = split_lines(parsed.text)
    if not lines:
        raise ExtractionError(f"no article text found in {url}", url=url, reason="empty")
    title = parsed.title or (entry.title if entry else None)
    authors = split_authors(parsed.author) or (list(entry.authors) if entry else [])
    filtered = filter_residue(
        lines,
        rules=rules,
        learned=learned,
        hints=MetadataHints(title=title, authors=authors, site_name=parsed.site_name),
        source=source_of(url),
        max_removed_share=config.max_removed_share,
    )
    declared = declared_dates(html)
    page_date = declared.page_date(parsed.date)
    date = choose_date(
        _date_witnesses(declared.with_time_of_day(page_date), entry),
        now=now,
        disagreement=timedelta(days=config.date_disagreement_days),
        future_tolerance=timedelta(minutes=config.future_tolerance_minutes),
    )
    text = filtered.text
    if len(text) < config.min_text_chars:
        raise ExtractionError(
            f"no article text found in {url} ({len(text)} characters)", url=url, reason="empty"
        )
    return ExtractionResult(
        text=text,
        title=title,
        authors=authors,
        published_at=date.value,
        language=detect_language(
            text, sample_chars=config.language_sample_chars, fallback=html_language(html)
        ),
        canonical_url=canonical_url or choose_canonical(html, url),
        top_image=parsed.image,
        site_name=parsed.site_name,
        description=parsed.description or (entry.summary if entry else None),
        removed=filtered.removed,
        flags=filtered.flags
        + date.flags
        + (["metadata_lost"] if parsed.metadata_lost else [])
        + ([] if page_date == parsed.date else ["page_date_invalid"]),
        date_source=date.source,
        raw_lines=lines,
        page_hash=parsed.digest(),
        lines=filtered.kept,
    )


def _date_witnesses(page_date: str | None, entry: FeedEntry | None) -> list[DateWitness]:
    return [w for w in (parse_page_date(page_date), entry_date(entry)) if w is not None]
