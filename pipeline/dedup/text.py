"""Text fingerprints: normalised tokens, exact hashes and word-shingle sets.

Two copies of one story differ in ways that carry no meaning: Unicode forms
(a curly apostrophe against a straight one), case, punctuation, spacing and line breaks. Everything
here works on the *normalised token stream* so those differences vanish before
anything is hashed::

    >>> tokens("Iran\u2019s envoy  said: NATO's expansion\u2026")
    ['iran', 's', 'envoy', 'said', 'nato', 's', 'expansion']

Shingles are hashed word k-grams (k = ``DedupConfig.shingle_size``) kept as a
sorted array of distinct ``uint32`` values: compact enough to store per
article and to intersect exactly when a near-duplicate candidate is confirmed.
The hashes are stable across processes and machines (CRC-32 of each token,
then a polynomial over the window with a 64-bit finaliser), unlike Python's
salted ``hash()``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ShingleSet = npt.NDArray[np.uint32]

_WORD = re.compile(r"\w+")
_ASCII_NON_WORD_TO_SPACE = str.maketrans(
    {c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")}
)
"""What ``\\w+`` leaves out of an ASCII text, as spaces: ASCII texts split on it instead."""
_WINDOW_BASE = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so the window polynomial mixes
_FMIX = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens after Unicode NFKC normalisation; punctuation is dropped."""
    if text.isascii():  # NFKC and casefold change ASCII as lower() does; split in half the time
        return text.lower().translate(_ASCII_NON_WORD_TO_SPACE).split()
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def text_hash(words: list[str]) -> str:
    """The exact-copy key of a text: equal for texts that differ only in form."""
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32]


def content_key(title: str | None, words: list[str]) -> str:
    """What a revision is: the normalised title plus the normalised text."""
    head = " ".join(tokens(title or ""))
    payload = head + "\x00" + " ".join(words)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def shingles(words: list[str], size: int) -> ShingleSet:
    """Distinct hashed word ``size``-grams of ``words``, sorted ascending.

    A text shorter than one window yields a single shingle of all its words,
    and an empty text yields an empty set.
    """
    if not words:
        return np.empty(0, dtype=np.uint32)
    token_hashes = np.fromiter(
        map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words)
    )
    width = min(size, len(words))
    count = len(words) - width + 1
    window = token_hashes[:count].copy()  # the polynomial's first term: 0 * base + h
    for offset in range(1, width):
        window *= _WINDOW_BASE
        window += token_hashes[offset : offset + count]
    return _sorted_distinct((_finalise(window) >> np.uint64(32)).astype(np.uint32))


def _sorted_distinct(values: ShingleSet) -> ShingleSet:
    """``np.unique(values)`` for a fresh 1-d array, sorted in place.

    For the few hundred values of an article ``np.unique`` spends most of its
    time in its general machinery (hash-based dedup, then a sort); one sort and
    a neighbour comparison give the same array in a tenth of the time.
    """
    values.sort()
    distinct = np.empty(len(values), dtype=bool)
    distinct[:1] = True
    np.not_equal(values[1:], values[:-1], out=distinct[1:])
    return values[distinct]


def _finalise(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """MurmurHash3's 64-bit finaliser: spreads the window polynomial over all bits."""
    shift, first, second = _FMIX
    values = values ^ (values >> shift)
    values = values * first
    values = values ^ (values >> shift)
    values = values * second
    return values ^ (values >> shift)


@dataclass(frozen=True)
class Overlap:
    """How much two shingle sets share: the score that confirms a near-duplicate."""

    jaccard: float
    containment: float  # share of the smaller set found in the larger: 1.0 for a truncation
    smaller: int  # size of the smaller set, so tiny texts can be held to a stricter rule


def overlap(a: ShingleSet, b: ShingleSet) -> Overlap:
    """Exact Jaccard similarity and containment of two sorted shingle sets."""
    smaller = min(len(a), len(b))
    if smaller == 0:
        return Overlap(0.0, 0.0, 0)
    common = len(np.intersect1d(a, b, assume_unique=True))
    return Overlap(common / (len(a) + len(b) - common), common / smaller, smaller)


def pack(shingle_set: ShingleSet) -> bytes:
    """Shingles as stored: little-endian ``uint32`` values."""
    return shingle_set.astype("<u4").tobytes()


def unpack(data: bytes | memoryview) -> ShingleSet:
    """Inverse of :func:`pack`; accepts the ``memoryview`` PostgreSQL returns for BYTEA."""
    return np.frombuffer(bytes(data), dtype="<u4").astype(np.uint32)
