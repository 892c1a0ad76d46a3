"""Per-source line statistics for learned boilerplate, in the store.

Every worker counts into the same tables, so what one process learns all of
them use, and it survives restarts. For each source (publisher domain) the
store keeps the line keys of its last ``window`` distinct articles and, per
line key, in how many of those articles it appears; when an article leaves
the window its lines are counted down, so the state is bounded per source.
Users override the counts with allow/deny lists (``newsflow residue``).

Tables::

    residue_articles   (source, article_key) -> seq, line keys (JSON)
    residue_lines      (source, line_key)    -> articles, sample text
    residue_overrides  (source, line_key)    -> allow | deny, sample text

SQL is written once for SQLite and PostgreSQL (``?`` placeholders, ``ON
CONFLICT`` upserts).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from connectors.storage.db import Database
from connectors.storage.migrations import migrate, require_tables
from connectors.storage.residue_schema import COMPONENT, MIGRATIONS, TABLES
from pipeline.extraction.learned import LearnedBoilerplate, template_threshold
from pipeline.models import utcnow

Override = Literal["allow", "deny"]
ObserveResult = Literal["counted", "seen", "near_copy"]
MAX_LINES_PER_ARTICLE = 400  # a page with more lines than this is not counted past it
SAMPLE_CHARS = 300


@dataclass(frozen=True)
class LearnedLine:
    key: str
    sample: str
    articles: int


@dataclass(frozen=True)
class OverrideLine:
    key: str
    sample: str
    verdict: Override


@dataclass(frozen=True)
class SourceReport:
    """What ``newsflow residue show`` prints for one source."""

    source: str
    articles: int
    threshold: int
    lines: list[LearnedLine]
    overrides: list[OverrideLine]


class ResidueStatsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        if db.read_only:  # a store from before step 1 was versioned has no ledger row
            require_tables(db, "residue statistics", TABLES)
        else:
            migrate(db, COMPONENT, MIGRATIONS)

    def observe(
        self,
        source: str,
        article_key: str,
        lines: Mapping[str, str],
        *,
        window: int,
        content_keys: Collection[str] = (),
        near_copy_share: float = 0.5,
    ) -> ObserveResult:
        """Count one article's distinct lines (key -> sample text) for ``source``.

        An article already in the window is not counted twice ("seen"). Neither is
        one whose ``content_keys`` (its kept sentences) are mostly counted already
        ("near_copy"): a revision or a syndicated copy would otherwise make its own
        sentences look like template.
        """
        keys = list(dict.fromkeys(lines))[:MAX_LINES_PER_ARTICLE]
        with self.db.transaction():
            if self._has_article(source, article_key):
                return "seen"
            if content_keys and self._known_share(source, content_keys) >= near_copy_share:
                return "near_copy"
            if not self._insert_article(source, article_key, keys):
                return "seen"  # another worker counted it a moment ago
            self.db.executemany(
                "INSERT INTO residue_lines (source, line_key, articles, sample) VALUES (?,?,1,?)"
                " ON CONFLICT (source, line_key)"
                " DO UPDATE SET articles = residue_lines.articles + 1",
                [(source, key, lines[key][:SAMPLE_CHARS]) for key in keys],
            )
            self._evict(source, window)
        return "counted"

    def learned(
        self, source: str, *, min_articles: int, min_share: float, excluding: str | None = None
    ) -> LearnedBoilerplate:
        """The snapshot the filter uses: template lines and overrides of ``source``.

        ``excluding`` is the key of the article about to be filtered. If it was
        counted already (a second feed listing it, a replay after a crash), the
        snapshot leaves its own lines out: otherwise its own count could make
        them template, and extracting an unchanged page again would give other
        text, hence a new revision.
        """
        counted = self._line_keys(source, excluding) if excluding is not None else None
        own = counted or frozenset()
        articles = self.article_count(source) - (counted is not None)
        threshold = template_threshold(articles, min_articles=min_articles, min_share=min_share)
        rows = self.db.execute(
            "SELECT line_key, articles FROM residue_lines WHERE source = ? AND articles >= ?",
            (source, threshold),
        )
        overrides = self.overrides(source)
        return LearnedBoilerplate(
            source=source,
            template=frozenset(key for key, count in rows if count - (key in own) >= threshold),
            allow=frozenset(o.key for o in overrides if o.verdict == "allow"),
            deny=frozenset(o.key for o in overrides if o.verdict == "deny"),
            articles=articles,
        )

    def report(
        self, source: str, *, min_articles: int, min_share: float, limit: int = 50
    ) -> SourceReport:
        """The most repeated lines of ``source`` with their counts, and its overrides."""
        articles = self.article_count(source)
        rows = self.db.execute(
            "SELECT line_key, sample, articles FROM residue_lines WHERE source = ? AND articles > 1"
            " ORDER BY articles DESC, line_key LIMIT ?",
            (source, limit),
        )
        return SourceReport(
            source=source,
            articles=articles,
            threshold=template_threshold(articles, min_articles=min_articles, min_share=min_share),
            lines=[LearnedLine(key=r[0], sample=r[1], articles=int(r[2])) for r in rows],
            overrides=self.overrides(source),
        )

    def sources(self) -> list[tuple[str, int]]:
        """Every source with state, and how many articles its window holds."""
        rows = self.db.execute(
            "SELECT source, COUNT(*) FROM residue_articles GROUP BY source ORDER BY source"
        )
        return [(r[0], int(r[1])) for r in rows]

    def article_count(self, source: str) -> int:
        rows = self.db.execute("SELECT COUNT(*) FROM residue_articles WHERE source = ?", (source,))
        return int(rows[0][0])

    def set_override(self, source: str, key: str, sample: str, verdict: Override) -> None:
        self.db.execute(
            "INSERT INTO residue_overrides (source, line_key, verdict, sample, created_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT (source, line_key)"
            " DO UPDATE SET verdict = excluded.verdict, sample = excluded.sample",
            (source, key, verdict, sample[:SAMPLE_CHARS], utcnow().isoformat()),
        )

    def clear_override(self, source: str, key: str) -> bool:
        with self.db.transaction():
            found = self.db.execute(
                "SELECT 1 FROM residue_overrides WHERE source = ? AND line_key = ?", (source, key)
            )
            self.db.execute(
                "DELETE FROM residue_overrides WHERE source = ? AND line_key = ?", (source, key)
            )
        return bool(found)

    def overrides(self, source: str) -> list[OverrideLine]:
        rows = self.db.execute(
            "SELECT line_key, sample, verdict FROM residue_overrides WHERE source = ?"
            " ORDER BY verdict, line_key",
            (source,),
        )
        return [OverrideLine(key=r[0], sample=r[1], verdict=r[2]) for r in rows]

    def _known_share(self, source: str, keys: Collection[str]) -> float:
        unique = list(dict.fromkeys(keys))[:MAX_LINES_PER_ARTICLE]
        marks = ",".join("?" for _ in unique)
        rows = self.db.execute(
            f"SELECT COUNT(*) FROM residue_lines WHERE source = ? AND line_key IN ({marks})",
            (source, *unique),
        )
        return int(rows[0][0]) / len(unique)

    def _has_article(self, source: str, article_key: str) -> bool:
        return bool(
            self.db.execute(
                "SELECT 1 FROM residue_articles WHERE source = ? AND article_key = ?",
                (source, article_key),
            )
        )

    def _line_keys(self, source: str, article_key: str) -> frozenset[str] | None:
        """The line keys counted for an article in the window; None if it is not there."""
        rows = self.db.execute(
            "SELECT line_keys FROM residue_articles WHERE source = ? AND article_key = ?",
            (source, article_key),
        )
        return frozenset(json.loads(rows[0][0])) if rows else None

    def _insert_article(self, source: str, article_key: str, keys: list[str]) -> bool:
        """Insert the article row; False when a concurrent worker inserted it first."""
        last = self.db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM residue_articles WHERE source = ?", (source,)
        )
        inserted = self.db.execute(
            "INSERT INTO residue_articles (source, article_key, seq, line_keys, observed_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT (source, article_key) DO NOTHING RETURNING seq",
            (source, article_key, int(last[0][0]) + 1, json.dumps(keys), utcnow().isoformat()),
        )
        return bool(inserted)

    def _evict(self, source: str, window: int) -> None:
        """Drop the articles that fell out of the window and count their lines down.

        ``DELETE ... RETURNING`` hands each evicted article to exactly one
        worker, so two workers evicting at once never count its lines down twice.
        Workers committing at the same moment may leave a few articles more than
        the window until the next observation trims it (at most one per worker).
        """
        oldest_kept = self.db.execute(
            "SELECT seq, article_key FROM residue_articles WHERE source = ?"
            " ORDER BY seq DESC, article_key DESC LIMIT 1 OFFSET ?",
            (source, window - 1),
        )
        if not oldest_kept:
            return
        seq, key = oldest_kept[0]
        evicted = self.db.execute(
            "DELETE FROM residue_articles WHERE source = ?"
            " AND (seq < ? OR (seq = ? AND article_key < ?)) RETURNING line_keys",
            (source, seq, seq, key),
        )
        decrements = [(source, key) for (line_keys,) in evicted for key in json.loads(line_keys)]
        if decrements:
            self.db.executemany(
                "UPDATE residue_lines SET articles = articles - 1"
                " WHERE source = ? AND line_key = ?",
                decrements,
            )
            self.db.execute(
                "DELETE FROM residue_lines WHERE source = ? AND articles <= 0", (source,)
            )
