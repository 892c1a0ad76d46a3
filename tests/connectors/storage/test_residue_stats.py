"""Learned-boilerplate statistics in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.storage.db import Database
from connectors.storage.residue_stats import ResidueStatsRepository


@pytest.fixture
def repo(store_url: str) -> Iterator[ResidueStatsRepository]:
    db = Database(store_url)
    yield ResidueStatsRepository(db)
    db.close()


def article(n: int, *template: str) -> dict[str, str]:
    """Lines of article ``n``: its own sentence plus the given template lines."""
    lines = {f"sentence of article {n}": f"Sentence of article {n}."}
    lines.update({t.lower(): t for t in template})
    return lines


def learned_template(repo: ResidueStatsRepository, source: str = "example.com") -> set[str]:
    return set(repo.learned(source, min_articles=3, min_share=0.2).template)


def test_a_line_in_enough_distinct_articles_becomes_template(repo: ResidueStatsRepository) -> None:
    for n in range(2):
        assert (
            repo.observe("example.com", f"a{n}", article(n, "Titre Aval"), window=50) == "counted"
        )
    assert learned_template(repo) == set()  # two articles are not enough to learn from
    repo.observe("example.com", "a2", article(2, "Titre Aval"), window=50)
    assert learned_template(repo) == {"titre aval"}
    assert learned_template(repo, "other.org") == set()  # state is per source


def test_the_same_article_is_counted_once(repo: ResidueStatsRepository) -> None:
    for _ in range(3):
        repo.observe("example.com", "same", article(1, "Titre Aval"), window=50)
    assert repo.article_count("example.com") == 1
    assert learned_template(repo) == set()


def test_an_article_counted_already_does_not_count_towards_its_own_snapshot(
    repo: ResidueStatsRepository,
) -> None:
    for n in range(2):
        repo.observe("example.com", f"a{n}", article(n, "Titre Aval", "Lire aussi"), window=50)
    before = repo.learned("example.com", min_articles=3, min_share=0.2, excluding="a2")
    repo.observe("example.com", "a2", article(2, "Titre Aval"), window=50)
    again = repo.learned("example.com", min_articles=3, min_share=0.2, excluding="a2")
    assert again == before and again.template == frozenset() and again.articles == 2
    assert learned_template(repo) == {"titre aval"}  # for every other article it is template
    other = repo.learned("example.com", min_articles=3, min_share=0.2, excluding="a0")
    assert other.template == frozenset()  # a0's own count is left out too: 2 of 2 others
    repo.observe("example.com", "a3", article(3, "Titre Aval"), window=50)
    assert repo.learned(
        "example.com", min_articles=3, min_share=0.2, excluding="a2"
    ).template == frozenset({"titre aval"})  # a0, a1 and a3 carry it without a2


def test_a_near_copy_does_not_make_its_sentences_template(repo: ResidueStatsRepository) -> None:
    body = {f"sentence {i}": f"Sentence {i}." for i in range(5)}
    assert (
        repo.observe("example.com", "orig", body, window=50, content_keys=list(body)) == "counted"
    )
    for copy in ("amp", "updated", "print"):
        outcome = repo.observe("example.com", copy, body, window=50, content_keys=list(body))
        assert outcome == "near_copy"
    assert learned_template(repo) == set()


def test_the_window_bounds_the_state_and_forgets_old_lines(repo: ResidueStatsRepository) -> None:
    for n in range(5):
        repo.observe("example.com", f"old{n}", article(n, "Old Promo"), window=10)
    for n in range(5, 15):
        repo.observe("example.com", f"new{n}", article(n, "New Promo"), window=10)
    assert repo.article_count("example.com") == 10
    assert learned_template(repo) == {"new promo"}
    report = repo.report("example.com", min_articles=3, min_share=0.2)
    assert [line.key for line in report.lines] == ["new promo"]
    rows = repo.db.execute("SELECT COUNT(*) FROM residue_lines WHERE source = ?", ("example.com",))
    assert rows[0][0] == 11  # ten article sentences and the promo: old lines were counted down


def test_overrides_win_and_can_be_cleared(repo: ResidueStatsRepository) -> None:
    repo.set_override("example.com", "weekly review", "Weekly Review", "allow")
    repo.set_override("example.com", "titre aval", "Titre Aval", "deny")
    repo.set_override("example.com", "titre aval", "Titre Aval", "deny")  # idempotent
    learned = repo.learned("example.com", min_articles=3, min_share=0.2)
    assert learned.verdict("weekly review") == "allow"
    assert learned.verdict("titre aval") == "deny"
    assert repo.clear_override("example.com", "titre aval") is True
    assert repo.clear_override("example.com", "titre aval") is False
    assert [o.sample for o in repo.overrides("example.com")] == ["Weekly Review"]


def test_state_survives_a_restart_and_is_shared(store_url: str) -> None:
    first = Database(store_url)
    for n in range(3):
        ResidueStatsRepository(first).observe(
            "example.com", f"a{n}", article(n, "Bloc Promo"), window=50
        )
    first.close()
    second = Database(store_url)  # a restarted worker, or another one
    try:
        assert learned_template(ResidueStatsRepository(second)) == {"bloc promo"}
        assert ResidueStatsRepository(second).sources() == [("example.com", 3)]
    finally:
        second.close()


def test_workers_counting_at_once_count_each_article_once(store_url: str) -> None:
    """Two workers, each with its own connection, offered the same and different articles."""
    from concurrent.futures import ThreadPoolExecutor

    def worker(name: str) -> None:
        db = Database(store_url)
        try:
            repo = ResidueStatsRepository(db)
            for n in range(20):
                repo.observe("example.com", f"shared{n}", article(n, "Bloc Promo"), window=25)
                repo.observe("example.com", f"{name}{n}", article(100 + n, "Bloc Promo"), window=25)
        finally:
            db.close()

    ResidueStatsRepository(Database(store_url)).db.close()  # schema first, then race
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(worker, ["left", "right"]))
    db = Database(store_url)
    try:
        repo = ResidueStatsRepository(db)
        in_window = repo.article_count("example.com")
        assert 25 <= in_window <= 26  # the window, plus at most one per concurrent worker
        [(count,)] = db.execute(
            "SELECT articles FROM residue_lines WHERE source = ? AND line_key = ?",
            ("example.com", "bloc promo"),
        )
        assert count == in_window  # each article counted once, each evicted one counted down once
    finally:
        db.close()
