"""Paths and config shared by the tagging tests (a plain module: conftest names clash)."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import SHIPPED_ENTITIES, SHIPPED_TAXONOMY, TaggingConfig

REPO = Path(__file__).resolve().parents[3]
TAXONOMY = SHIPPED_TAXONOMY
ENTITIES = SHIPPED_ENTITIES
SEEDS = sorted((REPO / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))


def project_config(**changes: object) -> TaggingConfig:
    """The project's taxonomy and lexicon, wherever the tests run from."""
    return TaggingConfig.model_validate({"taxonomy": TAXONOMY, "entities": ENTITIES, **changes})
