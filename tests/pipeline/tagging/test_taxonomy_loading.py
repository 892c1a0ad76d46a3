"""Loading taxonomies: the project's file, users' extension files, and every kind of mistake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tagging_fixtures import TAXONOMY

from pipeline.errors import ConfigError
from pipeline.tagging import load_taxonomy
from pipeline.tagging._terms import CaseRule

IPTC_TOP_LEVEL = {
    "arts-culture-entertainment": "medtop:01000000",
    "crime-law-justice": "medtop:02000000",
    "disaster-accident": "medtop:03000000",
    "economy-business-finance": "medtop:04000000",
    "education": "medtop:05000000",
    "environment": "medtop:06000000",
    "health": "medtop:07000000",
    "human-interest": "medtop:08000000",
    "labour": "medtop:09000000",
    "lifestyle-leisure": "medtop:10000000",
    "politics": "medtop:11000000",
    "religion": "medtop:12000000",
    "science-technology": "medtop:13000000",
    "society": "medtop:14000000",
    "sport": "medtop:15000000",
    "conflict-war-peace": "medtop:16000000",
    "weather": "medtop:17000000",
}

Writer = Callable[[str, str], Path]


def problems(paths: list[Path]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(paths)
    return "\n".join(caught.value.problems)


def test_project_taxonomy_has_the_17_iptc_categories_with_their_codes() -> None:
    taxonomy = load_taxonomy([TAXONOMY])
    assert {t.label: t.iptc_code for t in taxonomy.top_level()} == IPTC_TOP_LEVEL
    assert "politics/international-relations" in taxonomy.topics
    assert taxonomy.topics["politics/elections"].parent == "politics"


def test_every_top_level_topic_has_terms_in_four_languages() -> None:
    taxonomy = load_taxonomy([TAXONOMY])
    for topic in taxonomy.top_level():
        languages: set[str] = set()
        for label in [topic.label, *topic.children]:
            for term in taxonomy.topics[label].terms.values():
                languages |= term.languages
        assert {"en", "de", "fr", "es"} <= languages, topic.label


def test_term_marks_set_case_rule_wildcards_and_weight(write_yaml: Writer) -> None:
    path = write_yaml(
        "t.yaml",
        """
        topics:
          demo:
            terms:
              en: [election*, {NATO: 3}, Turkey, {"*wahl": 0.5}, {spam: -1}]
        """,
    )
    terms = {t.pattern.raw: t for t in load_taxonomy([path]).topics["demo"].terms.values()}
    assert terms["election*"].pattern.open_end and terms["election*"].weight == 1.0
    assert terms["NATO"].pattern.case is CaseRule.EXACT and terms["NATO"].weight == 3
    assert terms["Turkey"].pattern.case is CaseRule.CAPITALISED
    assert terms["*wahl"].pattern.open_start and terms["*wahl"].weight == 0.5
    assert terms["spam"].weight == -1


def test_invalid_yaml_names_the_line(write_yaml: Writer) -> None:
    path = write_yaml("bad.yaml", "topics:\n  politics: [unclosed\n")
    assert "invalid YAML (line" in problems([path])


def test_unknown_key_is_named_with_its_path(write_yaml: Writer) -> None:
    path = write_yaml("t.yaml", "topics:\n  politics:\n    termz: {en: [vote]}\n")
    assert "topics.politics.termz: unknown key" in problems([path])


def test_bad_term_is_named_with_language_and_index(write_yaml: Writer) -> None:
    path = write_yaml("t.yaml", "topics:\n  politics:\n    terms:\n      en: [vote, 'a*b']\n")
    assert "topics.politics.terms.en.1" in problems([path])
    assert "'*' may only start or end a term" in problems([path])


def test_bad_weight_and_bad_min_score_are_named(write_yaml: Writer) -> None:
    path = write_yaml(
        "t.yaml",
        """
        topics:
          politics:
            min_score: -1
            terms: {en: [{vote: heavy}]}
        """,
    )
    found = problems([path])
    assert "topics.politics.min_score" in found
    assert "topics.politics.terms.en.0" in found and "must be a number" in found


def test_bad_topic_slug_and_missing_topics_key(write_yaml: Writer) -> None:
    assert "must match [a-z0-9]" in problems([write_yaml("a.yaml", "topics:\n  Bad Slug: {}\n")])
    assert "topics: Field required" in problems([write_yaml("b.yaml", "version: 1\n")])


def test_bad_iptc_code_and_unsupported_version(write_yaml: Writer) -> None:
    path = write_yaml(
        "t.yaml", "version: 2\ntopics:\n  x:\n    iptc: {code: '11000000', name: politics}\n"
    )
    found = problems([path])
    assert "version" in found and "topics.x.iptc.code" in found


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert "taxonomy file not found" in problems([tmp_path / "nope.yaml"])


def test_extension_file_adds_topics_and_extends_and_reweighs_existing_ones(
    write_yaml: Writer,
) -> None:
    user = write_yaml(
        "mine.yaml",
        """
        topics:
          energy-transition:
            name: Energy transition
            min_score: 1
            terms: {any: [heat pump*]}
          politics:
            terms: {en: [{filibuster: 2}, {policy: 0}]}
            subtopics:
              local:
                terms: {en: [town hall]}
        """,
    )
    taxonomy = load_taxonomy([TAXONOMY, user])
    assert taxonomy.topics["energy-transition"].min_score == 1
    politics = {t.pattern.raw: t.weight for t in taxonomy.topics["politics"].terms.values()}
    assert politics["filibuster"] == 2 and politics["policy"] == 0
    assert taxonomy.topics["politics/local"].parent == "politics"
    assert taxonomy.topics["politics"].iptc_code == "medtop:11000000"  # kept from the base


def test_same_term_in_two_languages_counts_once_for_both(write_yaml: Writer) -> None:
    path = write_yaml("t.yaml", "topics:\n  sport:\n    terms: {en: [tennis], fr: [{tennis: 2}]}\n")
    [term] = load_taxonomy([path]).topics["sport"].terms.values()
    assert term.weight == 2 and term.languages == {"en", "fr"}


def test_a_yaml_alias_bomb_as_a_term_is_one_short_line(write_yaml: Writer) -> None:
    """Each alias below repeats the one before nine times: six levels are 9**6 (531,441)
    strings once expanded; at ten the full ``repr`` in the message took minutes and 3 GB."""
    levels = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 6)]
    path = write_yaml(
        "t.yaml", "\n".join([*levels, "topics:", "  demo:", "    terms:", "      en: *l5", ""])
    )
    found = problems([path]).splitlines()
    assert any(line.startswith("topics.demo.terms.en.0: a term is a string") for line in found)
    assert all(len(line) < 300 for line in found), max(map(len, found))
