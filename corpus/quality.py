"""Quality cases for extractors: pages with strings that must and must not come out.

In the spirit of trafilatura's own evaluation: for every page, each
``must_contain`` string found in the output is a true positive (missing: a
false negative), each ``must_not_contain`` string found is a false positive.
Precision and recall follow from the counts over all pages.

Cases come from the synthetic generator (article sentences vs in-article
residue and page chrome) and, when present, from the hand-made demo pages
(``demo/manifest.json``: article paragraphs vs residue lines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from corpus.sites import Page, generate_site_pages


@dataclass(frozen=True)
class QualityCase:
    name: str
    url: str
    html: str
    must_contain: list[str]
    must_not_contain: list[str]
    source: str  # publisher domain
    published_at: datetime | None = None


@dataclass
class Score:
    """Counts over many pages; precision and recall as trafilatura's evaluation defines them."""

    true_positives: int = 0
    false_negatives: int = 0
    false_positives: int = 0
    true_negatives: int = 0

    def add(self, text: str, case: QualityCase) -> None:
        flat = " ".join(text.split())
        lines = {" ".join(line.split()) for line in text.splitlines()}
        for wanted in case.must_contain:
            if " ".join(wanted.split()) in flat:
                self.true_positives += 1
            else:
                self.false_negatives += 1
        for unwanted in case.must_not_contain:
            if _present(unwanted, flat, lines):
                self.false_positives += 1
            else:
                self.true_negatives += 1

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def contains_line(text: str, line: str) -> bool:
    """Whether ``line`` survives in ``text``: as a whole line when it is short (three words
    or fewer: "Share" inside a sentence is fine), anywhere when it is longer."""
    flat = " ".join(text.split())
    lines = {" ".join(raw.split()) for raw in text.splitlines()}
    return _present(line, flat, lines)


def _present(unwanted: str, flat: str, lines: set[str]) -> bool:
    unwanted = " ".join(unwanted.split())
    if len(unwanted.split()) <= 3:
        return unwanted in lines
    return unwanted in flat


def synthetic_cases(n_sites: int, pages_per_site: int, seed: int) -> list[QualityCase]:
    """Cases from generated pages, in publication order."""
    return [case_from_page(p) for p in generate_site_pages(n_sites, pages_per_site, seed)]


def case_from_page(page: Page) -> QualityCase:
    return QualityCase(
        name=page.url,
        url=page.url,
        html=page.html,
        must_contain=page.sentences,
        must_not_contain=[*page.residue, *page.chrome],
        source=page.site,
        published_at=page.published_at,
    )


def demo_cases(demo_dir: Path) -> list[QualityCase]:
    """Cases from ``demo/manifest.json``; an empty list when the demo data is not there."""
    manifest_path = demo_dir / "manifest.json"
    if not manifest_path.is_file():
        return []
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    cases = []
    for page in manifest["pages"]:
        raw = (demo_dir / page["file"]).read_bytes()
        cases.append(
            QualityCase(
                name=page["id"],
                url=page["url"],
                html=raw.decode("utf-8"),
                must_contain=list(page["article_paragraphs"]),
                must_not_contain=list(page["residue_lines"]),
                source=page["publisher"],
                published_at=datetime.fromisoformat(page["published"])
                if page.get("published")
                else None,
            )
        )
    return sorted(
        cases, key=lambda c: (c.published_at.isoformat() if c.published_at else "", c.name)
    )
