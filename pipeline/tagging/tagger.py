"""The keyword tagger: topics with scores and evidence, and entities, in one pass.

A :class:`Tagger` is anything with ``tag(text, title=..., language=...)``
returning a :class:`TagResult`; :class:`KeywordTagger` is the default and
:class:`~pipeline.tagging.semantic.SemanticTagger` an optional second one::

    tagger = KeywordTagger.from_config(config.tagging)   # compiled once per process
    result = tagger.tag(article.text, title=article.title)
    result.labels        # ['politics', 'politics/international-relations', ...]
    result.topics[0]     # TopicTag(label='politics', score=14.5, evidence=['envoy', ...])
    result.entities      # [Entity(name='Iran', type='country'), ...]

Topic labels are the taxonomy's paths: a top-level slug (``politics``) or a
slug path (``politics/international-relations``); a sub-topic's parent is
always tagged with it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pipeline.config import TaggingConfig
from pipeline.errors import ConfigError
from pipeline.models import Entity, TopicTag
from pipeline.tagging._matcher import Hit, Matcher
from pipeline.tagging._people import Known, find_people_and_organizations
from pipeline.tagging._terms import CaseRule
from pipeline.tagging._text import fold
from pipeline.tagging.lexicon import EntityName, Lexicon, load_lexicon
from pipeline.tagging.metrics import CONFIG_ERRORS, TEXT_TRUNCATED
from pipeline.tagging.taxonomy import Taxonomy, Topic, WeightedTerm, load_taxonomy

TOPIC_LAYER, ENTITY_LAYER = 0, 1
MAX_EVIDENCE = 12
KNOWN_WORD_CACHE = 50_000  # capitalised words seen; bounded for a months-long process
MAX_REPEAT_FACTOR = 2.0
REPEAT_BONUS = 0.5


@dataclass(frozen=True)
class TagResult:
    """Assigned topics (best first) and entities (in order of first mention)."""

    topics: list[TopicTag] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.topics]


class Tagger(Protocol):
    """What the tag stage needs: one call per article."""

    def tag(self, text: str, *, title: str | None = None, language: str | None = None) -> TagResult:
        """Tag one article; ``language`` is a hint a tagger may ignore."""
        ...


@dataclass
class _TopicTally:
    """Occurrences of one topic's terms: effective counts per term and surfaces seen."""

    counts: dict[int, float] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


