"""The extract stage: pages in, articles out, learning per source as it goes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client import REGISTRY

from connectors.storage.db import Database
from connectors.storage.residue_stats import ResidueStatsRepository
from corpus import Page, generate_site_pages
from pipeline.config import SHIPPED_RESIDUE_RULES, ExtractConfig
from pipeline.errors import ExtractionError, StoreUnavailable
from pipeline.extraction import DeferredLines, load_rules
from pipeline.extraction.nesting import MAX_TAGS
from pipeline.models import ExtractedArticle, FeedEntry, FetchedPage, article_id
from pipeline.stages.base import run_chain
from pipeline.stages.extract import ExtractStage, StoredLines

RULES = SHIPPED_RESIDUE_RULES


@pytest.fixture
def stage(sqlite_url: str) -> Iterator[ExtractStage]:
    db = Database(sqlite_url)
    yield ExtractStage(load_rules(RULES), ResidueStatsRepository(db), ExtractConfig())
    db.close()


def fetched(page: Page, *, content_type: str = "text/html") -> FetchedPage:
    entry = FeedEntry(
        feed="site-feed", feed_kind="rss", url=page.url, published_at=page.published_at
    )
    return FetchedPage(entry=entry, url=page.url, html=page.html, content_type=content_type)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_page_becomes_an_article_with_its_metadata(stage: ExtractStage) -> None:
    page = generate_site_pages(1, 1, seed=3)[0]
    [article] = run_chain([stage], fetched(page))
    assert isinstance(article, ExtractedArticle)
    assert article.id == article_id(article.canonical_url)
    assert article.source == page.site
    assert article.feeds == ["site-feed"]
    assert article.language == page.language
    assert article.published_at == page.published_at
    assert all(sentence in " ".join(article.text.split()) for sentence in page.sentences)


def test_tracking_parameters_in_the_pages_canonical_link_do_not_change_the_id(
    stage: ExtractStage,
) -> None:
    """The feed link is canonicalised; the page's own canonical link must be too, or a site
    that echoes ``utm_*`` into it files one article under two ids."""
    page = generate_site_pages(1, 1, seed=3)[0]
    path = urlsplit(page.url).path
    tracked = page.html.replace(f'href="{path}"', f'href="{path}?utm_source=x&fbclid=y#top"', 1)
    assert tracked != page.html
    [plain] = run_chain([stage], fetched(page))
    [echoed] = run_chain([stage], fetched(replace(page, html=tracked)))
    assert isinstance(plain, ExtractedArticle) and isinstance(echoed, ExtractedArticle)
    assert echoed.canonical_url == plain.canonical_url == page.url
    assert echoed.id == plain.id == article_id(page.url)


def test_lines_a_source_repeats_are_learned_across_its_pages(stage: ExtractStage) -> None:
    pages = generate_site_pages(2, 8, seed=5)
    reasons: list[str] = []
    for page in pages:
        [article] = stage.process(fetched(page))
        assert isinstance(article, ExtractedArticle)
        reasons.extend(r.reason for r in article.removed)
        assert not any(line in article.text.splitlines() for line in page.residue[-1:])
    assert "learned:template" in reasons
    assert stage.learned_repo is not None
    assert {s for s, _ in stage.learned_repo.sources()} == {p.site for p in pages}


def test_extracting_a_page_again_gives_the_same_article(stage: ExtractStage) -> None:
    """A page listed by two feeds, or replayed after a crash, is extracted again after its
    own lines were counted; its own count must not turn them into template (that made a
    second revision of an unchanged page)."""
    pages = generate_site_pages(2, 8, seed=5)
    learned_on_first_pass = 0
    for page in pages:
        [first] = stage.process(fetched(page))
        [again] = stage.process(fetched(page))
        assert isinstance(first, ExtractedArticle) and isinstance(again, ExtractedArticle)
        assert (again.text, again.removed) == (first.text, first.removed), page.url
        learned_on_first_pass += sum(r.reason == "learned:template" for r in first.removed)
    assert learned_on_first_pass > 0  # the site's template was learned meanwhile


def test_a_deferred_counter_holds_the_lines_for_the_writer_to_count(tmp_path: Path) -> None:
    """An embedded extraction process writes nothing; its parent counts what it hands over,
    and the store ends up as if the stage had counted the lines itself."""
    pages = generate_site_pages(2, 8, seed=5)
    direct_db = Database(f"sqlite:///{tmp_path / 'direct.db'}")
    deferred_db = Database(f"sqlite:///{tmp_path / 'deferred.db'}")
    direct = ResidueStatsRepository(direct_db)
    deferred_repo = ResidueStatsRepository(deferred_db)
    held = DeferredLines()
    counting = ExtractStage(load_rules(RULES), direct, ExtractConfig())
    deferring = ExtractStage(load_rules(RULES), deferred_repo, ExtractConfig(), counter=held)
    writer = StoredLines(deferred_repo, ExtractConfig())
    for page in pages:
        counting.process(fetched(page))
        before = deferred_repo.article_count(page.site)
        deferring.process(fetched(page))
        assert deferred_repo.article_count(page.site) == before  # the stage wrote nothing
        observations = held.take()
        assert [o.article_key for o in observations] == [article_id(page.url)]
        for observation in observations:
            writer.count(observation)
    assert held.take() == []
    assert deferred_repo.sources() == direct.sources() == [(p.site, 8) for p in pages[::8]]
    reports = {
        site: (
            deferred_repo.report(site, min_articles=3, min_share=0.2).lines,
            direct.report(site, min_articles=3, min_share=0.2).lines,
        )
        for site in {p.site for p in pages}
    }
    assert all(got == want for got, want in reports.values())
    assert any(got for got, _ in reports.values())  # some lines were repeated and counted
    direct_db.close()
    deferred_db.close()


def test_a_store_that_takes_no_writes_is_raised_not_logged_per_article(tmp_path: Path) -> None:
    """Counting lines is best effort, but a store that cannot take work (here: refusing
    every write, as a full disk does) cannot store the article either: the runtime must
    wait for it, not log a warning per article and go on."""
    db = Database(f"sqlite:///{tmp_path / 'news.db'}")
    repo = ResidueStatsRepository(db)
    held = DeferredLines()
    stage = ExtractStage(load_rules(RULES), repo, ExtractConfig(), counter=held)
    stage.process(fetched(generate_site_pages(1, 1, seed=6)[0]))
    [observation] = held.take()
    db.execute("PRAGMA query_only = 1")
    before = metric("newsflow_extract_learned_observations_total", result="failed")

    with pytest.raises(StoreUnavailable):
        StoredLines(repo, ExtractConfig()).count(observation)

    assert metric("newsflow_extract_learned_observations_total", result="failed") == before
    db.close()


def test_metrics_count_removed_lines_and_outcomes(stage: ExtractStage) -> None:
    page = generate_site_pages(1, 1, seed=9)[0]
    before = metric("newsflow_extract_pages_total", source=page.site, outcome="ok")
    [article] = stage.process(fetched(page))
    assert isinstance(article, ExtractedArticle)
    assert metric("newsflow_extract_pages_total", source=page.site, outcome="ok") == before + 1
    reason = article.removed[0].reason
    assert metric("newsflow_extract_residue_lines_total", reason=reason) >= 1


def test_non_html_content_is_refused_and_counted(stage: ExtractStage) -> None:
    page = generate_site_pages(1, 1, seed=4)[0]
    before = metric("newsflow_extract_pages_total", source=page.site, outcome="not_html")
    with pytest.raises(ExtractionError) as caught:
        stage.process(fetched(page, content_type="application/pdf"))
    assert caught.value.reason == "not_html"
    assert (
        metric("newsflow_extract_pages_total", source=page.site, outcome="not_html") == before + 1
    )


def test_without_a_store_the_generic_rules_still_apply() -> None:
    page = generate_site_pages(1, 1, seed=3)[0]
    stage = ExtractStage(load_rules(RULES), None, ExtractConfig())
    [article] = stage.process(fetched(page))
    assert isinstance(article, ExtractedArticle)
    assert article.removed


def test_a_failing_store_degrades_to_the_generic_rules(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    stage = ExtractStage(load_rules(RULES), ResidueStatsRepository(db), ExtractConfig())
    db.close()  # every query now fails with a StorageError
    before = metric("newsflow_extract_learned_unavailable_total")
    page = generate_site_pages(1, 1, seed=3)[0]
    [article] = stage.process(fetched(page))
    assert isinstance(article, ExtractedArticle)
    assert article.removed and not any(r.reason.startswith("learned") for r in article.removed)
    assert metric("newsflow_extract_learned_unavailable_total") == before + 1


def test_a_page_nested_past_the_parsers_limit_is_flattened_and_counted(
    stage: ExtractStage,
) -> None:
    page = generate_site_pages(1, 1, seed=9)[0]
    start = page.html.index(">", page.html.index("<body")) + 1
    end = page.html.rindex("</body>")
    deep = replace(
        page,
        html=page.html[:start] + "<div>" * 1000 + page.html[start:end] + "</div>" * 1000
        + page.html[end:],
    )  # fmt: skip
    before = metric("newsflow_extract_flattened_total", source=page.site)
    [article] = stage.process(fetched(deep))
    assert isinstance(article, ExtractedArticle)
    assert "flattened" in article.flags
    assert page.sentences[1] in article.text
    assert metric("newsflow_extract_flattened_total", source=page.site) == before + 1


def test_a_page_cut_by_the_parser_and_too_deep_to_flatten_is_flagged_and_logged(
    stage: ExtractStage, caplog: pytest.LogCaptureFixture
) -> None:
    """What the parser read before its nesting limit is the article, flagged (it may stop
    short) and logged; not counted as flattened."""
    page = generate_site_pages(1, 1, seed=9)[0]
    middle = next(s for s in page.sentences[len(page.sentences) // 2 :] if s in page.html)
    cut = page.html.rindex("<p", 0, page.html.index(middle))
    end = page.html.rindex("</body>")
    wrappers = "".join(f'<div id="w{i}">' for i in range(MAX_TAGS))
    deep = replace(
        page,
        html=page.html[:cut] + wrappers + page.html[cut:end] + "</div>" * MAX_TAGS
        + page.html[end:],
    )  # fmt: skip
    before = metric("newsflow_extract_flattened_total", source=page.site)
    with caplog.at_level("WARNING", logger="pipeline.stages.extract"):
        [article] = stage.process(fetched(deep))
    assert isinstance(article, ExtractedArticle)
    assert "nesting_cut" in article.flags and "flattened" not in article.flags
    assert page.sentences[1] in article.text and middle not in article.text
    assert [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "nesting_cut"]
    assert metric("newsflow_extract_flattened_total", source=page.site) == before
