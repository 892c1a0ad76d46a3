"""The generic rules file: loading, validation, categories in four languages, per-source lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import SHIPPED_RESIDUE_RULES
from pipeline.errors import ConfigError
from pipeline.extraction.lines import Line
from pipeline.extraction.rules import ResidueRules, load_rules, parse_rules
from pipeline.extraction.urls import source_of
from pipeline.urls import canonicalize_url

RULES_FILE = SHIPPED_RESIDUE_RULES


@pytest.fixture(scope="module")
def rules() -> ResidueRules:
    return load_rules(RULES_FILE)


def category(rules: ResidueRules, text: str, position: int = 5) -> str | None:
    found = rules.category(Line(text=text, index=position), position)
    return found.name if found else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Share your story", "call_to_action"),
        ("Send your Videos and Photos to us• National", "call_to_action"),
        ("News Summary Repeat (3') - DC", "programme_teaser"),
        ("Science Weekly", "show_name"),
        ("Le Journal de 20h", "programme_teaser"),
        ("Read more: Talks on the water treaty stall", "read_more"),
        ("We use cookies to improve your experience", "cookie_notice"),
        ("Follow Press TV on Telegram", "share_prompt"),
        ("Folgen Sie uns auf Instagram", "share_prompt"),
        ("Jetzt Newsletter abonnieren", "newsletter"),
        ("Schicken Sie uns Ihre Fotos und Videos", "call_to_action"),
        ("À lire aussi : La réforme des retraites divise", "read_more"),
        ("Abonnez-vous à notre newsletter", "newsletter"),
        ("Suscríbete a nuestro boletín", "newsletter"),
        ("Leer más: Calor récord en Sevilla", "read_more"),
        ("Foto: Anna Becker/dpa", "photo_credit"),
        ("(Reporting by Pieter de Vries in Brussels; Editing by Tom Whitfield)", "byline"),
        ("Market data delayed by at least 15 minutes.", "notice"),
        ("Advertisement", "advertisement"),
    ],
)
def test_residue_in_four_languages_is_recognised(
    rules: ResidueRules, text: str, expected: str
) -> None:
    assert category(rules, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Shares in Northwind Freight rose 4 percent after the results were published.",
        "Supporters who follow the club on the road face a long journey to Leeds.",
        "Viele Abgeordnete teilen die Sorge, dass der Zeitplan zu knapp ist.",
        "Les utilisateurs pourront partager des fichiers sans câble.",
        "Los usuarios podrán compartir archivos entre dispositivos sin cables.",
        "The newsletter went out to 3,000 members of the union on Monday morning.",
        "What happens next for Maria Okafor",
        "Valuable Relationship",
        "Related research has shown that sleep matters for memory.",
        "Share the road with cyclists, the campaign urges drivers.",
        "Our principles are clear, the minister said on Monday.",
        "The cookie business grew fast",
        "Les abonnés en colère",
        "What to watch tonight",
        "The 24h race at Le Mans",
    ],
)
def test_article_sentences_and_subheadings_are_left_alone(rules: ResidueRules, text: str) -> None:
    assert category(rules, text) is None


def test_kickers_only_count_at_the_top(rules: ResidueRules) -> None:
    assert category(rules, "Analysis", position=0) == "kicker"
    assert category(rules, "Analysis", position=7) is None


def test_per_source_deny_and_allow_lists() -> None:
    rules = parse_rules(
        {
            "categories": {},
            "sources": {"www.Example.com": {"deny": ["^Titre Aval$"], "allow": ["^Keep$"]}},
        }
    )
    own = rules.for_source("example.com")
    assert own.deny is not None and own.deny.hit("Titre Aval")
    assert own.allow is not None and own.allow.hit("Keep")
    assert rules.for_source("other.org").deny is None


def test_a_source_is_keyed_as_its_urls_name_it() -> None:
    """An international domain was keyed as written (``bücher.example``) while every
    article's source is its IDNA form: the source's rules never applied."""
    rules = parse_rules({"categories": {}, "sources": {"www.Bücher.Example.": {"deny": ["^X$"]}}})
    own = rules.for_source(source_of(canonicalize_url("https://Bücher.example/a")))
    assert own.deny is not None and own.deny.hit("X")
    assert rules.for_source("BÜCHER.example").deny is not None


def test_invalid_rules_name_the_key_and_the_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(
            {
                "limits": {"max_words": 0},
                "categories": {"broken": {"patterns": {"en": ["(unclosed"]}}},
                "sources": {"example.com": ["not", "a", "mapping"]},
            }
        )
    problems = "\n".join(caught.value.problems)
    assert "limits.max_words: must be a positive integer" in problems
    assert "categories.broken.patterns: invalid regular expression '(unclosed'" in problems
    assert "sources.example.com: must be a mapping" in problems


def test_a_missing_rules_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="residue rules file not found"):
        load_rules(tmp_path / "nope.yaml")


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("categories: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_rules(bad)


@pytest.mark.parametrize("section", ["limits", "categories", "sources"])
@pytest.mark.parametrize("value", [7, "text", ["a", "list"]])
def test_a_section_that_is_not_a_mapping_is_named(section: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules({section: value})
    assert caught.value.problems == [f"{section}: must be a mapping"]
