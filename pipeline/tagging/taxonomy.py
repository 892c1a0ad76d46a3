"""The topic taxonomy: YAML files of topics, sub-topics and weighted terms.

The format is documented at the top of ``taxonomy.yaml`` (beside this module). The first
file is the base; each further file (``tagging.extra_taxonomies``) adds topics
or extends existing ones, so users change tagging without code::

    taxonomy = load_taxonomy([SHIPPED_TAXONOMY, Path("my_topics.yaml")])
    taxonomy.topics["politics/elections"].terms

Every problem is reported as a :class:`~pipeline.errors.ConfigError` whose
lines name the file and the key (``topics.politics.terms.en.3: ...``).
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from pipeline.config import read_yaml_mapping, validation_problems
from pipeline.errors import ConfigError
from pipeline.tagging._terms import TermPattern, parse_term

LABEL_SEPARATOR = "/"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


ANY_LANGUAGE = "any"


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    """A term, its weight, and the languages it applies to (empty: every language)."""

    pattern: TermPattern
    weight: float
    languages: frozenset[str] = frozenset()


def _short_repr(value: Any) -> str:
    """A wrong value, shortened so that a line can quote it: YAML aliases make a small file
    a deep, wide tree ("billion laughs"), whose full ``repr`` took minutes and gigabytes
    before the error could be shown."""
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxlist, shortener.maxdict = 2, 3, 3
    shortener.maxstring = shortener.maxother = 60
    return shortener.repr(value)


def _term_item(value: Any) -> WeightedTerm:
    """``"term"`` weighs 1.0; ``{"term": 2.5}`` sets the weight."""
    if isinstance(value, str):
        return WeightedTerm(parse_term(value), 1.0)
    if isinstance(value, dict) and len(value) == 1:
        [(raw, weight)] = value.items()
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(
                f"the weight of {_short_repr(raw)} must be a number, got {_short_repr(weight)}"
            )
        return WeightedTerm(parse_term(str(raw)), float(weight))
    raise ValueError(
        f"a term is a string or a one-entry mapping {{term: weight}}, got {_short_repr(value)}"
    )


TermItem = Annotated[WeightedTerm, BeforeValidator(_term_item)]


def _slug_keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not _SLUG.match(key):
                raise ValueError(f"topic name {key!r} must match [a-z0-9][a-z0-9-]*")
    return value


class _IptcSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^medtop:\d{8}$")
    name: str


class _TopicSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str | None = None
    iptc: _IptcSpec | None = None
    min_score: float | None = Field(default=None, ge=0)
    require_entities: list[str] | None = None
    terms: dict[str, list[TermItem]] = Field(default_factory=dict)
    subtopics: Annotated[dict[str, _TopicSpec], BeforeValidator(_slug_keys)] = Field(
        default_factory=dict
    )


class _TaxonomySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1, le=1)
    topics: Annotated[dict[str, _TopicSpec], BeforeValidator(_slug_keys)]


@dataclass
class Topic:
    """One node of the taxonomy; ``label`` is its full path, e.g. ``politics/elections``."""

    label: str
    name: str
    parent: str | None = None
    iptc_code: str | None = None
    iptc_name: str | None = None
    min_score: float | None = None
    require_entities: tuple[str, ...] = ()
    terms: dict[tuple[str, bool, bool], WeightedTerm] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)

    @property
    def top_level(self) -> str:
        return self.label.split(LABEL_SEPARATOR, 1)[0]


@dataclass
class Taxonomy:
    """All topics by label, parents before their children, in file order."""

    topics: dict[str, Topic] = field(default_factory=dict)

    def top_level(self) -> list[Topic]:
        return [t for t in self.topics.values() if t.parent is None]

    def languages(self) -> frozenset[str]:
        """Every language some term is restricted to."""
        found: set[str] = set()
        for _, term in self.terms():
            found |= term.languages
        return frozenset(found)

    def terms(self) -> Iterator[tuple[Topic, WeightedTerm]]:
        for topic in self.topics.values():
            for term in topic.terms.values():
                yield topic, term


def load_taxonomy(paths: Sequence[Path]) -> Taxonomy:
    """Read the base taxonomy and every extension, in order; raise ConfigError on problems."""
    if not paths:
        raise ConfigError(["tagging.taxonomy: no taxonomy file given"], source="tagging")
    taxonomy = Taxonomy()
    for path in paths:
        spec = _read_spec(Path(path))
        for slug, topic_spec in spec.topics.items():
            _merge(taxonomy, slug, topic_spec, parent=None)
    return taxonomy


def _read_spec(path: Path) -> _TaxonomySpec:
    raw = read_yaml_mapping(path, what="taxonomy file")
    try:
        return _TaxonomySpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc), source=str(path)) from None


def _merge(taxonomy: Taxonomy, slug: str, spec: _TopicSpec, parent: Topic | None) -> None:
    label = f"{parent.label}{LABEL_SEPARATOR}{slug}" if parent else slug
    topic = taxonomy.topics.get(label)
    if topic is None:
        topic = Topic(label=label, name=spec.name or slug, parent=parent.label if parent else None)
        taxonomy.topics[label] = topic
        if parent:
            parent.children.append(label)
    _apply(topic, spec)
    for child_slug, child_spec in spec.subtopics.items():
        _merge(taxonomy, child_slug, child_spec, parent=topic)


def _apply(topic: Topic, spec: _TopicSpec) -> None:
    """Overlay one file's spec on a topic: set fields it names, add or re-weigh its terms.

    The same term listed twice in one file (say in two languages) counts once,
    with its highest weight, for all the languages it is listed under; a later
    file replaces what an earlier one set for that term.
    """
    if spec.name:
        topic.name = spec.name
    if spec.iptc:
        topic.iptc_code, topic.iptc_name = spec.iptc.code, spec.iptc.name
    if spec.min_score is not None:
        topic.min_score = spec.min_score
    if spec.require_entities is not None:
        topic.require_entities = tuple(spec.require_entities)
    from_this_file: dict[tuple[str, bool, bool], WeightedTerm] = {}
    for language, items in spec.terms.items():
        languages = frozenset() if language == ANY_LANGUAGE else frozenset({language})
        for item in items:
            key = _term_key(item.pattern)
            known = from_this_file.get(key)
            if known is None:
                from_this_file[key] = replace(item, languages=languages)
                continue
            best = item if item.weight > known.weight else known
            both = (
                frozenset() if not (languages and known.languages) else languages | known.languages
            )
            from_this_file[key] = replace(best, languages=both)
    topic.terms.update(from_this_file)


def _term_key(pattern: TermPattern) -> tuple[str, bool, bool]:
    return (pattern.key, pattern.open_start, pattern.open_end)
