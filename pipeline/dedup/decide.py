"""The decisions of dedup, as pure functions over index records.

The index (:mod:`connectors.storage.dedup_index`) fetches candidates and
stores verdicts inside one transaction; what counts as a match, which match
wins and which article is canonical is decided here, so it can be tested
without a database and is the same on every worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pipeline.config import DedupConfig
from pipeline.dedup.fingerprint import Fingerprint
from pipeline.dedup.text import ShingleSet, overlap

Method = Literal["url", "text_hash", "near_duplicate"]
VerdictKind = Literal["unique", "canonical", "duplicate"]

_METHOD_RANK: dict[Method, int] = {"url": 0, "text_hash": 1, "near_duplicate": 2}


@dataclass(frozen=True)
class Candidate:
    """An indexed article that shares a URL, a text hash or an LSH bucket with the new one."""

    article_id: str
    cluster_id: str
    order: str
    url_key: str
    text_hash: str | None
    shingles: ShingleSet

    @property
    def rank(self) -> tuple[str, str]:
        return (self.order, self.article_id)


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    method: Method
    similarity: float


@dataclass(frozen=True)
class Repointed:
    """A cluster member whose canonical changed because an earlier-published copy arrived."""

    article_id: str
    method: Method
    similarity: float


@dataclass(frozen=True)
class Verdict:
    """What dedup says about one article; the same article always gets the same verdict.

    ``kind`` is ``unique`` (founded a cluster), ``canonical`` (joined a cluster
    and is its earliest-published member) or ``duplicate``. ``replay`` is true
    when this exact content was seen before; ``revision`` counts content
    changes of one id. ``repointed`` lists the members whose ``duplicate_of``
    now points at this article. ``generation`` is the cluster's verdict
    version: the index takes a new one from one counter at each change to the
    cluster (founded, joined, new canonical), so of two verdicts on one article
    the higher generation is the present one.
    """

    article_id: str
    kind: VerdictKind
    cluster_id: str
    duplicate_of: str | None
    method: Method | None
    similarity: float | None
    revision: int
    replay: bool = False
    repointed: tuple[Repointed, ...] = field(default_factory=tuple)
    generation: int = 1


def confirm(fingerprint: Fingerprint, candidate: Candidate, config: DedupConfig) -> Match | None:
    """Confirm one candidate by URL, exact text, or an actual shingle-overlap score.

    A URL match needs no text evidence (it is the same page); its recorded
    similarity is the text Jaccard when both texts are comparable. A
    near-duplicate needs Jaccard >= ``near_duplicate_threshold``, or, for
    truncated copies, containment >= ``containment_threshold``.
    """
    score = overlap(fingerprint.shingles, candidate.shingles)
    if candidate.url_key in fingerprint.url_keys:
        return Match(candidate, "url", score.jaccard if score.smaller else 1.0)
    if fingerprint.text_hash is not None and candidate.text_hash == fingerprint.text_hash:
        return Match(candidate, "text_hash", 1.0)
    if score.smaller < config.min_shingles:
        return None
    if score.jaccard >= config.near_duplicate_threshold:
        return Match(candidate, "near_duplicate", round(score.jaccard, 4))
    if score.containment >= config.containment_threshold:
        return Match(candidate, "near_duplicate", round(score.containment, 4))
    return None


def best_match(
    fingerprint: Fingerprint, candidates: Iterable[Candidate], config: DedupConfig
) -> Match | None:
    """The strongest confirmed match: URL over hash over near-duplicate, then score, then rank."""
    matches = [m for c in candidates if (m := confirm(fingerprint, c, config)) is not None]
    if not matches:
        return None
    return min(matches, key=lambda m: (_METHOD_RANK[m.method], -m.similarity, m.candidate.rank))


def precedes(rank: tuple[str, str], other: tuple[str, str]) -> bool:
    """True when an article of ``rank`` should be canonical over one of ``other``."""
    return rank < other
