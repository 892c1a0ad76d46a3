"""The entity lexicon: countries (pycountry + ``entities.yaml``), organisations, places.

Countries come from pycountry's ISO 3166-1 list, with its German, French and
Spanish names; the YAML file adds the names newsrooms use ("Russia" for
"Russian Federation"), demonyms and capitals (which name their country:
"Tehran" → Iran), and marks names that need care. Every name maps to exactly
one entity, so "Iranian", "Tehran" and "Teheran" all report ``Iran``::

    lexicon = load_lexicon(SHIPPED_ENTITIES)   # from pipeline.config
    [name for name in lexicon.names if name.entity.name == "Iran"][:3]
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.config import read_yaml_mapping, validation_problems
from pipeline.errors import ConfigError
from pipeline.models import Entity
from pipeline.tagging._terms import CaseRule, TermPattern, parse_term
from pipeline.tagging._text import fold

COUNTRY, ORGANIZATION, PERSON, PLACE = "country", "organization", "person", "place"
LOCALES = ("de", "fr", "es")
_PARENTHESIS = re.compile(r"\s*\([^)]*\)")


@dataclass(frozen=True, slots=True)
class EntityName:
    """One way of writing an entity; a ``weak`` name needs a non-weak one beside it."""

    pattern: TermPattern
    entity: Entity
    weak: bool = False


class _CountrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    demonyms: list[str] = Field(default_factory=list)
    capitals: list[str] = Field(default_factory=list)
    weak: list[str] = Field(default_factory=list)


class _NamedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    aliases: list[str] = Field(default_factory=list)
    weak: list[str] = Field(default_factory=list)


class _LexiconSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1, le=1)
    drop_names: list[str] = Field(default_factory=list)
    countries: dict[str, _CountrySpec] = Field(default_factory=dict)
    organizations: dict[str, _NamedSpec] = Field(default_factory=dict)
    places: dict[str, _NamedSpec] = Field(default_factory=dict)


@dataclass(frozen=True)
class Lexicon:
    names: tuple[EntityName, ...]


def load_lexicon(path: Path) -> Lexicon:
    """Build the lexicon from pycountry and the YAML file; raise ConfigError on problems."""
    raw = read_yaml_mapping(path, what="entity lexicon file")
    try:
        spec = _LexiconSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc), source=str(path)) from None
    builder = _Builder(spec, source=str(path))
    return Lexicon(names=tuple(builder.build()))


class _Builder:
    """Explicit YAML names first; then pycountry names nobody else claims."""

    def __init__(self, spec: _LexiconSpec, *, source: str) -> None:
        self.spec = spec
        self.source = source
        self.dropped = {fold(n) for n in spec.drop_names}
        self.problems: list[str] = []
        self.claimed: dict[str, Entity] = {}
        self.seen: set[tuple[str, CaseRule, bool, bool]] = set()
        self.names: list[EntityName] = []

    def build(self) -> list[EntityName]:
        countries = self._countries()
        for code, entity in countries.items():
            extra = self.spec.countries.get(code, _CountrySpec())
            names = [*extra.aliases, *extra.demonyms, *extra.capitals]
            self._add(f"countries.{code}", entity, names, extra.weak)
        for section, kind in (("organizations", ORGANIZATION), ("places", PLACE)):
            for name, named in getattr(self.spec, section).items():
                entity = Entity(name=name, type=kind)
                self._add(f"{section}.{name}", entity, [name, *named.aliases], named.weak)
        self._add_pycountry_names(countries)
        if self.problems:
            raise ConfigError(self.problems, source=self.source)
        return self.names

    def _countries(self) -> dict[str, Entity]:
        entities: dict[str, Entity] = {}
        for country in pycountry.countries:
            code = country.alpha_2
            extra = self.spec.countries.get(code)
            name = (extra.name if extra else None) or _clean(
                getattr(country, "common_name", None) or country.name
            )
            entities[code] = Entity(name=name, type=COUNTRY)
        for code, extra in self.spec.countries.items():
            if code in entities:
                continue
            if not extra.name:
                self.problems.append(f"countries.{code}: not an ISO 3166 code; give it a name")
                continue
            entities[code] = Entity(name=extra.name, type=COUNTRY)
        return entities

    def _add(self, where: str, entity: Entity, names: Iterable[str], weak: Iterable[str]) -> None:
        weak_keys = set()
        for raw in weak:
            pattern = self._parse(f"{where}.weak", raw)
            if pattern:
                weak_keys.add(_identity(pattern))
        for raw in [*names, *weak]:
            pattern = self._parse(where, raw)
            if pattern is None or pattern.key in self.dropped:
                continue
            owner = self.claimed.get(pattern.key)
            if owner is not None and owner != entity:
                self.problems.append(f"{where}: {raw!r} is already a name of {owner.name}")
                continue
            if _identity(pattern) in self.seen:
                continue
            self.claimed[pattern.key] = entity
            self.seen.add(_identity(pattern))
            weak_name = _identity(pattern) in weak_keys
            self.names.append(EntityName(pattern, entity, weak=weak_name))

    def _parse(self, where: str, raw: Any) -> TermPattern | None:
        try:
            return parse_term(raw)
        except ValueError as exc:
            self.problems.append(f"{where}: {exc}")
            return None

    def _add_pycountry_names(self, countries: dict[str, Entity]) -> None:
        """pycountry's names in English, German, French, Spanish: unclaimed, unambiguous ones."""
        candidates: dict[str, set[str]] = {}
        spelled: dict[str, str] = {}
        for code, name in _pycountry_names():
            key = fold(name)
            candidates.setdefault(key, set()).add(code)
            spelled.setdefault(key, name)
        for key, codes in candidates.items():
            if len(codes) != 1 or key in self.claimed or key in self.dropped:
                continue
            [code] = codes
            if code not in countries:
                continue
            try:
                pattern = parse_term(spelled[key])
            except ValueError:
                continue
            extra = self.spec.countries.get(code, _CountrySpec())
            weak = {fold(w) for w in extra.weak}
            self.claimed[key] = countries[code]
            self.names.append(EntityName(pattern, countries[code], weak=key in weak))


def _identity(pattern: TermPattern) -> tuple[str, CaseRule, bool, bool]:
    """Two spellings are the same name when they match the same texts."""
    return (pattern.key, pattern.case, pattern.open_start, pattern.open_end)


def _pycountry_names() -> Iterable[tuple[str, str]]:
    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
        for lang in LOCALES
    ]
    for country in pycountry.countries:
        english = {
            country.name,
            getattr(country, "common_name", None) or country.name,
            getattr(country, "official_name", None) or country.name,
        }
        for name in english:
            yield country.alpha_2, _clean(name)
            for translation in translations:
                yield country.alpha_2, _clean(translation.gettext(name))


def _clean(name: str) -> str:
    """'Iran, Islamic Republic of' -> 'Iran'; 'Holy See (Vatican City State)' -> 'Holy See'."""
    return _PARENTHESIS.sub("", name).split(",", 1)[0].strip()
