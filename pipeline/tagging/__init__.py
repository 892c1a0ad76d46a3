"""Topic and entity tagging: explainable, editable, fast.

Topics come from a YAML taxonomy (``taxonomy.yaml`` beside this module, plus the user's
``tagging.extra_taxonomies``) whose top level follows the IPTC Media Topics;
entities from pycountry and ``entities.yaml``, plus a heuristic for
people and organisations. One Aho-Corasick pass finds every term::

    from pipeline.tagging import build_tagger
    tagger = build_tagger(config.tagging)
    result = tagger.tag(text, title=title)
    result.labels     # ['conflict-war-peace', 'politics', 'politics/international-relations']
    result.topics     # [TopicTag(label=..., score=..., evidence=[matched terms])]
    result.entities   # [Entity(name='Iran', type='country'), ...]

Labels are ``<top-level slug>`` or ``<slug>/<sub-topic slug>``.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.config import TaggingConfig
from pipeline.tagging.lexicon import Lexicon, load_lexicon
from pipeline.tagging.semantic import (
    CombinedTagger,
    Encoder,
    HashingEncoder,
    SemanticTagger,
    load_packaged_encoder,
)
from pipeline.tagging.tagger import KeywordTagger, Tagger, TagResult
from pipeline.tagging.taxonomy import Taxonomy, Topic, load_taxonomy

__all__ = [
    "CombinedTagger",
    "Encoder",
    "HashingEncoder",
    "KeywordTagger",
    "Lexicon",
    "SemanticTagger",
    "TagResult",
    "Tagger",
    "Taxonomy",
    "Topic",
    "build_tagger",
    "load_lexicon",
    "load_packaged_encoder",
    "load_taxonomy",
]


def build_tagger(
    config: TaggingConfig, *, load_encoder: Callable[[], Encoder] = load_packaged_encoder
) -> Tagger:
    """The tagger the configuration asks for; ConfigError if its rules or model are unusable."""
    keyword = KeywordTagger.from_config(config)
    if not config.semantic:
        return keyword
    semantic = SemanticTagger(keyword.taxonomy, load_encoder(), threshold=config.semantic_threshold)
    return CombinedTagger(keyword, semantic)
