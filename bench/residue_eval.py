"""Residue lines removed and article sentences kept, trafilatura alone vs the pipeline.

On generated sites (default 12 sites x 20 pages, each site repeating its own
in-article residue), pages are fed in publication order through the extract
stage with learned boilerplate accumulating in a temporary SQLite store, as
the service would. Targets: >= 95% of residue lines removed, >= 99.5% of
article sentences kept. The cold-start line shows the first pages of each
source, filtered before anything could be learned::

    python -m bench.residue_eval [--sites 12] [--pages 20] [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bench.extraction_quality import RULES, pipeline_texts, trafilatura_texts
from corpus.quality import QualityCase, case_from_page, contains_line
from corpus.sites import Page, generate_site_pages
from pipeline.config import ExtractConfig

RESIDUE_TARGET = 0.95
SENTENCE_TARGET = 0.995


@dataclass
class Tally:
    residue: int = 0
    residue_removed: int = 0
    sentences: int = 0
    sentences_kept: int = 0

    def add(self, page: Page, text: str) -> None:
        self.residue += len(page.residue)
        self.residue_removed += sum(not contains_line(text, line) for line in page.residue)
        flat = " ".join(text.split())
        self.sentences += len(page.sentences)
        self.sentences_kept += sum(" ".join(s.split()) in flat for s in page.sentences)

    @property
    def removed_share(self) -> float:
        return self.residue_removed / self.residue if self.residue else 1.0

    @property
    def kept_share(self) -> float:
        return self.sentences_kept / self.sentences if self.sentences else 1.0


def evaluate(pages: Sequence[Page], config: ExtractConfig, *, cold_start: int) -> dict[str, Tally]:
    cases: list[QualityCase] = [case_from_page(p) for p in pages]
    tallies = {"trafilatura": Tally(), "pipeline": Tally(), "cold_start": Tally()}
    seen: dict[str, int] = {}
    for page, text in zip(pages, trafilatura_texts(cases, config), strict=True):
        tallies["trafilatura"].add(page, text)
    for page, text in zip(pages, pipeline_texts(cases, config), strict=True):
        tallies["pipeline"].add(page, text)
        seen[page.site] = seen.get(page.site, 0) + 1
        if seen[page.site] <= cold_start:
            tallies["cold_start"].add(page, text)
    return tallies


def render(tallies: dict[str, Tally], *, sites: int, pages: int, cold_start: int) -> str:
    t, p, c = tallies["trafilatura"], tallies["pipeline"], tallies["cold_start"]
    return "\n".join(
        [
            f"residue evaluation: {sites} sources x {pages} pages, "
            f"{p.residue} residue lines, {p.sentences} article sentences",
            f"{'':28} {'residue removed':>16} {'sentences kept':>15}",
            f"{'trafilatura alone':28} {t.removed_share:16.2%} {t.kept_share:15.2%}",
            f"{'newsflow pipeline':28} {p.removed_share:16.2%} {p.kept_share:15.2%}",
            f"{'  of which first pages':28} {c.removed_share:16.2%} {c.kept_share:15.2%}"
            f"   (first {cold_start} pages of each source: generic rules only)",
            f"{'target':28} {RESIDUE_TARGET:16.2%} {SENTENCE_TARGET:15.2%}",
            f"verdict: {'PASS' if passes(p) else 'FAIL'}",
        ]
    )


def passes(tally: Tally) -> bool:
    return tally.removed_share >= RESIDUE_TARGET and tally.kept_share >= SENTENCE_TARGET


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="residue removed / sentences kept")
    parser.add_argument("--sites", type=int, default=12)
    parser.add_argument("--pages", type=int, default=20, help="pages per site")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    config = ExtractConfig(residue_rules=RULES)
    pages = generate_site_pages(args.sites, args.pages, args.seed)
    tallies = evaluate(pages, config, cold_start=config.learned_min_articles)
    print(
        render(tallies, sites=args.sites, pages=args.pages, cold_start=config.learned_min_articles)
    )
    return 0 if passes(tallies["pipeline"]) else 1


if __name__ == "__main__":
    sys.exit(main())
