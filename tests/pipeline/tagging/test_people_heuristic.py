"""People and organisations by heuristic: cues, surname resolution, and refusals."""

from __future__ import annotations

import pytest

from pipeline.models import Entity
from pipeline.tagging import KeywordTagger


def people(tagger: KeywordTagger, text: str, title: str | None = None) -> list[str]:
    return [e.name for e in tagger.tag(text, title=title).entities if e.type == "person"]


def organizations(tagger: KeywordTagger, text: str) -> list[str]:
    return [e.name for e in tagger.tag(text).entities if e.type == "organization"]


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Talks with President Vladimir Putin ended.", "Vladimir Putin"),
        ("Syrian President Bashar al-Assad stayed.", "Bashar al-Assad"),
        ("Under Supreme Leader Ali Khamenei policy shifted.", "Ali Khamenei"),
        ("The foreign minister Ana López left.", "Ana López"),
        ("Kremlin spokesman Dmitry Peskov declined.", "Dmitry Peskov"),
        ('"We will not," said Maria Schmidt on Monday.', "Maria Schmidt"),
        ("Kazem Jalali urged closer cooperation.", "Kazem Jalali"),
        ("Laut Bundeskanzler Olaf Scholz ist das so.", "Olaf Scholz"),
        ("Selon le président Emmanuel Macron, rien ne change.", "Emmanuel Macron"),
        ("La ministra Ana Redondo anunció el plan.", "Ana Redondo"),
        ("Marine Le Pen said the vote was lost.", "Marine Le Pen"),
        ("According to Ursula von der Leyen the deal holds.", "Ursula von der Leyen"),
        ("The goal came from striker Kofi Mensah late on.", "Kofi Mensah"),
        ("said the lead author, materials scientist Aiko Tanaka.", "Aiko Tanaka"),
        ('"We stay," said al-Sadr Mahmoud.', "al-Sadr Mahmoud"),  # a run opening on a particle
    ],
)
def test_cued_names_are_people(tagger: KeywordTagger, text: str, person: str) -> None:
    assert people(tagger, text) == [person]


def test_surname_alone_resolves_to_the_full_name(tagger: KeywordTagger) -> None:
    text = (
        "Elaheh Koulai described ties between the two countries. "
        "Koulai said a balance was needed. Later, Koulai added that talks should go on."
    )
    assert people(tagger, text) == ["Elaheh Koulai"]


def test_a_surname_shared_by_two_full_names_resolves_to_neither(tagger: KeywordTagger) -> None:
    text = "Anna Berger spoke first. Paul Berger arrived late. Berger said nothing."
    assert people(tagger, text) == []


@pytest.mark.parametrize(
    "text",
    [
        "The White House said it would respond.",  # an organisation head, not a name
        "But Biden said no.",  # one name word after a sentence starter
        "Deutsche Bahn sagte alle Züge ab.",  # a demonym is never part of a name
        "Nord Stream runs under the Baltic Sea.",  # no cue at all
        "Caspar David Friedrich painted the sea.",  # a real name, but nothing vouches for it
        "The Islamic Republic has taken the same approach.",
        "Press TV reported on Monday.",  # acronym: no person
        "In Washington Post reporters said little.",
        "Prices must rise, according to International Monetary Fund estimates.",  # an org
        "Analysts at Goldman Sachs Bank said rates will fall.",  # words before an org head
    ],
)
def test_uncued_or_unlikely_names_are_not_people(tagger: KeywordTagger, text: str) -> None:
    assert people(tagger, text) == []


def test_title_case_headlines_are_not_read_for_people(tagger: KeywordTagger) -> None:
    assert people(tagger, "Nothing here.", title="Markets Rally As Investors Said Cheer") == []


@pytest.mark.parametrize(
    ("text", "organization"),
    [
        ("The Central Bank of Iran raised rates.", "Central Bank of Iran"),
        ("Iran's Foreign Ministry denied the report.", "Foreign Ministry"),
        ("Die Bundesagentur für Arbeit meldete Zahlen.", "Bundesagentur für Arbeit"),
        ("El Banco de España mejoró su previsión.", "Banco de España"),
        ("Jamaran News in Tehran reported on Monday.", "Jamaran News"),
        ("Das Robert Koch-Institut rät zur Impfung.", "Robert Koch-Institut"),
    ],
)
def test_organisations_by_head_word(tagger: KeywordTagger, text: str, organization: str) -> None:
    assert organizations(tagger, text) == [organization]


def test_a_list_of_organisations_is_not_one_organisation(tagger: KeywordTagger) -> None:
    text = "The US Federal Reserve and the Bank of England held rates."
    assert organizations(tagger, text) == ["Federal Reserve", "Bank of England"]


def test_known_organisations_keep_their_lexicon_name(tagger: KeywordTagger) -> None:
    result = tagger.tag("The European Central Bank and the Soviet Union archives.")
    assert Entity(name="European Central Bank", type="organization") in result.entities
    assert Entity(name="Soviet Union", type="place") in result.entities
    assert [e.name for e in result.entities].count("European Central Bank") == 1
