# ruff: noqa: RUF001  (Cyrillic text is the point of the Russian sample)
"""Sample input for the storage tests: what the store stage receives, in order.

The stream mixes languages, tags, a revised article, duplicates (one arriving
before its canonical article), hostile text (SQL and FTS5 syntax, NUL,
control characters) and a seed article, so that one replay exercises every
write path of :class:`~connectors.storage.articles.ArticleRepository`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from connectors.storage.articles import ArticleRepository, UpsertResult
from pipeline.models import DuplicateEvent, EnrichedArticle, Entity, Message, article_id

SEEDS = Path(__file__).resolve().parents[3] / "bench" / "data" / "dedup" / "seeds"
BASE_TIME = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

INJECTIONS = [
    "'); DROP TABLE articles; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM article_revisions WHERE ('1'='1",
    'NEAR(alpha beta) "unbalanced',
    "prefix* AND OR NOT ^caret title:colon",
    "1; SELECT pg_sleep(5); --",
    "%s %(name)s ? ?? $1 \\x00 -- /* comment */",
]


def make_article(
    slug: str,
    text: str,
    *,
    title: str | None = None,
    language: str | None = "en",
    feeds: tuple[str, ...] = ("wire",),
    topics: tuple[str, ...] = (),
    entities: tuple[tuple[str, str], ...] = (),
    hours: int = 0,
    **extra: object,
) -> EnrichedArticle:
    url = f"https://news.example/{slug}"
    return EnrichedArticle(
        id=article_id(url),
        url=url,
        canonical_url=url,
        title=title if title is not None else f"Story {slug}",
        text=text,
        language=language,
        source="news.example",
        feeds=list(feeds),
        published_at=BASE_TIME + timedelta(hours=hours),
        fetched_at=BASE_TIME + timedelta(hours=hours, minutes=5),
        topics=list(topics),
        entities=[Entity(name=n, type=t) for n, t in entities],
        **extra,  # type: ignore[arg-type]
    )


def duplicate_event(duplicate: EnrichedArticle, canonical: EnrichedArticle) -> DuplicateEvent:
    return DuplicateEvent(
        id=duplicate.id,
        url=duplicate.url,
        duplicate_of=canonical.id,
        cluster_id=f"cluster-{canonical.id}",
        similarity=0.93,
        method="near_duplicate",
        feeds=duplicate.feeds,
        detected_at=BASE_TIME,
        article=duplicate,
    )


def seed_text() -> str:
    seeds = sorted(SEEDS.glob("*.txt"))
    return seeds[0].read_text(encoding="utf-8") if seeds else "Iran Russia NATO Syria Ukraine."


def pipeline_input() -> list[Message]:
    """A run's worth of store-stage messages (deterministic: same list every call)."""
    canonical = make_article(
        "iran-russia", seed_text(), title="Iran's envoy: NATO expansion not in our interest",
        topics=("politics", "conflict, war and peace"),
        entities=(("Iran", "country"), ("Russia", "country"), ("NATO", "organization")),
        feeds=("wire", "world"), hours=1,
    )  # fmt: skip
    early_dup = make_article("iran-russia-copy-a", seed_text(), feeds=("aggregator",), hours=2)
    late_dup = make_article("iran-russia-copy-b", seed_text(), feeds=("blogroll",), hours=3)
    first = make_article("budget", "The finance minister presented the budget.", hours=4,
                         topics=("economy, business and finance",))  # fmt: skip
    revised = first.model_copy(update={"text": first.text + " Parliament votes on Friday."})
    messages: list[Message] = [
        duplicate_event(early_dup, canonical),  # before its canonical article
        canonical,
        first,
        revised,
        duplicate_event(late_dup, canonical),
        make_article("football", "Der FC gewann das Derby mit zwei Toren.", language="de",
                     topics=("sport",), entities=(("Germany", "country"),), hours=5),
        make_article("bourse", "La Bourse de Paris termine en hausse.", language="fr",
                     topics=("economy, business and finance",), hours=6),
        make_article("moscow", "Москва объявила о новых переговорах.", language="ru",
                     entities=(("Russia", "country"),), hours=7),
        make_article("unknown-language", "Schnee im April: kalte Nächte erwartet.",
                     language=None, hours=8),
        make_article("controls", "Null\x00byte, bell\x07 and tab\tin text; emoji 🚀, RTL שלום",
                     title="Control \x1b[31mcharacters\x1b[0m", hours=9),
    ]  # fmt: skip
    for n, hostile in enumerate(INJECTIONS):
        messages.append(
            make_article(f"hostile-{n}", f"Quoted attack text: {hostile} marker{n}",
                         title=hostile, topics=(hostile,), entities=((hostile, "person"),),
                         hours=10 + n)
        )  # fmt: skip
    return messages


def apply(articles: ArticleRepository, messages: list[Message]) -> list[UpsertResult]:
    """What the store stage does with each message."""
    results = []
    for message in messages:
        if isinstance(message, DuplicateEvent):
            results.append(articles.record_duplicate(message))
        else:
            assert isinstance(message, EnrichedArticle)
            results.append(articles.upsert(message))
    return results


def as_user(user: str, url: str) -> str:
    """``url`` with ``user`` logging in instead (no password: the test server trusts it)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))
