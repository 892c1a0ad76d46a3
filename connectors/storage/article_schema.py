"""The schema of stored articles, as versioned migrations (component ``articles``).

Tables:

- ``articles``: one row per article id, its current revision; ``data`` is the
  article's JSON exactly as serialised (TEXT, not JSONB, so both engines give
  back the same bytes), ``feeds`` the JSON list of every feed that listed it.
  ``page_etag`` and ``page_last_modified`` are the validators the article's page
  was served with when last fetched (NULL before migration 7 and for pages
  served without), ``page_url_key`` that page's URL as a
  :func:`~pipeline.keys.bounded_key` (indexed: a URL may be too long for a
  B-tree entry): an update's fetch of that URL sends them, to be answered 304.
  ``page_listed_key`` (migration 8, indexed) is the key of the URL the feed
  listed when a redirect led from it to that page (NULL without a redirect):
  an update requests the listed URL, so its validators are found by it too.
  ``page_fetched_at`` (migration 9) is when the page they came with was
  fetched (the message's ``fetched_at``): only a later fetch replaces them.
  Rows holding validators before it start from their ``fetched_at``, which is
  no later than the fetch that brought their validators.
- ``article_revisions``: every content revision ever stored (title and text),
  with the ``page_hash`` of the page it was extracted from (NULL before
  migration 6 and for articles that came without one).
- ``article_topics`` / ``article_entities``: the tags, one row each, keyed by a
  casefolded form so ``--topic`` and ``--entity`` filters use an index.
- Full-text search, kept current by triggers so no writer can forget it:
  SQLite: FTS5 table ``articles_fts`` with external content (``articles``);
  PostgreSQL: ``articles.search_vector`` (tsvector, GIN index), built with the
  text-search configuration of the article's language, ``simple`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.storage.db import Dialect
from connectors.storage.migrations import Migration, both

# ISO 639-1 code -> PostgreSQL text-search configuration shipped with PostgreSQL >= 12.
PG_TEXT_SEARCH_CONFIGS: dict[str, str] = {
    "ar": "arabic", "da": "danish", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "fi": "finnish", "fr": "french", "ga": "irish", "hu": "hungarian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "nb": "norwegian",
    "ne": "nepali", "nl": "dutch", "nn": "norwegian", "no": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil",
    "tr": "turkish",
}  # fmt: skip

# PostgreSQL caps a tsvector at 1 MB; the first this-many characters are indexed.
PG_INDEXED_CHARS = 200_000


def _articles_table(dialect: Dialect) -> Sequence[str]:
    # SQLite needs a stable integer rowid for the FTS5 external-content table
    # (an implicit rowid may change on VACUUM); ``seq`` is that rowid.
    key = (
        "seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE"
        if dialect == "sqlite"
        else 'id TEXT COLLATE "C" PRIMARY KEY'
    )
    return [
        f"""CREATE TABLE articles (
            {key},
            canonical_url TEXT NOT NULL,
            url TEXT NOT NULL,
            source TEXT NOT NULL,
            title TEXT,
            text TEXT NOT NULL,
            language TEXT,
            published_at TEXT,
            fetched_at TEXT NOT NULL,
            dated_at TEXT NOT NULL,
            duplicate_of TEXT,
            cluster_id TEXT,
            revision INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            feeds TEXT NOT NULL,
            data TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX articles_cluster ON articles (cluster_id)",
        "CREATE INDEX articles_duplicate_of ON articles (duplicate_of)",
        "CREATE INDEX articles_dated ON articles (dated_at)",
    ]


def _revisions_table(dialect: Dialect) -> Sequence[str]:
    key = "TEXT" if dialect == "sqlite" else 'TEXT COLLATE "C"'
    return [
        f"""CREATE TABLE article_revisions (
            article_id {key} NOT NULL,
            revision INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT,
            text TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            PRIMARY KEY (article_id, revision)
        )""",
        "CREATE UNIQUE INDEX article_revisions_hash"
        " ON article_revisions (article_id, content_hash)",
    ]