class KeywordTagger:
    """Aho-Corasick over taxonomy terms and entity names, plus the people heuristic."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        lexicon: Lexicon,
        *,
        min_score: float = 2.0,
        relative_min_score: float = 0.15,
        title_weight: float = 2.0,
        max_chars: int = 100_000,
        people: bool = True,
    ) -> None:
        self.taxonomy = taxonomy
        self.lexicon = lexicon
        self.min_score = min_score
        self.relative_min_score = relative_min_score
        self.title_weight = title_weight
        self.max_chars = max_chars
        self.people = people
        self._terms: list[tuple[Topic, WeightedTerm] | EntityName] = []
        pairs = []
        for topic, term in taxonomy.terms():
            self._terms.append((topic, term))
            pairs.append((term.pattern, TOPIC_LAYER))
        for name in lexicon.names:
            self._terms.append(name)
            pairs.append((name.pattern, ENTITY_LAYER))
        self._matcher = Matcher(pairs)
        self._languages = taxonomy.languages()
        self._known_words, self._known_prefixes = _lexicon_words(lexicon)
        self._prefix_lengths = sorted({len(p) for p in self._known_prefixes})
        self._is_known_word = functools.lru_cache(maxsize=KNOWN_WORD_CACHE)(self._known_word)

    @classmethod
    def from_config(cls, config: TaggingConfig) -> KeywordTagger:
        """The tagger for these settings, built once per process and then shared."""
        paths = (config.taxonomy, *config.extra_taxonomies, config.entities)
        key = (
            tuple((str(p), *_stamp(p)) for p in paths),
            config.min_score,
            config.relative_min_score,
            config.title_weight,
            config.max_chars,
            config.people,
        )
        try:
            return _build_cached(key)
        except ConfigError as exc:
            CONFIG_ERRORS.labels(reason="rules").inc()
            raise exc from None

    def tag(self, text: str, *, title: str | None = None, language: str | None = None) -> TagResult:
        if len(text) > self.max_chars:
            TEXT_TRUNCATED.inc()
            text = text[: self.max_chars]
        title = (title or "").strip()
        combined = f"{title}\n\n{text}" if title else text
        body_start = len(combined) - len(text)
        folded = fold(combined)
        hits = self._matcher.find(combined, folded)
        topics = self._score_topics(
            combined, hits, title_end=len(title), language=self._language(language)
        )
        entities = self._entities(hits)
        if self.people:
            spans = [
                (hit.start - body_start, hit.end - body_start)
                for hit in hits
                if self._matcher.layers[hit.pattern] == ENTITY_LAYER and hit.start >= body_start
            ]
            known = Known(self._is_known_word, spans)
            people = find_people_and_organizations(text, folded[body_start:], known)
            entities = _merge_entities(entities, people)
        topics = [t for t in topics if self._requirements_met(t.label, entities)]
        return TagResult(topics=_with_ancestors(topics, self.taxonomy), entities=entities)

    def _language(self, language: str | None) -> str | None:
        """The article's language if some terms are restricted to it, else None (all apply)."""
        code = (language or "").split("-")[0].split("_")[0].lower()
        return code if code in self._languages else None

    def _score_topics(
        self, text: str, hits: list[Hit], *, title_end: int, language: str | None
    ) -> list[TopicTag]:
        tallies = self._tally(text, hits, title_end, language)
        scored = self._labels_to_score(tallies)
        totals: dict[str, float] = {}
        evidence: dict[str, list[str]] = {}
        for topic in reversed(self.taxonomy.topics.values()):  # children before parents
            if topic.label not in scored:
                continue
            tally = tallies.get(topic.label)
            if tally is None:  # a parent whose own terms do not occur, only its children's
                score, found = 0.0, []
            else:
                score = sum(self._contribution(p, c) for p, c in tally.counts.items())
                found = list(tally.evidence)
            for child in topic.children:
                if child in totals:
                    score += totals[child]
                    found.extend(e for e in evidence[child] if e not in found)
            totals[topic.label], evidence[topic.label] = score, found
        passed = {
            label
            for label, score in totals.items()
            if score >= self._threshold(self.taxonomy.topics[label]) and evidence[label]
        }
        passed = self._main_subjects(passed, totals)
        tags = [
            TopicTag(
                label=label, score=round(totals[label], 2), evidence=evidence[label][:MAX_EVIDENCE]
            )
            for label in passed
        ]
        return sorted(tags, key=lambda t: -t.score)

    def _labels_to_score(self, tallies: dict[str, _TopicTally]) -> set[str]:
        """Topics some of whose terms occur, and their ancestors: the only ones that can score.

        Most of the taxonomy is silent in any one article; a silent topic would
        score 0.0 with no evidence, never pass, and add nothing to its parent.
        """
        labels: set[str] = set()
        for label in tallies:
            current: str | None = label
            while current is not None and current not in labels:
                labels.add(current)
                current = self.taxonomy.topics[current].parent
        return labels

    def _main_subjects(self, labels: set[str], totals: dict[str, float]) -> set[str]:
        """Drop IPTC categories scoring under ``relative_min_score`` of the best one.

        A long article piles up passing mentions ("Russia is a large economy"
        in a diplomacy story); a category needs a share of the main subject's
        evidence. Sub-topics go with their category. Topics without an IPTC
        code (users' rule topics) are not compared.
        """
        topics = self.taxonomy.topics
        categories = [t for t in labels if topics[t].parent is None and topics[t].iptc_code]
        if not categories or self.relative_min_score <= 0:
            return labels
        floor = self.relative_min_score * max(totals[t] for t in categories)
        dropped = {t for t in categories if totals[t] < floor}
        return {t for t in labels if topics[t].top_level not in dropped}

    def _tally(
        self, text: str, hits: list[Hit], title_end: int, language: str | None
    ) -> dict[str, _TopicTally]:
        """Count each topic's terms; one stretch of text counts once per topic.

        Terms listed under another language than the article's do not count
        (German "war" is not English "war"). When two terms of a topic match
        the same words ("science" and "science*"), the heavier one counts.
        """
        best: dict[tuple[str, int, int], int] = {}
        for hit in hits:
            entry = self._terms[hit.pattern]
            if isinstance(entry, EntityName):
                continue
            topic, term = entry
            if language and term.languages and language not in term.languages:
                continue
            key = (topic.label, hit.start, hit.end)
            known = best.get(key)
            if known is None or term.weight > self._weight(known):
                best[key] = hit.pattern
        tallies: dict[str, _TopicTally] = {}
        for (label, start, end), pattern in best.items():
            tally = tallies.get(label)
            if tally is None:
                tally = tallies[label] = _TopicTally()
            weight = self.title_weight if start < title_end else 1.0
            tally.counts[pattern] = tally.counts.get(pattern, 0.0) + weight
            surface = text[start:end]
            seen_as = surface.casefold()
            if seen_as not in tally.seen:
                tally.seen.add(seen_as)
                tally.evidence.append(surface)
        return tallies

    def _weight(self, pattern: int) -> float:
        entry = self._terms[pattern]
        assert not isinstance(entry, EntityName)
        return entry[1].weight

    def _contribution(self, pattern: int, count: float) -> float:
        factor = min(1.0 + REPEAT_BONUS * (count - 1.0), MAX_REPEAT_FACTOR)
        return self._weight(pattern) * factor

    def _threshold(self, topic: Topic) -> float:
        return self.min_score if topic.min_score is None else topic.min_score

    def _entities(self, hits: list[Hit]) -> list[Entity]:
        """Entities by first mention; a weak name counts only beside a strong one.

        Entities are told apart by name and type, what makes two of them equal:
        hashing the model itself is a Python call, and a long article has a
        hundred mentions.
        """
        first_seen: dict[tuple[str, str], tuple[int, Entity]] = {}
        strong: set[tuple[str, str]] = set()
        for hit in hits:
            name = self._terms[hit.pattern]
            if not isinstance(name, EntityName):
                continue
            entity = name.entity
            key = (entity.name, entity.type)
            if key not in first_seen:
                first_seen[key] = (hit.start, entity)
            if not name.weak:
                strong.add(key)
        mentioned = [first_seen[key] for key in first_seen if key in strong]
        return [entity for _, entity in sorted(mentioned, key=lambda mention: mention[0])]

    def _known_word(self, folded: str) -> bool:
        """Is this one word a name in the lexicon (exactly, or by a name's prefix)?"""
        if folded in self._known_words:
            return True
        size = len(folded)
        return any(folded[:n] in self._known_prefixes for n in self._prefix_lengths if n <= size)

    def _requirements_met(self, label: str, entities: list[Entity]) -> bool:
        required = self.taxonomy.topics[label].require_entities
        if not required:
            return True
        present = {e.name.casefold() for e in entities}
        return all(name.casefold() in present for name in required)


