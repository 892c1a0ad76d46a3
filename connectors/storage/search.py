"""Full-text search over stored articles, on SQLite (FTS5) and PostgreSQL (tsvector).

The query is text, never syntax: on SQLite each whitespace-separated word is
quoted as an FTS5 string (so ``NEAR(``, ``*``, ``"``, ``AND OR NOT`` and
``'); DROP TABLE`` are just words), on PostgreSQL it goes through
``plainto_tsquery``; on both it is a bound parameter. An article matches when
it contains every word of the query. Filters narrow the result::

    search = ArticleSearch(db)
    for hit in search.search(SearchQuery("Iran Russia", topic="politics", limit=10)):
        print(hit.score, hit.article.title)

A query with no words but with filters lists the newest matching articles.
PostgreSQL matches with the article language's stemming (``simple`` when the
language is unknown); SQLite matches words after case and accent folding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from prometheus_client import Counter

from connectors.storage.article_schema import PG_TEXT_SEARCH_CONFIGS
from connectors.storage.articles import load_article, tag_key, utc_text
from connectors.storage.db import Database, storable_text
from pipeline.errors import InputError
from pipeline.models import EnrichedArticle

SEARCHES = Counter(
    "newsflow_search_queries_total",
    "Search queries by engine and outcome (ok, empty, invalid).",
    ["engine", "outcome"],
)

MAX_LIMIT = 1000
MAX_QUERY_CHARS = 1000

# Title matches weigh ten times body matches (SQLite bm25 column weights).
_BM25 = "bm25(articles_fts, 10.0, 1.0)"


@dataclass(frozen=True)
class SearchQuery:
    """What to look for: words (all must match) and optional filters."""

    text: str = ""
    topic: str | None = None
    entity: str | None = None
    since: datetime | date | None = None
    limit: int = 20


@dataclass(frozen=True)
class SearchHit:
    """One matching article; a higher ``score`` is a better match (0 when no words)."""

    score: float
    article: EnrichedArticle


class ArticleSearch:
    """Searches the tables kept by :class:`~connectors.storage.articles.ArticleRepository`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """Articles matching ``query``, best first; :class:`InputError` for an unusable query."""
        try:
            words = query_words(query.text)
            _check(query, words)
        except InputError:
            SEARCHES.labels(self.db.dialect, "invalid").inc()
            raise
        statement = self._statement(query, words)
        rows = self.db.execute(*statement) if statement else []
        SEARCHES.labels(self.db.dialect, "ok" if rows else "empty").inc()
        return [SearchHit(float(row[2] or 0.0), load_article(row[:2])) for row in rows]

    def _statement(self, query: SearchQuery, words: list[str]) -> tuple[str, list[Any]] | None:
        """The SQL and its parameters; None when the query cannot match anything."""
        where, params = _filters(query)
        if not words:
            order = "a.dated_at DESC, a.id"
            sql = f"SELECT a.data, a.feeds, 0.0 FROM articles a WHERE 1 = 1{where} ORDER BY {order}"
        elif self.db.dialect == "sqlite":
            sql = (
                f"SELECT a.data, a.feeds, -{_BM25} FROM articles_fts"
                " JOIN articles a ON a.seq = articles_fts.rowid"
                f" WHERE articles_fts MATCH ?{where} ORDER BY {_BM25}, a.id"
            )
            params = [fts5_match(words), *params]
        else:
            text = " ".join(words)
            probe = _postgres_probe(self.db, text)
            if probe is None:  # only stop words in every language
                return None
            sql, params = _postgres_statement(where, params, text, probe)
        return sql + " LIMIT ?", [*params, query.limit]


def query_words(text: str) -> list[str]:
    """The searchable words of a query: whitespace-separated chunks holding a letter or digit."""
    cleaned = storable_text(text) or ""
    return [chunk for chunk in cleaned.split() if any(ch.isalnum() for ch in chunk)]


def fts5_match(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression that treats every word as text: each is a quoted string.

    Inside an FTS5 string only ``"`` is special, and doubling it escapes it;
    the implicit operator between strings is AND.
    """
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def parse_since(value: str) -> datetime:
    """``--since`` as a UTC datetime: ``2024-05-01`` or an ISO 8601 timestamp.

    Converted to UTC here, so a time near year 1 or 9999 whose offset takes it out of
    range is refused as input, not found out later as an OverflowError in the query."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since must be a date (2024-05-01) or an ISO timestamp, got {value!r}"
        ) from None
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise InputError(
            f"--since {value!r} is out of range: in UTC it must fall in years 1 to 9999"
        ) from None


def _check(query: SearchQuery, words: list[str]) -> None:
    if len(query.text) > MAX_QUERY_CHARS:
        raise InputError(
            f"the query is too long ({len(query.text)} characters, at most {MAX_QUERY_CHARS})"
        )
    if not words and not (query.topic or query.entity or query.since):
        raise InputError(
            "the query has no words to search for (letters or digits): give words or a filter"
        )
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InputError(f"--limit must be between 1 and {MAX_LIMIT}, got {query.limit}")
    for name, value in (("--topic", query.topic), ("--entity", query.entity)):
        if value is not None and not tag_key(value):
            raise InputError(f"{name} is empty")


def _filters(query: SearchQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.topic:
        clauses.append("a.id IN (SELECT article_id FROM article_topics WHERE topic_key = ?)")
        params.append(tag_key(query.topic))
    if query.entity:
        clauses.append("a.id IN (SELECT article_id FROM article_entities WHERE name_key = ?)")
        params.append(tag_key(query.entity))
    if query.since:
        clauses.append("a.dated_at >= ?")
        params.append(_since(query.since))
    return "".join(f" AND {c}" for c in clauses), params


def _since(value: datetime | date) -> str | None:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return utc_text(value)


def _postgres_probe(db: Database, text: str) -> str | None:
    """The query as one tsquery matching its parse in any configuration; None if all empty.

    Parsed by PostgreSQL itself (the text stays a bound parameter); duplicates
    are dropped so the planner sees a small query and uses the GIN index.
    """
    configs = sorted({"simple", *PG_TEXT_SEARCH_CONFIGS.values()})
    rows = db.execute(
        "SELECT DISTINCT CAST(plainto_tsquery(CAST(c AS regconfig), ?) AS TEXT)"
        " FROM unnest(CAST(? AS TEXT[])) AS c",
        (text, configs),
    )
    parsed = sorted(str(r[0]) for r in rows if r[0])
    return " | ".join(f"( {q} )" for q in parsed) or None


def _postgres_statement(
    where: str, params: list[Any], text: str, probe: str
) -> tuple[str, list[Any]]:
    """Index-friendly and language-aware.

    The GIN index is probed with the query parsed in every configuration
    (see :func:`_postgres_probe`), then each candidate is re-checked with the
    query parsed in its own language's configuration, which also ranks it.
    """
    own = "plainto_tsquery(newsflow_ts_config(a.language), ?)"
    sql = (
        f"SELECT a.data, a.feeds, ts_rank(a.search_vector, {own}) FROM articles a"
        f" WHERE a.search_vector @@ CAST(? AS tsquery) AND a.search_vector @@ {own}{where}"
        " ORDER BY 3 DESC, a.id"
    )
    return sql, [text, probe, text, *params]
