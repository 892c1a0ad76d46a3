"""MinHash signatures and LSH band keys: how near-duplicate candidates are found.

A signature is ``num_perm`` MinHash values of an article's shingle set
(datasketch's ``affine32`` scheme, fed the shingle hashes directly). It is cut
into ``bands`` bands of ``rows`` values; each band is hashed to one signed
64-bit *bucket key*, which is what the index stores and looks up. Two articles
with Jaccard similarity ``s`` share at least one bucket with probability
``1 - (1 - s**rows) ** bands``; the defaults (30 bands x 3 rows) give 0.98 at
``s = 0.5``, 0.86 at ``s = 0.4`` and 0.03 at ``s = 0.1``, so the index
over-generates candidates a little and the exact overlap
(:func:`pipeline.dedup.text.overlap`) decides. Every band is one bucket row
and one random B-tree page written per article, which is what an article
costs the store: 42 bands found no more duplicates on the labelled set than
30 (``python -m bench.dedup_eval --bands 42``) and cost 40 % more rows.

The band number is part of the key, so the index needs one column, not two.
Keys depend only on the shingles, the seed and the band layout: every worker,
and every restart, computes the same keys for the same text.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
from datasketch import MinHash

from pipeline.dedup.text import ShingleSet

Signature = npt.NDArray[np.uint32]

MINHASH_SEED = 1


def _identity(value: int) -> int:
    return value


class Sketcher:
    """Computes signatures and bucket keys with one fixed set of permutations."""

    def __init__(self, *, num_perm: int, bands: int, rows: int, seed: int = MINHASH_SEED) -> None:
        if bands * rows > num_perm:
            raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} > {num_perm} values")
        self.num_perm = num_perm
        self.bands = bands
        self.rows = rows
        self.seed = seed
        self._permutations = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations

    def signature(self, shingle_set: ShingleSet) -> Signature:
        """The MinHash signature of a shingle set (all-max values for an empty set)."""
        sketch = MinHash(
            num_perm=self.num_perm,
            seed=self.seed,
            hashfunc=_identity,
            permutations=self._permutations,
            scheme="affine32",
        )
        sketch.update_batch(shingle_set.tolist())
        return np.asarray(sketch.hashvalues, dtype=np.uint32)

    def bucket_keys(self, shingle_set: ShingleSet) -> list[int]:
        """One signed 64-bit key per band; empty for an empty set (nothing to compare)."""
        if len(shingle_set) == 0:
            return []
        values = self.signature(shingle_set).astype("<u4")
        keys = []
        for band in range(self.bands):
            chunk = values[band * self.rows : (band + 1) * self.rows].tobytes()
            digest = hashlib.blake2b(chunk, digest_size=8, person=band.to_bytes(16, "little"))
            keys.append(int.from_bytes(digest.digest(), "little", signed=True))
        return keys
