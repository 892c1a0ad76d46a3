"""Top-level topic quality of the tagger on the labelled set, beside a naive baseline.

    python -m bench.tagging_eval            # per-topic table, micro/macro F1, per language
    python -m bench.tagging_eval --errors   # also list every wrong or missing label
    python -m bench.tagging_eval --check    # exit 1 when micro-F1 is under the floor

The labelled set (``bench/data/tagging/*.yaml``, 168 items in four languages)
is synthetic: see its README. The baseline uses the same taxonomy but tags a
topic as soon as any one of its terms occurs (no weights, no threshold), which
shows what the scoring adds; a second line shows the tagger without its
relative cut (``tagging.relative_min_score``). Last, the demo's pages (written
by another engineer for the end-to-end demo) are tagged and their main topic
looked for. The seed articles are checked too: both must be
politics (international relations) and conflict-war-peace, and name Iran,
Russia, NATO, Syria, Ukraine, China and Turkey between them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from pipeline.config import TaggingConfig
from pipeline.tagging import KeywordTagger, Taxonomy
from pipeline.tagging.taxonomy import WeightedTerm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "tagging"
LANGUAGES = ("en", "de", "fr", "es")
SEEDS = ROOT / "bench" / "data" / "dedup" / "seeds"  # the repo's copy of shared/seeds
SEED_ENTITIES = {"Iran", "Russia", "NATO", "Syria", "Ukraine", "China", "Turkey"}
F1_FLOOR = 0.85


@dataclass(frozen=True)
class Item:
    id: str
    language: str
    title: str
    text: str
    gold: frozenset[str]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: frozenset[str], predicted: frozenset[str], label: str) -> None:
        self.tp += label in gold and label in predicted
        self.fp += label not in gold and label in predicted
        self.fn += label in gold and label not in predicted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_items(data: Path = DATA) -> list[Item]:
    items = []
    for language in LANGUAGES:
        for raw in yaml.safe_load((data / f"{language}.yaml").read_text(encoding="utf-8")):
            items.append(
                Item(raw["id"], language, raw["title"], raw["text"], frozenset(raw["topics"]))
            )
    return items


def keyword_tagger() -> KeywordTagger:
    return KeywordTagger.from_config(TaggingConfig())  # the shipped taxonomy and entities


def any_term_baseline(tagger: KeywordTagger) -> KeywordTagger:
    """Same terms, every weight 1 and a threshold of 1: any single term tags its topic."""
    flat = Taxonomy()
    for label, topic in tagger.taxonomy.topics.items():
        terms = {k: WeightedTerm(t.pattern, 1.0) for k, t in topic.terms.items() if t.weight > 0}
        flat.topics[label] = replace(
            topic, terms=terms, min_score=None, children=list(topic.children)
        )
    return KeywordTagger(flat, tagger.lexicon, min_score=1.0, relative_min_score=0.0, people=False)


def without_relative_cut(tagger: KeywordTagger) -> KeywordTagger:
    """The same tagger with only absolute thresholds (shows what the relative cut does)."""
    return KeywordTagger(tagger.taxonomy, tagger.lexicon, relative_min_score=0.0, people=False)


def predict(tagger: KeywordTagger, item: Item) -> frozenset[str]:
    result = tagger.tag(item.text, title=item.title, language=item.language)
    return frozenset(label for label in result.labels if "/" not in label)


def evaluate(tagger: KeywordTagger, items: list[Item]) -> dict[str, Counts]:
    """Counts per top-level label, plus '*' (micro) and '*<lang>' per language."""
    labels = [t.label for t in tagger.taxonomy.top_level()]
    counts: dict[str, Counts] = {label: Counts() for label in [*labels, "*"]}
    for item in items:
        predicted = predict(tagger, item)
        for label in labels:
            for key in (label, "*", f"*{item.language}"):
                counts.setdefault(key, Counts()).add(item.gold, predicted, label)
    return counts


def macro_f1(counts: dict[str, Counts]) -> float:
    topics = [c for label, c in counts.items() if not label.startswith("*")]
    return sum(c.f1 for c in topics) / len(topics)


def print_report(ours: dict[str, Counts], base: dict[str, Counts], items: list[Item]) -> None:
    support = Counter(label for item in items for label in item.gold)
    print(f"labelled set: {len(items)} items (synthetic), languages {', '.join(LANGUAGES)}")
    print(
        f"{'topic':28} {'n':>3}  {'P':>5} {'R':>5} {'F1':>5}   baseline {'P':>5} {'R':>5} {'F1':>5}"
    )
    for label, c in ours.items():
        if label.startswith("*"):
            continue
        b = base[label]
        print(
            f"{label:28} {support[label]:>3}  {c.precision:5.2f} {c.recall:5.2f} {c.f1:5.2f}"
            f"            {b.precision:5.2f} {b.recall:5.2f} {b.f1:5.2f}"
        )
    for language in LANGUAGES:
        key = f"*{language}"
        print(f"micro-F1 {language:19} {ours[key].f1:16.3f}            {base[key].f1:17.3f}")
    micro, base_micro = ours["*"], base["*"]
    print(
        f"micro P/R/F1 {'':15} {micro.precision:.3f} {micro.recall:.3f} {micro.f1:.3f}"
        f"     baseline {base_micro.precision:.3f} {base_micro.recall:.3f} {base_micro.f1:.3f}"
    )
    print(f"macro-F1 {'':19} {macro_f1(ours):16.3f}            {macro_f1(base):17.3f}")


def print_variant(name: str, counts: dict[str, Counts]) -> None:
    c = counts["*"]
    print(f"{name:28} {c.precision:.3f} {c.recall:.3f} {c.f1:.3f}")


def print_errors(tagger: KeywordTagger, items: list[Item]) -> None:
    for item in items:
        predicted = predict(tagger, item)
        if predicted != item.gold:
            missing = ", ".join(sorted(item.gold - predicted)) or "-"
            extra = ", ".join(sorted(predicted - item.gold)) or "-"
            print(f"  {item.id}: missing {missing}; extra {extra}  ({item.title})")


def check_seeds(tagger: KeywordTagger) -> bool:
    """The issue's acceptance check on the two seed articles."""
    files = sorted(SEEDS.glob("*.txt"))
    if not files:
        print(f"seeds: none in {SEEDS}")
        return False
    entities: set[str] = set()
    ok = True
    for file in files:
        result = tagger.tag(file.read_text(encoding="utf-8"))
        labels = set(result.labels)
        needed = {"politics", "politics/international-relations", "conflict-war-peace"}
        entities |= {e.name for e in result.entities}
        ok &= needed <= labels
        print(f"seed {file.name}: {', '.join(result.labels)}")
    missing = SEED_ENTITIES - entities
    ok &= not missing
    print(f"seed entities: {'all present' if not missing else 'missing ' + ', '.join(missing)}")
    return ok


