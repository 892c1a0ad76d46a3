"""Generic residue rules, loaded from data (``residue_rules.yaml`` beside this module).

The file names categories of residue (share prompts, calls to action,
newsletter sign-ups, programme teasers, photo credits, ...) with regular
expressions per language, plus per-source ``deny``/``allow`` patterns. This
module only compiles and answers questions; the decisions that need context
(edges, neighbours, guard rails) live in :mod:`pipeline.extraction.residue`.

    rules = load_rules(SHIPPED_RESIDUE_RULES)   # from pipeline.config
    rules.category(line, position=3)   # -> "share_prompt" or None
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pipeline.config import read_yaml_mapping
from pipeline.errors import ConfigError
from pipeline.extraction.lines import Line
from pipeline.hosts import url_host

TOP_LINES = 2  # "where: top" categories look at this many first lines
RECENT_LINES = 4096
"""Short lines whose category is remembered: a publisher's template lines (share
prompts, bylines, credits) come back in article after article; 44 % of the short
lines of the benchmark corpus had been seen before. Forgotten all at once when full."""
_UNSEEN: Any = object()


@dataclass(frozen=True)
class PatternSet:
    """Regular expressions of one list, split so the common case stays cheap.

    Patterns written ``^...`` are tried only at the start of the line (``match``
    on one alternation), the others anywhere (``search``): most rules are
    anchored prompts, and scanning every position of every line for them is
    what made the filter cost a few percent of extraction time.
    """

    anchored: re.Pattern[str] | None
    floating: re.Pattern[str] | None

    def hit(self, text: str) -> bool:
        return bool(
            (self.anchored is not None and self.anchored.match(text))
            or (self.floating is not None and self.floating.search(text))
        )


@dataclass(frozen=True)
class Category:
    """One kind of residue: how it is recognised and on which lines."""

    name: str
    max_words: int
    patterns: PatternSet | None
    fragments: PatternSet | None
    top_only: bool = False
    label: bool = False

    def matches(self, line: Line, position: int) -> bool:
        if line.words > self.max_words or (self.top_only and position >= TOP_LINES):
            return False
        if self.patterns is not None and self.patterns.hit(line.text):
            return True
        return (
            self.fragments is not None and not line.sentence_like and self.fragments.hit(line.text)
        )


@dataclass(frozen=True)
class SourceRules:
    """What a user added for one publisher: lines to always remove or always keep."""

    deny: PatternSet | None = None
    allow: PatternSet | None = None


@dataclass(frozen=True)
class Screen:
    """The categories that may recognise lines of one shape, and one check for all of them.

    A line's shape (word count, first lines or not, sentence or not) decides
    which categories apply and whether their fragments count; ``patterns`` is
    every regular expression those categories would try, in one alternation.
    When it finds nothing, no category recognises the line, which is what most
    lines are told, with two regex calls instead of two per category.
    ``patterns`` is None when the categories' expressions cannot be joined (see
    :func:`_joinable`): each category is then tried in turn.
    """

    candidates: tuple[Category, ...]
    fragments: bool  # whether the categories' fragments are in ``patterns``
    patterns: PatternSet | None

    @classmethod
    def of(cls, candidates: tuple[Category, ...], *, fragments: bool) -> Screen:
        tried = [c.patterns for c in candidates]
        if fragments:
            tried += [c.fragments for c in candidates]
        sets = [s for s in tried if s is not None]
        anchored = [s.anchored for s in sets if s.anchored is not None]
        floating = [s.floating for s in sets if s.floating is not None]
        if not _joinable(anchored + floating):
            return cls(candidates, fragments, patterns=None)
        return cls(candidates, fragments, PatternSet(_joined(anchored), _joined(floating)))

    def may_match(self, text: str) -> bool:
        return bool(self.candidates) and (self.patterns is None or self.patterns.hit(text))


@dataclass(frozen=True)
class ResidueRules:
    categories: tuple[Category, ...]
    edge_max_words: int = 10
    teaser_lines: int = 2
    sources: Mapping[str, SourceRules] = field(default_factory=dict)
    _screens: dict[tuple[int, bool, bool], Screen] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _recent: dict[tuple[str, bool], Category | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def category(self, line: Line, position: int) -> Category | None:
        """The first category that recognises ``line`` at ``position`` (0 = first line)."""
        if line.words > self.longest:
            return None  # most article paragraphs: longer than any rule looks at
        seen = (line.text, position < TOP_LINES)  # all the answer depends on
        found = self._recent.get(seen, _UNSEEN)
        if found is _UNSEEN:
            found = self._first_category(line, position)
            if len(self._recent) >= RECENT_LINES:
                self._recent.clear()
            self._recent[seen] = found
        return found

    def _first_category(self, line: Line, position: int) -> Category | None:
        screen = self._screen(line.words, position < TOP_LINES, line.sentence_like)
        if not screen.may_match(line.text):
            return None
        return next((c for c in screen.candidates if c.matches(line, position)), None)

    def _screen(self, words: int, top: bool, sentence_like: bool) -> Screen:
        """The screen for lines of this shape (found by one look-up after the first line)."""
        shape = (words, top, sentence_like)
        screen = self._screens.get(shape)
        if screen is None:
            screen = self._screens[shape] = self._new_screen(words, top, sentence_like)
        return screen

    def _new_screen(self, words: int, top: bool, sentence_like: bool) -> Screen:
        """Shapes that leave the same categories share a screen: the default rules make
        seven sets of categories, and compiling one alternation per shape (a hundred)
        cost each process 0.16 s."""
        candidates = tuple(
            c for c in self.categories if words <= c.max_words and (top or not c.top_only)
        )
        fragments = not sentence_like  # fragments only count on lines that are not sentences
        for known in self._screens.values():
            if known.candidates == candidates and known.fragments == fragments:
                return known
        return Screen.of(candidates, fragments=fragments)

    @cached_property
    def longest(self) -> int:
        return max((c.max_words for c in self.categories), default=0)

    @cached_property
    def label_names(self) -> frozenset[str]:
        """Categories whose bare match is a label that teaser titles follow."""
        return frozenset(c.name for c in self.categories if c.label)

    def for_source(self, source: str) -> SourceRules:
        return self.sources.get(normalise_domain(source), _NO_SOURCE_RULES)

    def is_short(self, line: Line) -> bool:
        """Short and not a sentence: the shape of labels, promos and show names."""
        return line.words <= self.edge_max_words and not line.sentence_like


_NO_SOURCE_RULES = SourceRules()

_GROUP_REFERENCE = re.compile(r"(?:^|[^\\])(?:\\\\)*(?:\\[1-9]|\(\?\()")
"""An unescaped backreference (``\\1``) or conditional (``(?(1)...)``) in an expression."""


def _joinable(patterns: list[re.Pattern[str]]) -> bool:
    """True when one alternation of ``patterns`` matches exactly where one of them does.

    Group numbers shift in an alternation, so an expression that names a group
    (a name may repeat) or refers to one by number (``\\1``, ``(?(1)...)``) is
    not joined; the check errs on the side of not joining.
    """
    same_flags = len({p.flags for p in patterns}) <= 1
    return same_flags and not any(
        p.groupindex or _GROUP_REFERENCE.search(p.pattern) for p in patterns
    )


def _joined(patterns: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), patterns[0].flags)


def normalise_domain(domain: str) -> str:
    """A publisher's domain as :func:`~pipeline.extraction.urls.source_of` names it: read as
    a URL's host (:func:`~pipeline.hosts.url_host`: ``Bücher.example`` is
    ``xn--bcher-kva.example``), without ``www.``; what no URL could name stays as written,
    lower case."""
    try:
        domain = url_host(domain.strip())
    except ValueError:
        domain = domain.strip().lower().rstrip(".")
    return domain.removeprefix("www.")


def load_rules(path: Path) -> ResidueRules:
    """Read and compile the rules file; every problem is a :class:`ConfigError` naming the key."""
    return parse_rules(read_yaml_mapping(path, what="residue rules file"), source=str(path))


def parse_rules(raw: Any, *, source: str = "residue rules") -> ResidueRules:
    """Compile an already-parsed rules mapping (tests and per-source extensions use this)."""
    if not isinstance(raw, dict):
        raise ConfigError(["the top level must be a mapping"], source=source)
    problems: list[str] = []
    limits = _section(raw, "limits", problems)
    default_max = _int(limits, "max_words", 14, problems)
    categories = tuple(
        _category(str(name), spec, default_max, problems)
        for name, spec in _section(raw, "categories", problems).items()
    )
    sources = {
        normalise_domain(str(domain)): _source_rules(str(domain), spec, problems)
        for domain, spec in _section(raw, "sources", problems).items()
    }
    rules = ResidueRules(
        categories=categories,
        edge_max_words=_int(limits, "edge_max_words", 10, problems),
        teaser_lines=_int(limits, "teaser_lines", 2, problems),
        sources=sources,
    )
    if problems:
        raise ConfigError(problems, source=source)
    return rules


def _section(raw: dict[Any, Any], key: str, problems: list[str]) -> dict[Any, Any]:
    """A top-level section, which must be a mapping: ``categories: 7`` was an
    ``AttributeError`` at start (exit status 70) instead of a line naming the key."""
    section = raw.get(key) or {}
    if not isinstance(section, dict):
        problems.append(f"{key}: must be a mapping")
        return {}
    return section


def _category(name: str, spec: Any, default_max: int, problems: list[str]) -> Category:
    if not isinstance(spec, dict):
        problems.append(f"categories.{name}: must be a mapping")
        spec = {}
    return Category(
        name=name,
        max_words=_int(spec, "max_words", default_max, problems, where=f"categories.{name}"),
        patterns=_compile(spec.get("patterns"), f"categories.{name}.patterns", problems),
        fragments=_compile(spec.get("fragments"), f"categories.{name}.fragments", problems),
        top_only=spec.get("where") == "top",
        label=bool(spec.get("label", False)),
    )


def _source_rules(domain: str, spec: Any, problems: list[str]) -> SourceRules:
    if not isinstance(spec, dict):
        problems.append(f"sources.{domain}: must be a mapping with deny/allow lists")
        return _NO_SOURCE_RULES
    return SourceRules(
        deny=_compile(spec.get("deny"), f"sources.{domain}.deny", problems),
        allow=_compile(spec.get("allow"), f"sources.{domain}.allow", problems),
    )


def _compile(spec: Any, where: str, problems: list[str]) -> PatternSet | None:
    """One pattern set from a list, or from a mapping of language -> list."""
    if spec is None:
        return None
    groups: Iterable[Any] = spec.values() if isinstance(spec, dict) else [spec]
    patterns: list[str] = []
    for group in groups:
        if not isinstance(group, list) or not all(isinstance(p, str) for p in group):
            problems.append(f"{where}: must be a list of regular expressions")
            continue
        patterns.extend(group)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"{where}: invalid regular expression {pattern!r}: {exc}")
    if not patterns or any(p.startswith(where) for p in problems):
        return None
    anchored = [p[1:] for p in patterns if p.startswith("^")]
    floating = [p for p in patterns if not p.startswith("^")]
    return PatternSet(anchored=_alternation(anchored), floating=_alternation(floating))


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def _int(spec: Any, key: str, default: int, problems: list[str], *, where: str = "limits") -> int:
    value = spec.get(key, default) if isinstance(spec, dict) else default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems.append(f"{where}.{key}: must be a positive integer")
        return default
    return value
