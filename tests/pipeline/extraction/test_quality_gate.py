"""Quality gate: extraction precision/recall may not drop below the pinned floors.

The corpus is the demo pages (both seed pages among them) plus generated
sites; the pipeline learns per source in a temporary store as it goes, like
the service. Floors live in ``quality_floors.json``: a change that lowers
quality has to lower them, visibly, in the same commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.extraction_quality import DEMO, Comparison, compare, quality_corpus
from corpus.quality import demo_cases

FLOORS = json.loads((Path(__file__).parent / "quality_floors.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    corpus = FLOORS["corpus"]
    cases = quality_corpus(
        corpus["sites"], corpus["pages_per_site"], corpus["seed"], with_demo=corpus["demo_pages"]
    )
    assert demo_cases(DEMO), "the demo pages (with both seed pages) belong to the gate's corpus"
    return compare(cases)


def test_precision_and_recall_stay_above_the_floors(comparison: Comparison) -> None:
    floors = FLOORS["pipeline"]
    assert comparison.pipeline.precision >= floors["precision"], comparison
    assert comparison.pipeline.recall >= floors["recall"], comparison


def test_the_pipeline_beats_trafilatura_alone_at_equal_recall(comparison: Comparison) -> None:
    assert comparison.pipeline.precision > comparison.trafilatura.precision
    assert comparison.pipeline.recall >= comparison.trafilatura.recall
