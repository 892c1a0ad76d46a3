"""Quality gate: pairwise duplicate detection on the labelled set keeps its targets.

``python -m bench.dedup_eval`` prints the same figures with the SimHash comparison.
"""

import random

from bench.dedup_eval import PRECISION_TARGET, RECALL_TARGET, pairs_of, run_stage, score
from bench.dedup_labelled import SEED, generate
from pipeline.config import DedupConfig


def test_precision_and_recall_on_the_labelled_set_in_shuffled_arrival() -> None:
    items = generate(SEED)
    assert len(items) >= 300
    order = list(range(len(items)))
    random.Random(SEED).shuffle(order)
    clusters = run_stage(items, order, DedupConfig())
    result = score(pairs_of(clusters), pairs_of([item.story for item in items]))
    assert result.precision >= PRECISION_TARGET, result
    assert result.recall >= RECALL_TARGET, result
    seeds = [i for i, item in enumerate(items) if item.variant == "seed"]
    assert len(seeds) == 2
    assert clusters[seeds[0]] != clusters[seeds[1]]