DEMO_MANIFEST = ROOT / "demo" / "manifest.json"
DEMO_MAIN_TOPIC = {
    "crime": "crime-law-justice",
    "disaster": "disaster-accident",
    "economy": "economy-business-finance",
    "environment": "environment",
    "health": "health",
    "politics": "politics",
    "science": "science-technology",
    "sports": "sport",
}


def check_demo(tagger: KeywordTagger) -> None:
    """The demo's pages (written by another engineer): is each page's main topic tagged?"""
    if not DEMO_MANIFEST.exists():
        print("demo pages: no demo/manifest.json")
        return
    pages = json.loads(DEMO_MANIFEST.read_text(encoding="utf-8"))["pages"]
    hits, extra = 0, 0
    for page in pages:
        text = "\n\n".join(page["article_paragraphs"])
        result = tagger.tag(text, title=page["title"], language=page["language"])
        labels = {label for label in result.labels if "/" not in label}
        hits += DEMO_MAIN_TOPIC[page["expected_topics"][0]] in labels
        extra += len(labels) - 1
    print(
        f"demo pages: main topic tagged on {hits}/{len(pages)}; "
        f"{extra / len(pages):.1f} other top-level topics per page on average"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list every disagreement")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if micro-F1 < {F1_FLOOR}")
    args = parser.parse_args(argv)
    items = load_items()
    tagger = keyword_tagger()
    ours = evaluate(tagger, items)
    print_report(ours, evaluate(any_term_baseline(tagger), items), items)
    print_variant("micro, no relative cut", evaluate(without_relative_cut(tagger), items))
    if args.errors:
        print_errors(tagger, items)
    seeds_ok = check_seeds(tagger)
    check_demo(tagger)
    passed = ours["*"].f1 >= F1_FLOOR and seeds_ok
    print(f"floor micro-F1 >= {F1_FLOOR} and seed checks: {'PASS' if passed else 'FAIL'}")
    return 0 if passed or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
