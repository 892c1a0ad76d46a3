"""The residue filter's layers, context rules and guard rails, on plain text lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import SHIPPED_RESIDUE_RULES
from pipeline.extraction import LearnedBoilerplate, line_key, split_lines
from pipeline.extraction.residue import FilterResult, MetadataHints, filter_residue
from pipeline.extraction.rules import ResidueRules, load_rules, parse_rules

RULES_FILE = SHIPPED_RESIDUE_RULES
PROSE = [
    "Iran's envoy to Russia has said NATO's expansion is not in the interest of Tehran.",
    "The comments came as Iran has supported Russia's invasion of Ukraine by blaming others.",
    "Many ordinary Iranians invariably support Ukraine and condemn the government policies.",
]
SEED_RESIDUE = [
    "News Summary Repeat (3') - DC",
    "Titre Aval",
    "Science Weekly",
    "Share your story",
    "Send your Videos and Photos to us• National",
]


@pytest.fixture(scope="module")
def rules() -> ResidueRules:
    return load_rules(RULES_FILE)


def run(
    rules: ResidueRules,
    lines: list[str],
    *,
    learned: LearnedBoilerplate | None = None,
    hints: MetadataHints | None = None,
    max_removed_share: float = 0.5,
) -> FilterResult:
    return filter_residue(
        split_lines("\n".join(lines)),
        rules=rules,
        learned=learned,
        hints=hints or MetadataHints(),
        source="example.com",
        max_removed_share=max_removed_share,
    )


def test_the_seed_residue_goes_and_every_sentence_stays(rules: ResidueRules) -> None:
    result = run(rules, [*PROSE, *SEED_RESIDUE])
    assert result.text.splitlines() == PROSE
    reasons = {r.text: r.reason for r in result.removed}
    assert reasons == {
        "News Summary Repeat (3') - DC": "rule:programme_teaser",
        "Titre Aval": "shape:edge_run",
        "Science Weekly": "rule:show_name",
        "Share your story": "rule:call_to_action",
        "Send your Videos and Photos to us• National": "rule:call_to_action",
    }


def test_short_lines_at_the_edge_go_only_next_to_residue(rules: ResidueRules) -> None:
    alone = run(rules, [*PROSE, "Titre Aval"])
    assert alone.removed == []
    beside = run(rules, ["• National", "Titre Aval", *PROSE])
    assert [r.reason for r in beside.removed] == ["rule:kicker", "shape:edge_run"]


def test_a_subheading_between_paragraphs_is_content(rules: ResidueRules) -> None:
    lines = [PROSE[0], "Valuable Relationship", PROSE[1], "Share your story", PROSE[2]]
    result = run(rules, lines)
    assert "Valuable Relationship" in result.text.splitlines()
    assert [r.text for r in result.removed] == ["Share your story"]


def test_a_short_line_between_two_residue_lines_is_residue(rules: ResidueRules) -> None:
    lines = [PROSE[0], "Share your story", "Bloc Promo", "Subscribe to our newsletter", PROSE[1]]
    result = run(rules, lines)
    assert {r.text: r.reason for r in result.removed}["Bloc Promo"] == "shape:residue_run"


def test_teaser_titles_after_a_bare_related_label(rules: ResidueRules) -> None:
    lines = [PROSE[0], "Related", "Talks on the water treaty stall in Lisbon", PROSE[1], PROSE[2]]
    result = run(rules, lines)
    assert [(r.text, r.reason) for r in result.removed] == [
        ("Related", "rule:read_more"),
        ("Talks on the water treaty stall in Lisbon", "shape:teaser"),
    ]


def test_lines_repeating_metadata(rules: ResidueRules) -> None:
    hints = MetadataHints(title="Envoy says NATO expansion is not welcome", authors=["Jane Doe"])
    lines = ["Envoy says NATO expansion is not welcome", "Jane Doe, Moscow correspondent", *PROSE]
    result = run(rules, ["Share your story", *lines], hints=hints)
    assert [r.reason for r in result.removed] == ["rule:call_to_action", "metadata:byline"]
    assert result.text.splitlines()[0] == hints.title  # the headline stays, as trafilatura gave it


def test_learned_template_lines_and_overrides(rules: ResidueRules) -> None:
    learned = LearnedBoilerplate(
        source="example.com",
        template=frozenset({line_key("Bandeau Info"), line_key(PROSE[2])}),
        allow=frozenset({line_key(PROSE[2])}),
        deny=frozenset({line_key("Caja Inferior")}),
        articles=10,
    )
    lines = [PROSE[0], "Bandeau Info", PROSE[1], "Caja Inferior", PROSE[2]]
    result = run(rules, lines, learned=learned)
    assert {r.text: r.reason for r in result.removed} == {
        "Bandeau Info": "learned:template",
        "Caja Inferior": "learned:deny",
    }
    assert PROSE[2] in result.text  # allowed by the user, though the counts say template


def test_per_source_rules_deny_and_allow() -> None:
    rules = parse_rules(
        {
            "categories": {},
            "sources": {"example.com": {"deny": ["^Titre Aval$"], "allow": ["Weekly"]}},
        }
    )
    result = run(rules, [*PROSE, "Titre Aval", "Science Weekly"])
    assert [(r.text, r.reason) for r in result.removed] == [("Titre Aval", "rule:source")]


def test_guard_keeps_the_original_when_too_much_would_go(rules: ResidueRules) -> None:
    lines = [PROSE[0], *SEED_RESIDUE]
    result = run(rules, lines, max_removed_share=0.2)
    assert result.flags == ["residue_guard"]
    assert result.removed == []
    assert result.text.splitlines() == lines


def test_guard_never_removes_the_only_sentence(rules: ResidueRules) -> None:
    only = "Sign up for our newsletter to get the latest news every single morning."
    result = run(rules, [only, "Share your story"], max_removed_share=1.0)
    assert result.flags == ["residue_guard"]
    assert only in result.text


def test_guard_never_empties_an_article(rules: ResidueRules) -> None:
    result = run(rules, ["Share your story", "Science Weekly"], max_removed_share=1.0)
    assert result.flags == ["residue_guard"]
    assert result.text.splitlines() == ["Share your story", "Science Weekly"]


LINE_POOL = [*PROSE, *SEED_RESIDUE, "Related", "Valuable Relationship", "Bloc Promo", "By Jane Doe"]


@given(
    lines=st.lists(
        st.sampled_from(LINE_POOL) | st.text(min_size=1, max_size=60), min_size=1, max_size=25
    ),
    share=st.floats(min_value=0.05, max_value=1.0),
)
@settings(max_examples=200, deadline=None)
def test_guard_rails_hold_for_any_text(lines: list[str], share: float) -> None:
    rules = load_rules(RULES_FILE)
    given_lines = split_lines("\n".join(lines))
    if not given_lines:
        return
    result = filter_residue(
        given_lines,
        rules=rules,
        learned=None,
        hints=MetadataHints(authors=["Jane Doe"]),
        source="example.com",
        max_removed_share=share,
    )
    assert result.kept, "an article is never emptied"
    kept = [line.text for line in result.kept]
    removed = [r.text for r in result.removed]
    assert sorted(kept + removed) == sorted(line.text for line in given_lines)
    total = sum(len(line.text) for line in given_lines)
    assert sum(len(text) for text in removed) <= share * total
    if any(line.sentence_like for line in given_lines):
        assert any(line.sentence_like for line in result.kept)