def _tag_tables(dialect: Dialect) -> Sequence[str]:
    key = "TEXT" if dialect == "sqlite" else 'TEXT COLLATE "C"'
    return [
        f"""CREATE TABLE article_topics (
            article_id {key} NOT NULL,
            topic TEXT NOT NULL,
            topic_key TEXT NOT NULL,
            PRIMARY KEY (article_id, topic_key)
        )""",
        "CREATE INDEX article_topics_key ON article_topics (topic_key, article_id)",
        f"""CREATE TABLE article_entities (
            article_id {key} NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            name_key TEXT NOT NULL,
            PRIMARY KEY (article_id, name_key, type)
        )""",
        "CREATE INDEX article_entities_key ON article_entities (name_key, article_id)",
    ]


def _full_text(dialect: Dialect) -> Sequence[str]:
    return _sqlite_fts() if dialect == "sqlite" else _postgres_fts()


def _sqlite_fts() -> Sequence[str]:
    columns = "rowid, title, text"
    add = f"INSERT INTO articles_fts ({columns}) VALUES (new.seq, new.title, new.text);"
    remove = (
        f"INSERT INTO articles_fts (articles_fts, {columns})"
        " VALUES ('delete', old.seq, old.title, old.text);"
    )
    return [
        "CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles',"
        " content_rowid='seq', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN {add} END",
        f"CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN {remove} END",
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles"
        f" BEGIN {remove} {add} END",
        "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",
    ]


def _postgres_fts() -> Sequence[str]:
    cases = " ".join(
        f"WHEN '{code}' THEN '{name}'::regconfig" for code, name in PG_TEXT_SEARCH_CONFIGS.items()
    )
    return [
        "CREATE FUNCTION newsflow_ts_config(language TEXT) RETURNS regconfig"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$"
        f" SELECT CASE lower(split_part(coalesce(language, ''), '-', 1)) {cases}"
        " ELSE 'simple'::regconfig END $$",
        "ALTER TABLE articles ADD COLUMN search_vector tsvector",
        "CREATE FUNCTION newsflow_articles_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN NEW.search_vector :="
        " setweight(to_tsvector(newsflow_ts_config(NEW.language), coalesce(NEW.title, '')), 'A')"
        " || setweight(to_tsvector(newsflow_ts_config(NEW.language),"
        f" left(NEW.text, {PG_INDEXED_CHARS})), 'B');"
        " RETURN NEW; END $$",
        "CREATE TRIGGER articles_search_vector BEFORE INSERT OR UPDATE OF title, text, language"
        " ON articles FOR EACH ROW EXECUTE FUNCTION newsflow_articles_search_vector()",
        "UPDATE articles SET title = title",
        "CREATE INDEX articles_search ON articles USING GIN (search_vector)",
    ]


COMPONENT = "articles"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "articles table", _articles_table),
    Migration(2, "article revisions", _revisions_table),
    Migration(3, "topic and entity side tables", _tag_tables),
    Migration(4, "full-text search", _full_text),
    Migration(
        5, "newest articles index", both("CREATE INDEX articles_stored ON articles (stored_at)")
    ),
    Migration(
        6, "page of each revision", both("ALTER TABLE article_revisions ADD COLUMN page_hash TEXT")
    ),
    Migration(
        7,
        "validators of each article's page",
        both(
            "ALTER TABLE articles ADD COLUMN page_etag TEXT",
            "ALTER TABLE articles ADD COLUMN page_last_modified TEXT",
            "ALTER TABLE articles ADD COLUMN page_url_key TEXT",
            "CREATE INDEX articles_page_url_key ON articles (page_url_key)",
        ),
    ),
    Migration(
        8,
        "the listed URL a redirect led from to each article's page",
        both(
            "ALTER TABLE articles ADD COLUMN page_listed_key TEXT",
            "CREATE INDEX articles_page_listed_key ON articles (page_listed_key)",
        ),
    ),
    Migration(
        9,
        "when each article's page validators were fetched",
        both(
            "ALTER TABLE articles ADD COLUMN page_fetched_at TEXT",
            "UPDATE articles SET page_fetched_at = fetched_at"
            " WHERE page_etag IS NOT NULL OR page_last_modified IS NOT NULL",
        ),
    ),
)
