"""Trustworthy metadata: one publication date out of several witnesses, and the language.

Dates come from the feed entry (an RSS/Atom/JSON feed, or a news sitemap's
``publication_date``) and from the page itself (htmldate through trafilatura:
JSON-LD, Open Graph, ``<time>``, URL, text). :func:`choose_date` picks one:

* a date later than now (plus a small clock-skew tolerance) is flagged
  ``future_date`` and only used when nothing else is available;
* when entry and page agree (within ``disagreement``), the more precise one
  wins (a page date without time of day gives way to the entry's timestamp);
  a page date that is a day only (htmldate read it from the URL) first takes the
  time the page declares for that day (:meth:`DeclaredDates.with_time_of_day`);
* when they disagree, ``date_disagreement`` is flagged and the page's date is
  used: it is the publisher's statement on the article itself, while feeds
  often carry the time an item was (re)listed.

A page that declares an impossible publication date ("2026-02-30",
"2026-13-05") is no witness: htmldate "repairs" such a date into another real
one (the 1st of the month, day and month swapped), which would then beat the
feed's. :func:`declared_dates` reads what the page declares; when htmldate's
date is none of the real days declared next to an impossible one, the first
real one is the page's date, or none if there is none
(:meth:`DeclaredDates.page_date`), and ``page_date_invalid`` is flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pipeline.models import FeedEntry

_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.IGNORECASE)
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_PUBLICATION = re.compile(r"published|pubdate|publishdate|\bdc\.date", re.IGNORECASE)
_CONTENT = re.compile(r"""\bcontent\s*=\s*["']\s*([^"']{0,40})""", re.IGNORECASE)
_JSON_LD_DATE = re.compile(r"""datePublished["']\s*:\s*["']\s*([^"']{0,40})""")
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
MIN_LANGUAGE_CHARS = 40
MIN_LANGUAGE_CONFIDENCE = 0.5


@dataclass(frozen=True)
class DateWitness:
    value: datetime
    source: str  # "page", "feed" or "sitemap"
    precise: bool  # carries a time of day


@dataclass(frozen=True)
class DateChoice:
    value: datetime | None
    source: str | None
    flags: list[str] = field(default_factory=list)


def parse_page_date(raw: str | None) -> DateWitness | None:
    """htmldate's output ("2024-03-05" or "2024-03-05T10:20:00+0100") as a UTC witness."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    precise = value.tzinfo is not None or (value.hour, value.minute, value.second) != (0, 0, 0)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return DateWitness(value.astimezone(UTC), "page", precise)


@dataclass(frozen=True)
class DeclaredDates:
    """The publication dates a page declares in ISO form, as written."""

    real: tuple[str, ...] = ()
    """Each declared value whose date is a day of the calendar."""
    impossible: tuple[str, ...] = ()
    """Each declared value whose date is no day of the calendar ("2026-02-30")."""

    def page_date(self, extracted: str | None) -> str | None:
        """The page's date witness, given htmldate's ``extracted`` one: that, unless the
        page declares an impossible date and ``extracted`` is on none of the real days it
        declares (htmldate made it up from the impossible one); then the first real
        declared date, or None."""
        if not self.impossible or extracted is None:
            return extracted
        if any(value.startswith(extracted[:10]) for value in self.real):
            return extracted
        return self.real[0] if self.real else None

    def with_time_of_day(self, page_date: str | None) -> str | None:
        """``page_date``, or the time the page declares on that day when it is a day only.

        htmldate takes a date in the URL (``/2026/11/19/``) before the page's metadata,
        and gives it without a time; read as midnight UTC, the article would look
        published hours before a copy that came out later that day, and dedup would take
        the copy for the original. With no feed date to make up for it (WARC backfills,
        sitemaps without dates), the page's own ``article:published_time`` or JSON-LD
        ``datePublished`` of the same day says when it was published.
        """
        witness = parse_page_date(page_date)
        if page_date is None or witness is None or witness.precise:
            return page_date
        for value in self.real:
            timed = parse_page_date(value) if value.startswith(page_date[:10]) else None
            if timed is not None and timed.precise:
                return value
        return page_date


def declared_dates(html: str) -> DeclaredDates:
    """What the page declares: ``article:published_time`` and the other ``<meta>``
    publication dates of its head, and JSON-LD ``datePublished`` (values not in ISO form,
    such as RFC 822 dates, are left out)."""
    head_end = html.find("</head")
    values = [
        content.group(1)
        for tag in _META.finditer(html, 0, head_end if head_end >= 0 else len(html))
        if _PUBLICATION.search(tag.group(0)) and (content := _CONTENT.search(tag.group(0)))
    ]
    at = html.find("datePublished")
    while at >= 0:
        if found := _JSON_LD_DATE.match(html, at):
            values.append(found.group(1))
        at = html.find("datePublished", at + 1)
    real: list[str] = []
    impossible: list[str] = []
    for value in (v.strip() for v in values):
        day = _ISO_DAY.match(value)
        if day is None:
            continue
        try:
            calendar_day = date(*(int(part) for part in day.groups()))
        except ValueError:
            impossible.append(value)
            continue
        # "2024-3-4" as "2024-03-04", so that it reads as a date and compares as htmldate's
        real.append(calendar_day.isoformat() + value[day.end() :])
    return DeclaredDates(tuple(real), tuple(impossible))


def entry_date(entry: FeedEntry | None) -> DateWitness | None:
    if entry is None or entry.published_at is None:
        return None
    value = entry.published_at
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    source = "sitemap" if entry.feed_kind == "sitemap" else "feed"
    return DateWitness(value.astimezone(UTC), source, precise=True)


def choose_date(
    witnesses: list[DateWitness],
    *,
    now: datetime,
    disagreement: timedelta,
    future_tolerance: timedelta,
) -> DateChoice:
    """One publication date out of the witnesses, with quality flags."""
    flags: list[str] = []
    future = [w for w in witnesses if w.value > now + future_tolerance]
    present = [w for w in witnesses if w not in future]
    if future:
        flags.append("future_date")
    if not present:
        chosen = min(future, key=lambda w: w.value) if future else None
        if chosen is None:
            return DateChoice(None, None, flags)
        return DateChoice(chosen.value, chosen.source, flags)
    page = next((w for w in present if w.source == "page"), None)
    others = [w for w in present if w.source != "page"]
    if page is None or not others:
        chosen = page or others[0]
        return DateChoice(chosen.value, chosen.source, flags)
    other = others[0]
    if _disagree(page, other, disagreement):
        flags.append("date_disagreement")
        return DateChoice(page.value, page.source, flags)
    chosen = page if page.precise else other
    return DateChoice(chosen.value, chosen.source, flags)


def _disagree(page: DateWitness, other: DateWitness, limit: timedelta) -> bool:
    if page.precise:
        return abs(page.value - other.value) > limit
    # a date without time of day is a calendar day somewhere: compare days, with a day's slack
    gap = abs(page.value.date() - other.value.date())
    return gap > limit + timedelta(days=1)


def html_language(html: str) -> str | None:
    """The ``<html lang>`` attribute's primary subtag, lower-cased."""
    match = _HTML_LANG.search(html, 0, 4096)
    return match.group(1).lower() if match else None


def detect_language(text: str, *, sample_chars: int, fallback: str | None) -> str | None:
    """ISO 639-1 code of ``text`` (py3langid, offline); the page's declared language
    when the text is too short or the detector unsure."""
    sample = text[:sample_chars]
    if len(sample) < MIN_LANGUAGE_CHARS:
        return fallback
    code, confidence = _identifier().classify(sample)
    return str(code) if confidence >= MIN_LANGUAGE_CONFIDENCE else fallback


def load_language_model() -> None:
    """Load the model now, not with the first page (worker start-up calls it)."""
    _identifier()


@cache
def _identifier() -> LanguageIdentifier:
    """The model ships inside py3langid; loaded once per process (~0.5 s)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def split_authors(raw: str | None) -> list[str]:
    """trafilatura joins authors with "; "."""
    if not raw:
        return []
    return [a.strip() for a in raw.split(";") if a.strip()]
