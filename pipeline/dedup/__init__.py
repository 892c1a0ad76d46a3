"""Streaming deduplication: exact and near-duplicate clustering of articles.

Layers, cheapest first, all answered by one shared index
(:class:`connectors.storage.dedup_index.DedupIndex`):

1. **URL**: the canonical form (:func:`pipeline.urls.canonicalize_url`) of the
   article's canonical URL (``<link rel=canonical>`` as resolved by
   extraction) and of the URL it was fetched from.
2. **Exact text**: a hash of the normalised token stream
   (:func:`pipeline.dedup.text.text_hash`).
3. **Near-duplicate**: MinHash-LSH over word 5-shingles finds candidates
   (:mod:`pipeline.dedup.sketch`); each candidate is *confirmed* by its exact
   shingle overlap (:func:`pipeline.dedup.text.overlap`): Jaccard >=
   ``near_duplicate_threshold``, or containment >= ``containment_threshold``
   so that 70-90 % truncations match. The confirming score is recorded.

Why MinHash-LSH and not SimHash: measured by ``python -m bench.dedup_eval`` on
the labelled set (figures in the module docstring of that script and in its
output). SimHash's single 64-bit fingerprint moves by many bits when a copy is
truncated or wrapped in other boilerplate, so no Hamming radius separates
copies from same-topic stories; MinHash band buckets find those copies and the
exact overlap keeps precision.

Modules: :mod:`~pipeline.dedup.text` (tokens, hashes, shingles, overlap),
:mod:`~pipeline.dedup.sketch` (signatures, bucket keys),
:mod:`~pipeline.dedup.fingerprint` (an article's keys),
:mod:`~pipeline.dedup.decide` (matches, verdicts, canonical order).
"""

from pipeline.dedup.decide import Candidate, Match, Repointed, Verdict, best_match, confirm
from pipeline.dedup.fingerprint import Fingerprint, Fingerprinter

__all__ = [
    "Candidate",
    "Fingerprint",
    "Fingerprinter",
    "Match",
    "Repointed",
    "Verdict",
    "best_match",
    "confirm",
]
