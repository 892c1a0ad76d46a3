"""Precision and recall of trafilatura alone vs the newsflow pipeline, side by side.

Both run trafilatura with the same options (``trafilatura_options``); the
pipeline then removes residue, with its learned boilerplate accumulating in a
temporary SQLite store in page order, as the service would. The corpus is the
synthetic quality set (every article sentence must be kept; in-article residue
and page chrome must not) plus the demo pages when ``demo/manifest.json`` is
there (every paragraph kept; every residue line, the seed's five included, not)::

    python -m bench.extraction_quality [--sites 12] [--pages 20] [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from connectors.storage.db import Database
from connectors.storage.residue_stats import ResidueStatsRepository
from corpus.quality import QualityCase, Score, demo_cases, synthetic_cases
from pipeline.config import SHIPPED_RESIDUE_RULES, ExtractConfig
from pipeline.errors import ExtractionError
from pipeline.extraction import load_rules
from pipeline.extraction.parse import load_page, parse_page
from pipeline.models import FeedEntry, FetchedPage, utcnow
from pipeline.stages.extract import ExtractStage

ROOT = Path(__file__).resolve().parent.parent
RULES = SHIPPED_RESIDUE_RULES
DEMO = ROOT / "demo"


@dataclass(frozen=True)
class Comparison:
    trafilatura: Score
    pipeline: Score
    pages: int


def trafilatura_texts(cases: Sequence[QualityCase], config: ExtractConfig) -> list[str]:
    """trafilatura's own text for each page (same call and options the pipeline makes)."""
    now = utcnow()
    texts = []
    for case in cases:
        try:
            page = load_page(case.html, url=case.url)
            texts.append(parse_page(page, url=case.url, config=config, now=now).text)
        except ExtractionError:
            texts.append("")
    return texts


def pipeline_texts(cases: Sequence[QualityCase], config: ExtractConfig) -> list[str]:
    """The extract stage's text for each page, learning as it goes in a temporary store."""
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        db = Database(f"sqlite:///{tmp}/residue.db")
        try:
            stage = ExtractStage(load_rules(RULES), ResidueStatsRepository(db), config)
            return [_stage_text(stage, case) for case in cases]
        finally:
            db.close()


def _stage_text(stage: ExtractStage, case: QualityCase) -> str:
    entry = FeedEntry(feed="bench", feed_kind="rss", url=case.url, published_at=case.published_at)
    try:
        [article] = stage.process(FetchedPage(entry=entry, url=case.url, html=case.html))
    except ExtractionError:
        return ""
    return str(getattr(article, "text", ""))


def compare(cases: Sequence[QualityCase], config: ExtractConfig | None = None) -> Comparison:
    config = config or ExtractConfig(residue_rules=RULES)
    baseline, ours = Score(), Score()
    for case, text in zip(cases, trafilatura_texts(cases, config), strict=True):
        baseline.add(text, case)
    for case, text in zip(cases, pipeline_texts(cases, config), strict=True):
        ours.add(text, case)
    return Comparison(trafilatura=baseline, pipeline=ours, pages=len(cases))


def quality_corpus(sites: int, pages: int, seed: int, *, with_demo: bool) -> list[QualityCase]:
    demo = demo_cases(DEMO) if with_demo else []
    return [*demo, *synthetic_cases(sites, pages, seed)]


def render(comparison: Comparison) -> str:
    rows = [
        ("trafilatura alone", comparison.trafilatura),
        ("newsflow pipeline", comparison.pipeline),
    ]
    out = [
        f"extraction quality on {comparison.pages} pages (must-contain / must-not-contain strings)",
        f"{'':20} {'precision':>10} {'recall':>10} {'TP':>7} {'FP':>6} {'FN':>6}",
    ]
    for name, s in rows:
        out.append(
            f"{name:20} {s.precision:10.4f} {s.recall:10.4f} {s.true_positives:7d}"
            f" {s.false_positives:6d} {s.false_negatives:6d}"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=12)
    parser.add_argument("--pages", type=int, default=20, help="pages per site")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-demo", action="store_true", help="leave out the demo pages")
    args = parser.parse_args(argv)
    cases = quality_corpus(args.sites, args.pages, args.seed, with_demo=not args.no_demo)
    demo = len(demo_cases(DEMO)) if not args.no_demo else 0
    print(f"corpus: {demo} demo pages + {args.sites} synthetic sites x {args.pages} pages")
    if not args.no_demo and demo == 0:
        print("note: demo/manifest.json not found, demo pages left out", file=sys.stderr)
    print(render(compare(cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
