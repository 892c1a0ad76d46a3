"""The residue statistics' schema, as versioned migrations (component ``residue_stats``).

Apart from :mod:`connectors.storage.residue_stats`, which imports the extraction
(trafilatura among it): ``newsflow store status|migrate`` lists every component's
migrations and must not pay for that import. The tables are described in
:mod:`connectors.storage.residue_stats`.
"""

from __future__ import annotations

from connectors.storage.migrations import Migration, both

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS residue_articles (
        source TEXT NOT NULL,
        article_key TEXT NOT NULL,
        seq BIGINT NOT NULL,
        line_keys TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        PRIMARY KEY (source, article_key)
    )""",
    "CREATE INDEX IF NOT EXISTS residue_articles_seq ON residue_articles (source, seq)",
    """CREATE TABLE IF NOT EXISTS residue_lines (
        source TEXT NOT NULL,
        line_key TEXT NOT NULL,
        articles INTEGER NOT NULL,
        sample TEXT NOT NULL,
        PRIMARY KEY (source, line_key)
    )""",
    "CREATE INDEX IF NOT EXISTS residue_lines_count ON residue_lines (source, articles)",
    """CREATE TABLE IF NOT EXISTS residue_overrides (
        source TEXT NOT NULL,
        line_key TEXT NOT NULL,
        verdict TEXT NOT NULL,
        sample TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (source, line_key)
    )""",
]


TABLES = ("residue_articles", "residue_lines", "residue_overrides")

COMPONENT = "residue_stats"
# IF NOT EXISTS in step 1: stores from before this step was versioned (every open ran
# SCHEMA) already have the tables; the step records them, so a service that may not run
# DDL (storage.migrate_on_start: false) finds nothing to do.
MIGRATIONS = (Migration(1, "residue statistics tables", both(*SCHEMA)),)
