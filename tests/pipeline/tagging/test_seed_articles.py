"""The issue's acceptance check on the two seed articles (the repo's copy of shared/seeds)."""

from __future__ import annotations

from tagging_fixtures import SEEDS

from pipeline.models import Entity
from pipeline.tagging import KeywordTagger, TagResult

REQUIRED_LABELS = {"politics", "politics/international-relations", "conflict-war-peace"}
REQUIRED_ENTITIES = {"Iran", "Russia", "NATO", "Syria", "Ukraine", "China", "Turkey"}


def tag_seeds(tagger: KeywordTagger) -> list[TagResult]:
    assert len(SEEDS) == 2, "bench/data/dedup/seeds must hold the two seed articles"
    return [tagger.tag(path.read_text(encoding="utf-8"), language="en") for path in SEEDS]


def test_both_seeds_are_politics_international_relations_and_conflict(
    tagger: KeywordTagger,
) -> None:
    for result in tag_seeds(tagger):
        assert set(result.labels) >= REQUIRED_LABELS


def test_seed_entities_cover_the_required_countries_and_nato(tagger: KeywordTagger) -> None:
    found = {e.name for result in tag_seeds(tagger) for e in result.entities}
    assert found >= REQUIRED_ENTITIES


def test_seed_people_are_full_names_and_nothing_else(tagger: KeywordTagger) -> None:
    first, second = tag_seeds(tagger)
    people = [{e.name for e in r.entities if e.type == "person"} for r in (first, second)]
    assert people[0] == {
        "Kazem Jalali",
        "Vladimir Putin",
        "Ali Khamenei",
        "Ruhollah Khomeini",
        "Elaheh Koulai",
    }
    assert people[1] == {"Hossein Jaberi Ansari", "Bashar al-Assad"}
    assert Entity(name="Press TV", type="organization") in second.entities


def test_seed_tags_carry_evidence(tagger: KeywordTagger) -> None:
    first, _ = tag_seeds(tagger)
    relations = next(t for t in first.topics if t.label == "politics/international-relations")
    assert {"envoy", "ambassador", "foreign policy"} <= set(relations.evidence)
