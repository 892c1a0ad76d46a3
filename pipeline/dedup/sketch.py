"""MinHash signatures and LSH band keys: how near-duplicate candidates are found.

A signature is ``num_perm`` MinHash values of an article's shingle set
(datasketch's ``affine32`` scheme, fed the shingle hashes directly; the
permutations are drawn here exactly as datasketch 2 draws them, and a test
checks the values against datasketch, so importing datasketch, which imports
SciPy, no longer costs every dedup process half a second at start). It is cut
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


def affine32_permutations(
    num_perm: int, seed: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """``(a, b)`` of the affine maps ``h -> a * h + b mod 2**32``, as datasketch draws them.

    ``a`` is odd, so each map is a bijection of 32-bit values.
    """
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


class Sketcher:
    """Computes signatures and bucket keys with one fixed set of permutations."""

    def __init__(self, *, num_perm: int, bands: int, rows: int, seed: int = MINHASH_SEED) -> None:
        if bands * rows > num_perm:
            raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} > {num_perm} values")
        self.num_perm = num_perm
        self.bands = bands
        self.rows = rows
        self.seed = seed
        self._a, self._b = affine32_permutations(num_perm, seed)
        # Per band: a BLAKE2b keyed by the band number (copied per article, cheaper than
        # building one: its parameter block is set up once) and where its values lie.
        self._bands = [
            (
                hashlib.blake2b(digest_size=8, person=band.to_bytes(16, "little")),
                slice(band * rows * 4, (band + 1) * rows * 4),
            )
            for band in range(bands)
        ]

    def signature(self, shingle_set: ShingleSet) -> Signature:
        """The MinHash signature of a shingle set (all-max values for an empty set).

        The same values as datasketch's ``MinHash(scheme="affine32")`` fed the
        shingle hashes (a test checks it), computed in one vectorised step
        instead of datasketch's per-value Python loop.
        """
        if len(shingle_set) == 0:
            return np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        mixed = _fmix32(shingle_set.astype(np.uint32, copy=False))
        hashed = np.multiply.outer(mixed, self._a)  # one row per shingle, one column per map
        hashed += self._b
        return hashed.min(axis=0)

    def bucket_keys(self, shingle_set: ShingleSet) -> list[int]:
        """One signed 64-bit key per band; empty for an empty set (nothing to compare).

        A band's key is the 8-byte BLAKE2b digest of its ``rows`` values
        (little-endian ``uint32``), personalised by the band number and read as a
        little-endian signed integer.
        """
        if len(shingle_set) == 0:
            return []
        values = self.signature(shingle_set).astype("<u4", copy=False).tobytes()
        digests = bytearray()
        for keyed, band_bytes in self._bands:
            hasher = keyed.copy()
            hasher.update(values[band_bytes])
            digests += hasher.digest()
        return np.frombuffer(digests, dtype="<i8").tolist()
