"""Per-source learned boilerplate: what one publisher repeats across its articles.

trafilatura's own duplicate filter ignores lines under 100 characters and
lives in one process, so the short lines a publisher's template repeats
("Share your story", "Titre Aval") survive it. Here each source's recent
distinct articles are counted line by line (in the store, see
:mod:`connectors.storage.residue_stats`); a normalised line seen in at least
``min_articles`` of them and in ``min_share`` of the window is template.

A :class:`LearnedBoilerplate` is a read-only snapshot of that state for one
source, taken before an article is filtered.

Counting is separate from filtering: the extract stage hands each article's
lines to a :class:`LineCounter` as a :class:`LineObservation`. Usually that
writes them to the store at once; an embedded extraction process holds them
(:class:`DeferredLines`) and the process that owns the database writes counts
them with the article, so no extraction process waits for the write lock.

Cold start: a source's first ``min_articles`` articles are filtered by the
generic rules only, since nothing can be learned from fewer articles; lines
become template from the next article on. Articles filtered before a line was
learned are not re-checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

Verdict = Literal["allow", "deny", "template"]


@dataclass(frozen=True)
class LearnedBoilerplate:
    """Template lines of one source, plus the user's allow/deny overrides (line keys)."""

    source: str
    template: frozenset[str] = field(default_factory=frozenset)
    allow: frozenset[str] = field(default_factory=frozenset)
    deny: frozenset[str] = field(default_factory=frozenset)
    articles: int = 0

    def verdict(self, key: str) -> Verdict | None:
        """What the learned layer says about a line key; overrides win over counts."""
        if key in self.allow:
            return "allow"
        if key in self.deny:
            return "deny"
        if key in self.template:
            return "template"
        return None


def template_threshold(articles: int, *, min_articles: int, min_share: float) -> int:
    """How many distinct articles a line must appear in, given the window holds ``articles``.

    >>> template_threshold(10, min_articles=3, min_share=0.2)
    3
    >>> template_threshold(200, min_articles=3, min_share=0.2)
    40
    """
    return max(min_articles, math.ceil(min_share * articles))


@dataclass(frozen=True)
class LineObservation:
    """One extracted article's lines, to be counted into its source's window."""

    source: str
    article_key: str
    lines: dict[str, str]
    """Every line trafilatura gave, by line key (text kept as a sample)."""
    content_keys: list[str]
    """Keys of the kept sentence-like lines: how a near copy of a counted article is told."""


class LineCounter(Protocol):
    """Where the extract stage sends each article's lines."""

    def count(self, observation: LineObservation) -> None: ...


class DeferredLines:
    """Holds observations until the process that owns the writes takes them."""

    def __init__(self) -> None:
        self._pending: list[LineObservation] = []

    def count(self, observation: LineObservation) -> None:
        self._pending.append(observation)

    def take(self) -> list[LineObservation]:
        """The observations held so far, in order; none are held after."""
        taken, self._pending = self._pending, []
        return taken