@functools.lru_cache(maxsize=8)
def _build_cached(key: tuple[Any, ...]) -> KeywordTagger:
    stamped_paths, min_score, relative_min_score, title_weight, max_chars, people = key
    paths = [Path(p[0]) for p in stamped_paths]
    return KeywordTagger(
        load_taxonomy(paths[:-1]),
        load_lexicon(paths[-1]),
        min_score=min_score,
        relative_min_score=relative_min_score,
        title_weight=title_weight,
        max_chars=max_chars,
        people=people,
    )


def _stamp(path: Path) -> tuple[int, int]:
    """Modification time and size: an edited rules file builds a new tagger."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _lexicon_words(lexicon: Lexicon) -> tuple[frozenset[str], frozenset[str]]:
    """One-word entity names (exact and prefix) for keeping them out of people's names."""
    words: set[str] = set()
    prefixes: set[str] = set()
    for name in lexicon.names:
        pattern = name.pattern
        if " " in pattern.key or pattern.case is CaseRule.EXACT:
            continue
        (prefixes if pattern.open_end else words).add(pattern.key)
    return frozenset(words), frozenset(prefixes)


def _merge_entities(known: list[Entity], found: list[Entity]) -> list[Entity]:
    names = {e.name.casefold() for e in known}
    return known + [e for e in found if e.name.casefold() not in names]


def _with_ancestors(tags: Sequence[TopicTag], taxonomy: Taxonomy) -> list[TopicTag]:
    """A tagged sub-topic tags its parent too (the parent's score already holds it)."""
    labels = {t.label for t in tags}
    result = list(tags)
    for tag in tags:
        parent = taxonomy.topics[tag.label].parent
        while parent is not None and parent not in labels:
            labels.add(parent)
            result.append(TopicTag(label=parent, score=tag.score, evidence=list(tag.evidence)))
            parent = taxonomy.topics[parent].parent
    return sorted(result, key=lambda t: (-t.score, t.label.count("/"), t.label))
