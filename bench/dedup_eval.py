"""Dedup quality on the labelled set: pairwise precision and recall, MinHash vs SimHash.

Runs the real :class:`~pipeline.stages.dedup.DedupStage` on a fresh SQLite
index over the labelled set (:mod:`bench.dedup_labelled`), in a shuffled
arrival order and in publication order, and scores the final clusters
pairwise against the story labels: a predicted pair is two articles in one
cluster, a true pair two articles of one story. It then compares the two
near-duplicate detectors as pairwise classifiers on every pair of the set:
MinHash-LSH (shares a band bucket, confirmed by exact overlap) and 64-bit
SimHash over the same shingles at several Hamming radii.

    python -m bench.dedup_eval            # exit status 1 when a target is missed
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.dedup_labelled import SEED, Labelled, generate
from connectors.storage.db import Database
from connectors.storage.dedup_index import DedupIndex
from pipeline.config import DedupConfig
from pipeline.dedup.decide import Candidate, confirm
from pipeline.dedup.fingerprint import Fingerprint, Fingerprinter
from pipeline.dedup.text import ShingleSet
from pipeline.models import DuplicateEvent, EnrichedArticle
from pipeline.stages.dedup import DedupStage

PRECISION_TARGET = 0.98
RECALL_TARGET = 0.95
Pair = tuple[int, int]


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    predicted: int
    true: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def row(self, name: str) -> str:
        return (
            f"{name:<34} precision {self.precision:6.4f}  recall {self.recall:6.4f}"
            f"  F1 {self.f1:6.4f}  (pairs predicted {self.predicted}, true {self.true})"
        )


def score(predicted: set[Pair], true: set[Pair]) -> Score:
    hits = len(predicted & true)
    return Score(
        precision=hits / len(predicted) if predicted else 1.0,
        recall=hits / len(true) if true else 1.0,
        predicted=len(predicted),
        true=len(true),
    )


def pairs_of(groups: Sequence[str]) -> set[Pair]:
    """Every pair (i, j), i < j, of items carrying the same group label."""
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    return {pair for ids in members.values() for pair in itertools.combinations(ids, 2)}


class MemoryArticles:
    """The article store the stage reads re-pointed members from: latest output per id."""

    def __init__(self) -> None:
        self.by_id: dict[str, EnrichedArticle] = {}

    def get(self, article_id: str) -> EnrichedArticle | None:
        return self.by_id.get(article_id)

    def keep(self, outputs: Iterable[object]) -> None:
        for out in outputs:
            article = out.article if isinstance(out, DuplicateEvent) else out
            if isinstance(article, EnrichedArticle):
                self.by_id[article.id] = article


def run_stage(items: Sequence[Labelled], order: Sequence[int], config: DedupConfig) -> list[str]:
    """Feed the items through a fresh index in ``order``; the final cluster of each item."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'dedup.db'}")
        store = MemoryArticles()
        stage = DedupStage(DedupIndex(db, config), config, articles=store)
        articles = [item.article() for item in items]
        for index in order:
            store.keep(stage.process(articles[index]))
        clusters = [stage.index.cluster_of(a.id) or a.id for a in articles]
        db.close()
    return clusters


