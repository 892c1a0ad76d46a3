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


_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))


def _fmix32(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's 32-bit finaliser, the pre-mix of datasketch's ``affine32`` scheme."""
    first, m1, second, m2 = _FMIX32
    values = values ^ (values >> first)
    values = values * m1
    values = values ^ (values >> second)
    values = values * m2
    return values ^ (values >> first)


class Sketcher:
    """Computes signatures and bucket keys with one fixed set of permutations."""

    def __init__(self, *, num_perm: int, bands: int, rows: int, seed: int = MINHASH_SEED) -> None:
        if bands * rows > num_perm:
            raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} > {num_perm} values")
        self.num_perm = num_perm
        self.bands = bands
        self.rows = rows
        self.seed = seed
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._a = np.asarray(a, dtype=np.uint32)
        self._b = np.asarray(b, dtype=np.uint32)

    def signature(self, shingle_set: ShingleSet) -> Signature:
        """The MinHash signature of a shingle set (all-max values for an empty set).

        The same values as datasketch's ``MinHash(scheme="affine32")`` fed the
        shingle hashes (a test checks it), computed in one vectorised step
        instead of datasketch's per-value Python loop.
        """
        if len(shingle_set) == 0:
            return np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        mixed = _fmix32(shingle_set.astype(np.uint32))[:, None]
        return np.asarray((mixed * self._a + self._b).min(axis=0), dtype=np.uint32)

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
