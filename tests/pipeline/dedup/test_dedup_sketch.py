"""MinHash signatures and LSH bucket keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.dedup.sketch import Sketcher, affine32_permutations
from pipeline.dedup.text import shingles, tokens

SEEDS = sorted((Path(__file__).parents[3] / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))
WORDS = tokens(SEEDS[0].read_text(encoding="utf-8"))
OTHER = tokens(SEEDS[1].read_text(encoding="utf-8"))


def sketcher() -> Sketcher:
    return Sketcher(num_perm=128, bands=42, rows=3)


def test_one_key_per_band_and_the_same_keys_every_time() -> None:
    keys = sketcher().bucket_keys(shingles(WORDS, 5))
    assert len(keys) == 42
    assert len(set(keys)) == 42  # the band number is part of the key
    assert keys == sketcher().bucket_keys(shingles(WORDS, 5))
    assert all(-(2**63) <= k < 2**63 for k in keys)


def test_an_empty_set_has_no_keys() -> None:
    assert sketcher().bucket_keys(shingles([], 5)) == []


def test_a_truncated_copy_shares_buckets_and_another_story_does_not() -> None:
    full = set(sketcher().bucket_keys(shingles(WORDS, 5)))
    cut = set(sketcher().bucket_keys(shingles(WORDS[: int(len(WORDS) * 0.7)], 5)))
    other = set(sketcher().bucket_keys(shingles(OTHER, 5)))
    assert len(full & cut) >= 5
    assert not full & other


def test_bands_must_fit_the_signature() -> None:
    with pytest.raises(ValueError, match="150 > 128"):
        Sketcher(num_perm=128, bands=50, rows=3)


def test_permutations_equal_datasketch_affine32() -> None:
    from datasketch import MinHash

    a, b = MinHash(num_perm=128, seed=7, scheme="affine32").permutations
    ours_a, ours_b = affine32_permutations(128, 7)
    assert (ours_a == a).all() and (ours_b == b).all()
    assert ours_a.dtype == np.uint32 and (ours_a % 2 == 1).all()


def test_signature_equals_datasketch_affine32() -> None:
    from datasketch import MinHash

    shingle_set = shingles(WORDS, 5)
    reference = MinHash(num_perm=128, seed=1, hashfunc=int, scheme="affine32")
    reference.update_batch(shingle_set.tolist())
    assert (sketcher().signature(shingle_set) == reference.hashvalues).all()
