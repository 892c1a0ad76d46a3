"""Entities: one name per country, organisation and place, and care with ambiguous names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tagging_fixtures import ENTITIES

from pipeline.errors import ConfigError
from pipeline.models import Entity
from pipeline.tagging import KeywordTagger, load_lexicon

Writer = Callable[[str, str], Path]


def names(tagger: KeywordTagger, text: str) -> list[str]:
    return [e.name for e in tagger.tag(text).entities]


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("An Iranian official spoke.", "Iran"),
        ("Officials in Tehran said so.", "Iran"),
        ("Die Regierung in Teheran schwieg.", "Iran"),
        ("The Islamic Republic of Iran replied.", "Iran"),
        ("Russian Federation troops moved.", "Russia"),
        ("Sources in Moscow denied it.", "Russia"),
        ("La Russie a répondu.", "Russia"),
        ("Türkiye said it would mediate.", "Turkey"),
        ("Ankara said it would mediate.", "Turkey"),
        ("La diplomatie turque s'est exprimée.", "Turkey"),
        ("Syrian forces advanced near Damascus.", "Syria"),
        ("Pékin a protesté.", "China"),
        ("Estados Unidos y México firmaron.", "United States"),
        ("The North Atlantic Treaty Organization met.", "NATO"),
        ("L'OTAN s'est réunie.", "NATO"),
        ("Die Nato tagte.", "NATO"),
        ("The IMF cut its forecast.", "International Monetary Fund"),
        ("Omani mediators arrived.", "Oman"),
    ],
)
def test_names_demonyms_and_capitals_map_to_one_entity(
    tagger: KeywordTagger, text: str, entity: str
) -> None:
    assert entity in names(tagger, text)


def test_each_entity_is_reported_once_with_its_type(tagger: KeywordTagger) -> None:
    result = tagger.tag(
        "Iran and the Iranians: Tehran talks with NATO and the UN in the Middle East."
    )
    assert result.entities == [
        Entity(name="Iran", type="country"),
        Entity(name="NATO", type="organization"),
        Entity(name="United Nations", type="organization"),
        Entity(name="Middle East", type="place"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "The woman spoke to a roman soldier.",  # Oman in woman, Roman
        "We ate turkey and drank from china cups.",  # lower case: not countries
        "Who knows who won? Nobody.",  # 'Who' is not the WHO
        "Let us hope the un-named source is right.",  # 'us', 'un'
        "Chad Smith scored; Jordan Henderson passed.",  # weak names alone
        "Georgia voters went to the polls in Atlanta.",  # the US state, no Tbilisi
        "The Congo river flooded.",  # claimed by two countries: dropped
        "The Latin American summit opened.",  # a place, not the United States
    ],
)
def test_words_that_only_look_like_countries_are_not_countries(
    tagger: KeywordTagger, text: str
) -> None:
    entities = tagger.tag(text).entities
    assert not [e for e in entities if e.type in ("country", "organization")], entities


def test_weak_name_counts_beside_a_strong_name(tagger: KeywordTagger) -> None:
    assert "Georgia" in names(tagger, "Georgia's government in Tbilisi resigned.")
    assert "United States" in names(tagger, "Washington and the United States agreed.")


def test_longest_name_wins(tagger: KeywordTagger) -> None:
    assert names(tagger, "Papua New Guinea and Guinea-Bissau met.") == [
        "Papua New Guinea",
        "Guinea-Bissau",
    ]


def test_lexicon_error_names_the_key(write_yaml: Writer) -> None:
    path = write_yaml("e.yaml", "countries:\n  ZZ: {demonyms: [Zed]}\n")
    with pytest.raises(ConfigError) as caught:
        load_lexicon(path)
    assert caught.value.problems == ["countries.ZZ: not an ISO 3166 code; give it a name"]


def test_a_name_claimed_by_two_entities_is_a_config_error(write_yaml: Writer) -> None:
    path = write_yaml(
        "e.yaml",
        """
        countries:
          IR: {capitals: [Tehran]}
        organizations:
          Tehran Group: {aliases: [Tehran]}
        """,
    )
    with pytest.raises(ConfigError, match="'Tehran' is already a name of Iran"):
        load_lexicon(path)


def test_unknown_key_in_the_lexicon(write_yaml: Writer) -> None:
    path = write_yaml("e.yaml", "countries:\n  IR: {capital: [Tehran]}\n")
    with pytest.raises(ConfigError, match=r"countries\.IR\.capital: unknown key"):
        load_lexicon(path)


def test_project_lexicon_loads() -> None:
    lexicon = load_lexicon(ENTITIES)
    assert len({n.entity for n in lexicon.names if n.entity.type == "country"}) > 240
