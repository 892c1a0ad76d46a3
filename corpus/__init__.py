"""Synthetic, seeded news pages with ground truth, for tests and benchmarks.

Everything is generated offline from hand-written banks, so the same seed
gives the same bytes on every machine::

    from corpus import generate_site_pages
    pages = generate_site_pages(n_sites=10, pages_per_site=20, seed=7)

``Page`` carries the URL, the HTML and the truth: article lines and sentences,
in-article residue lines, chrome strings, title, authors, date, language, topic.
:func:`render_page` publishes a given :class:`Article` on a given :class:`Site`
(for syndication and near-duplicate sets).
"""

from corpus.prose import LANGUAGES, TOPICS, Article, headline, write_article
from corpus.sites import Page, Site, generate_site_pages, generate_sites, render_page

__all__ = [
    "LANGUAGES",
    "TOPICS",
    "Article",
    "Page",
    "Site",
    "generate_site_pages",
    "generate_sites",
    "headline",
    "render_page",
    "write_article",
]
