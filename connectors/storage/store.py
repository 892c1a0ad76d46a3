"""The store facade: one database connection and every repository on it.

``open_store(url)`` opens the database, migrates each repository's schema and
hands back the repositories; a stage receives the one it needs::

    with open_store("sqlite:///data/newsflow.db") as store:
        store.articles.upsert(article)
        hits = store.search.search(SearchQuery("energy prices"))

Another repository joins by adding one attribute in :meth:`Store.__init__`.
"""

from __future__ import annotations

from types import TracebackType

from connectors.storage.articles import ArticleRepository
from connectors.storage.db import Access, Database
from connectors.storage.dead_letters import DeadLetterRepository
from connectors.storage.search import ArticleSearch
from connectors.storage.write_probe import WriteProbe


class Store:
    """Repositories sharing one :class:`Database`; like it, use one per thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.articles = ArticleRepository(db)
        self.dead_letters = DeadLetterRepository(db)
        self.search = ArticleSearch(db)
        self.probe = WriteProbe(db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_store(url: str, *, access: Access = "create", migrate: bool = True) -> Store:
    """Open ``sqlite:///PATH`` or ``postgresql://...`` with its schema migrated to current.

    ``access="read"`` opens it read-only and checks the schema instead, as does
    ``migrate=False``; ``"write"`` refuses a missing SQLite file (see
    :data:`~connectors.storage.db.Access`).
    """
    db = Database(url, access=access, migrate=migrate)
    try:
        return Store(db)
    except BaseException:
        db.close()
        raise
