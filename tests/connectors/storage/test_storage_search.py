"""Full-text search and filters on both engines; hostile queries are only text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from storage_samples import BASE_TIME, INJECTIONS, apply, make_article, pipeline_input

from connectors.storage import SearchQuery, Store, open_store
from connectors.storage.search import fts5_match, parse_since, query_words
from pipeline.errors import InputError


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        apply(opened.articles, pipeline_input())
        yield opened


def slugs(store: Store, query: SearchQuery) -> list[str]:
    return [hit.article.url.rsplit("/", 1)[1] for hit in store.search.search(query)]


def table_counts(store: Store) -> dict[str, int]:
    names = ["articles", "article_revisions", "article_topics", "article_entities"]
    return {n: int(store.db.execute(f"SELECT COUNT(*) FROM {n}")[0][0]) for n in names}


def test_every_word_must_match_in_title_or_text(store: Store) -> None:
    assert slugs(store, SearchQuery("finance minister budget")) == ["budget"]
    assert slugs(store, SearchQuery("finance minister football")) == []
    # the title counts too, case does not matter
    assert "iran-russia" in slugs(store, SearchQuery("ENVOY expansion"))


def test_the_current_revision_is_what_is_searched(store: Store) -> None:
    assert slugs(store, SearchQuery("Parliament Friday")) == ["budget"]
    old_only = make_article("budget", "Completely different words now.", hours=4)
    store.articles.upsert(old_only)
    assert slugs(store, SearchQuery("Parliament Friday")) == []
    assert slugs(store, SearchQuery("completely different")) == ["budget"]


def test_non_latin_and_unknown_language_text_is_found(store: Store) -> None:
    assert slugs(store, SearchQuery("Москва")) == ["moscow"]
    assert slugs(store, SearchQuery("Schnee April")) == ["unknown-language"]


def test_better_matches_rank_first(store: Store) -> None:
    store.articles.upsert(make_article("title-hit", "Body without it.", title="Volcano erupts"))
    store.articles.upsert(make_article("body-hit", "A volcano was mentioned once.", title="News"))
    hits = store.search.search(SearchQuery("volcano"))
    assert [h.article.title for h in hits] == ["Volcano erupts", "News"]
    assert hits[0].score > hits[1].score > 0


def test_filters_by_topic_entity_and_date(store: Store) -> None:
    economy = SearchQuery("", topic="Economy, Business and Finance")
    assert sorted(slugs(store, economy)) == ["bourse", "budget"]
    assert slugs(store, SearchQuery("Bourse", topic="economy, business and finance")) == ["bourse"]
    russia = sorted(slugs(store, SearchQuery("", entity="russia")))
    assert russia == ["iran-russia", "moscow"]
    assert slugs(store, SearchQuery("NATO", entity="Russia")) == ["iran-russia"]
    assert slugs(store, SearchQuery("", topic="no such topic")) == []
    since = BASE_TIME.replace(hour=BASE_TIME.hour + 7)
    newest_first = slugs(store, SearchQuery("", entity="Russia", since=since))
    assert newest_first == ["moscow"]
    assert slugs(store, SearchQuery("", topic="sport", since=date(2024, 5, 2))) == []


def test_a_query_without_words_lists_newest_first(store: Store) -> None:
    found = slugs(store, SearchQuery("", since=BASE_TIME, limit=3))
    assert found == ["hostile-6", "hostile-5", "hostile-4"]


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_injection_attempts_are_searched_as_text(store: Store, hostile: str) -> None:
    before = table_counts(store)
    n = INJECTIONS.index(hostile)
    hits = store.search.search(SearchQuery(f"{hostile} marker{n}"))
    assert [h.article.title for h in hits] == [hostile]
    assert hits[0].article.text == f"Quoted attack text: {hostile} marker{n}"
    tagged = SearchQuery(f"marker{n}", topic=hostile, entity=hostile)
    assert slugs(store, tagged) == [f"hostile-{n}"]
    assert table_counts(store) == before


@pytest.mark.parametrize(
    "query", ['"', "*", "NEAR(", "(", ")", "-", "^", ":", "'", "AND", "NOT OR", '"a" OR "b"']
)
def test_fts_operators_alone_are_no_error(store: Store, query: str) -> None:
    before = table_counts(store)
    try:
        store.search.search(SearchQuery(query))
    except InputError as exc:  # only "no words" is an acceptable refusal
        assert "no words" in str(exc)
    assert table_counts(store) == before


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (SearchQuery(""), "no words"),
        (SearchQuery("   --  "), "no words"),
        (SearchQuery("x", limit=0), "--limit"),
        (SearchQuery("x", limit=100_000), "--limit"),
        (SearchQuery("x" * 2000), "too long"),
        (SearchQuery("x", topic="   "), "--topic is empty"),
    ],
)
def test_unusable_queries_are_one_clear_error(
    store: Store, query: SearchQuery, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        store.search.search(query)


def test_query_words_are_quoted_for_fts5() -> None:
    assert query_words(' say "hi" -- NEAR( * ') == ["say", '"hi"', "NEAR("]
    assert fts5_match(['"hi"', "NEAR("]) == '"""hi""" "NEAR("'


@pytest.mark.postgres
def test_postgres_matches_word_forms_of_the_articles_language(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        apply(store.articles, pipeline_input())
        # English stemming: "presenting" and "votes" find "presented" / "vote"
        assert slugs(store, SearchQuery("presenting budgets")) == ["budget"]
        # Russian stemming: "переговоры" finds "переговорах"
        assert slugs(store, SearchQuery("переговоры")) == ["moscow"]


def test_since_is_read_as_utc_and_refused_when_utc_leaves_the_calendar() -> None:
    assert parse_since("2024-05-01T02:00:00+02:00") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        with pytest.raises(InputError, match="out of range"):
            parse_since(value)
