"""TaggingConfig: defaults, validation, and paths resolved like the rest of the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import SHIPPED_TAXONOMY, TaggingConfig, parse_config
from pipeline.errors import ConfigError


def test_paths_are_resolved_against_the_config_base(tmp_path: Path) -> None:
    config = parse_config(
        {"tagging": {"extra_taxonomies": ["config/mine.yaml"], "entities": "e.yaml"}},
        base=tmp_path,
    )
    # left at its default: the taxonomy shipped in the package
    assert config.tagging.taxonomy == SHIPPED_TAXONOMY
    assert config.tagging.extra_taxonomies == [tmp_path / "config" / "mine.yaml"]
    assert config.tagging.entities == tmp_path / "e.yaml"


def test_defaults() -> None:
    config = TaggingConfig()
    assert (config.semantic, config.people, config.min_score) == (False, True, 2.0)


def test_bad_values_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"tagging": {"relative_min_score": 2, "title_weight": -1, "semantik": True}})
    found = "\n".join(caught.value.problems)
    assert "tagging.relative_min_score" in found
    assert "tagging.title_weight" in found
    assert "tagging.semantik: unknown key" in found
