"""The synthetic corpus: reproducible, per-source templates and residue, honest ground truth."""

from __future__ import annotations

from collections import Counter
from html import escape

from corpus import generate_site_pages, generate_sites, render_page, write_article
from corpus.quality import Score, case_from_page


def test_the_same_seed_gives_the_same_bytes() -> None:
    first = generate_site_pages(3, 4, seed=21)
    again = generate_site_pages(3, 4, seed=21)
    other = generate_site_pages(3, 4, seed=22)
    assert [p.html for p in first] == [p.html for p in again]
    assert [p.html for p in first] != [p.html for p in other]


def test_sites_have_their_own_template_language_and_repeated_residue() -> None:
    pages = generate_site_pages(10, 20, seed=7)
    assert len(pages) == 200
    sites = {p.site for p in pages}
    assert len(sites) == 10
    assert {p.language for p in pages} == {"en", "de", "fr", "es"}
    for site in sites:
        own = [p for p in pages if p.site == site]
        repeated = Counter(line for p in own for line in set(p.residue))
        assert max(repeated.values()) == len(own)  # at least one line on every page of the site
    templates = {s.layout for s in generate_sites(10, seed=7)}
    assert len(templates) == 6


def test_ground_truth_is_in_the_html() -> None:
    page = generate_site_pages(2, 1, seed=3)[0]
    for line in [*page.paragraphs, *page.residue]:
        assert escape(line) in page.html


def test_pages_can_be_padded_to_a_size_range() -> None:
    pages = generate_site_pages(2, 3, seed=5, size_kb=(30, 60))
    sizes = [len(p.html.encode("utf-8")) / 1024 for p in pages]
    assert all(29 <= size <= 62 for size in sizes)


def test_an_article_can_be_published_on_another_site() -> None:
    import random

    sites = generate_sites(2, seed=1)
    article = write_article(random.Random(4), language=sites[1].language, topic="science")
    page = render_page(sites[1], 0, random.Random(5), article=article)
    assert page.sentences == article.sentences
    assert page.site == sites[1].domain


def test_score_counts_like_trafilaturas_evaluation() -> None:
    page = generate_site_pages(1, 1, seed=8)[0]
    case = case_from_page(page)
    perfect = Score()
    perfect.add("\n".join(page.paragraphs), case)
    assert (perfect.precision, perfect.recall) == (1.0, 1.0)
    noisy = Score()
    noisy.add("\n".join([*page.paragraphs[:-1], *page.residue]), case)
    assert noisy.precision < 1.0 and noisy.recall < 1.0
