"""Tokens, exact hashes, shingles and their overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pipeline.dedup.text import content_key, overlap, pack, shingles, text_hash, tokens, unpack

SEEDS = sorted((Path(__file__).parents[3] / "bench" / "data" / "dedup" / "seeds").glob("*.txt"))
TEXT = SEEDS[0].read_text(encoding="utf-8")

words_lists = st.lists(
    st.sampled_from(["iran", "russia", "nato", "said", "the", "envoy", "a"]), max_size=60
)


def test_tokens_ignore_case_punctuation_and_unicode_forms() -> None:
    assert tokens("Iran\u2019s envoy,  SAID:\n\u201cno\u201d") == tokens("iran's Envoy said no")


def test_text_hash_is_equal_for_reformatted_text_and_differs_for_other_text() -> None:
    reflowed = TEXT.upper().replace("\n\n", "\n").replace(", ", " , ")
    assert text_hash(tokens(reflowed)) == text_hash(tokens(TEXT))
    assert text_hash(tokens(TEXT + " One more sentence.")) != text_hash(tokens(TEXT))


def test_content_key_changes_with_the_title() -> None:
    words = tokens(TEXT)
    assert content_key("Envoy speaks", words) != content_key("Envoy speaks again", words)
    assert content_key("Envoy speaks", words) == content_key("ENVOY speaks!", words)


def test_shingles_are_sorted_distinct_and_stable() -> None:
    first = shingles(tokens(TEXT), 5)
    assert first.dtype == np.uint32
    assert np.all(np.diff(first.astype(np.int64)) > 0)
    assert np.array_equal(first, shingles(tokens(TEXT), 5))
    assert len(first) <= len(tokens(TEXT)) - 4


def test_short_and_empty_texts() -> None:
    assert len(shingles(tokens("three short words"), 5)) == 1
    assert len(shingles([], 5)) == 0


def test_truncation_is_fully_contained() -> None:
    words = tokens(TEXT)
    full = shingles(words, 5)
    cut = shingles(words[: int(len(words) * 0.7)], 5)
    score = overlap(full, cut)
    assert score.containment == 1.0
    assert 0.6 < score.jaccard < 0.8
    assert score.smaller == len(cut)


def test_different_seed_stories_barely_overlap() -> None:
    a, b = (shingles(tokens(p.read_text(encoding="utf-8")), 5) for p in SEEDS)
    score = overlap(a, b)
    assert score.jaccard < 0.05 and score.containment < 0.1


@given(words_lists, words_lists)
def test_overlap_matches_set_arithmetic(a_words: list[str], b_words: list[str]) -> None:
    a, b = shingles(a_words, 2), shingles(b_words, 2)
    score = overlap(a, b)
    sa, sb = set(a.tolist()), set(b.tolist())
    if not sa or not sb:
        assert score.jaccard == score.containment == 0.0
        return
    assert score.jaccard == len(sa & sb) / len(sa | sb)
    assert score.containment == len(sa & sb) / min(len(sa), len(sb))
    assert score.jaccard <= score.containment
    assert overlap(b, a) == score


@given(words_lists)
def test_pack_round_trips(words: list[str]) -> None:
    value = shingles(words, 3)
    assert np.array_equal(unpack(memoryview(pack(value))), value)