def simhash(shingle_set: ShingleSet) -> int:
    """Charikar's 64-bit SimHash with every shingle as a feature of weight one."""
    if len(shingle_set) == 0:
        return 0
    features = np.array(
        [
            int.from_bytes(hashlib.blake2b(int(s).to_bytes(4, "little"), digest_size=8).digest())
            for s in shingle_set
        ],
        dtype=np.uint64,
    )
    bits = (features[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    votes = bits.astype(np.int64).sum(axis=0) * 2 - len(features)
    return int(sum(1 << i for i in range(64) if votes[i] > 0))


def minhash_pairs(prints: Sequence[Fingerprint], config: DedupConfig) -> set[Pair]:
    """Pairs that share an LSH bucket and are confirmed by the dedup rules (no streaming)."""
    buckets: dict[int, list[int]] = {}
    for index, fp in enumerate(prints):
        for key in fp.bucket_keys:
            buckets.setdefault(key, []).append(index)
    candidates = {p for ids in buckets.values() for p in itertools.combinations(ids, 2)}
    confirmed = set()
    for i, j in candidates:
        other = prints[j]
        candidate = Candidate(
            other.article_id, other.article_id, other.order, "-", None, other.shingles
        )
        match = confirm(prints[i], candidate, config)
        if match is not None:
            confirmed.add((i, j))
    return confirmed


def simhash_pairs(hashes: Sequence[int], radius: int) -> set[Pair]:
    return {
        (i, j)
        for i, j in itertools.combinations(range(len(hashes)), 2)
        if (hashes[i] ^ hashes[j]).bit_count() <= radius
    }


def variant_recall(items: Sequence[Labelled], clusters: Sequence[str]) -> dict[str, float]:
    """Per kind of copy: share of copies in the same cluster as their story's original."""
    original = {it.story: i for i, it in enumerate(items) if it.variant in ("original", "seed")}
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for index, item in enumerate(items):
        if item.variant in ("original", "seed"):
            continue
        total[item.variant] += 1
        found[item.variant] += clusters[index] == clusters[original[item.story]]
    return {kind: found[kind] / total[kind] for kind in sorted(total)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED, help="labelled set and arrival seed")
    parser.add_argument("--bands", type=int, help="LSH bands (default: DedupConfig)")
    parser.add_argument("--rows", type=int, help="rows per band (default: DedupConfig)")
    args = parser.parse_args(argv)
    layout = {"lsh_bands": args.bands, "lsh_rows": args.rows}
    config = DedupConfig(**{k: v for k, v in layout.items() if v is not None})
    items = generate(args.seed)
    true = pairs_of([item.story for item in items])
    print(
        f"labelled set: {len(items)} articles, {len({i.story for i in items})} stories,"
        f" {len(true)} duplicate pairs; config {config.model_dump()}"
    )

    shuffled = list(range(len(items)))
    random.Random(args.seed).shuffle(shuffled)
    by_date = sorted(range(len(items)), key=lambda i: (items[i].published_at, i))
    results = {}
    for name, order in (("shuffled arrival", shuffled), ("publication order", by_date)):
        clusters = run_stage(items, order, config)
        results[name] = (score(pairs_of(clusters), true), clusters)
        print(results[name][0].row(f"pipeline, {name}"))
    clusters = results["shuffled arrival"][1]
    print(
        "recall by kind of copy (shuffled):",
        ", ".join(f"{k} {v:.3f}" for k, v in variant_recall(items, clusters).items()),
    )

    seeds = [i for i, it in enumerate(items) if it.variant == "seed"]
    seeds_apart = len({clusters[i] for i in seeds}) == len(seeds)
    print(
        f"seed articles kept apart: {'yes' if seeds_apart else 'NO'}"
        f" ({len(seeds)} seeds, clusters {sorted({clusters[i][:8] for i in seeds})})"
    )

    print("\ndetector comparison, every pair classified on its own (no clustering):")
    prints = [Fingerprinter(config).of(item.article()) for item in items]
    print(score(minhash_pairs(prints, config), true).row("MinHash-LSH + exact overlap"))
    hashes = [simhash(fp.shingles) for fp in prints]
    for radius in (3, 6, 10, 14, 18):
        print(score(simhash_pairs(hashes, radius), true).row(f"SimHash-64, Hamming <= {radius}"))

    ok = seeds_apart and all(
        s.precision >= PRECISION_TARGET and s.recall >= RECALL_TARGET for s, _ in results.values()
    )
    print(
        f"\ntargets: precision >= {PRECISION_TARGET}, recall >= {RECALL_TARGET}, seeds apart:"
        f" {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
