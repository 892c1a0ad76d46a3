"""One Aho-Corasick pass that finds every term of every layer in a text.

All terms (topic keywords and entity names) go into one automaton, built once.
A text is folded (:func:`~pipeline.tagging._text.fold`), scanned once, and each
raw hit is checked for word boundaries and for the case rule of its term
against the original text (folding keeps offsets, so the spans agree).
Overlapping hits of the same layer keep the longest: "clinical trial" hides
"trial", "Papua New Guinea" hides "Guinea". Layers do not hide each other:
"European Central Bank" is an organisation *and* evidence for economy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick

from pipeline.tagging._terms import CaseRule, TermPattern
from pipeline.tagging._text import fold


class Hit(NamedTuple):
    """``pattern`` (an index into the matcher's patterns) found at ``start:end``.

    A named tuple: as immutable as a frozen dataclass, and half the cost to make.
    """

    start: int
    end: int
    pattern: int


@dataclass(frozen=True, slots=True)
class _Entry:
    """One pattern stored under an automaton key, with its boundary rules worked out once.

    ``bounded_start``: a word character right before the match rejects it (the
    pattern has no leading ``*`` and starts with a letter or digit); likewise
    ``bounded_end`` after it. Most raw hits are inside longer words ("war" in
    "software"), so this is the test most hits fail.
    """

    index: int
    pattern: TermPattern
    bounded_start: bool
    bounded_end: bool

    @classmethod
    def of(cls, index: int, pattern: TermPattern) -> _Entry:
        return cls(
            index,
            pattern,
            bounded_start=not pattern.open_start and pattern.key[0].isalnum(),
            bounded_end=not pattern.open_end and pattern.key[-1].isalnum(),
        )


class Matcher:
    """Compiled once from ``(pattern, layer)`` pairs; :meth:`find` is then cheap."""

    def __init__(self, patterns: Sequence[tuple[TermPattern, int]]) -> None:
        self.patterns = [p for p, _ in patterns]
        self.layers = [layer for _, layer in patterns]
        by_key: dict[str, list[_Entry]] = {}
        for index, pattern in enumerate(self.patterns):
            by_key.setdefault(pattern.key, []).append(_Entry.of(index, pattern))
        self._automaton = ahocorasick.Automaton()
        for key, entries in by_key.items():
            self._automaton.add_word(key, (len(key), tuple(entries)))
        if by_key:
            self._automaton.make_automaton()
        self._empty = not by_key

    def find(self, text: str, folded: str | None = None) -> list[Hit]:
        """Every valid hit in ``text``, overlaps resolved per layer, in text order.

        ``folded`` is ``fold(text)`` when the caller has it already.
        """
        if self._empty or not text:
            return []
        hits = self._raw_hits(text, fold(text) if folded is None else folded)
        return _longest_per_layer(hits, self.layers)

    def _raw_hits(self, text: str, folded: str) -> list[Hit]:
        found: list[Hit] = []
        size = len(text)
        for last, (length, entries) in self._automaton.iter(folded):
            start, end = last - length + 1, last + 1
            before_is_word = start > 0 and folded[start - 1].isalnum()
            after_is_word = end < size and folded[end].isalnum()
            for entry in entries:
                if before_is_word and entry.bounded_start:
                    continue
                if after_is_word and entry.bounded_end:
                    continue
                pattern = entry.pattern
                if not _case_agrees(pattern, text, start, end):
                    continue
                stop = _word_end(folded, end) if pattern.open_end else end
                begin = _word_start(folded, start) if pattern.open_start else start
                found.append(Hit(begin, stop, entry.index))
        return found


def _case_agrees(pattern: TermPattern, text: str, start: int, end: int) -> bool:
    if pattern.case is CaseRule.ANY:
        return True
    if pattern.case is CaseRule.CAPITALISED:
        return text[start].isupper()
    return text[start:end] == pattern.surface


def _word_end(folded: str, end: int) -> int:
    size = len(folded)
    while end < size and folded[end].isalnum():
        end += 1
    return end


def _word_start(folded: str, start: int) -> int:
    while start > 0 and folded[start - 1].isalnum():
        start -= 1
    return start


def _longest_per_layer(hits: list[Hit], layers: Sequence[int]) -> list[Hit]:
    """Drop hits that overlap a longer (or earlier, equally long) hit of the same layer.

    Hits with the very same span all stay: one word may be a term of several
    topics, or the name of an entity and a keyword at once.
    """
    hits.sort(key=lambda h: (h.start, h.start - h.end))
    kept: list[Hit] = []
    last_span: dict[int, tuple[int, int]] = {}
    for hit in hits:
        layer = layers[hit.pattern]
        previous = last_span.get(layer)
        if previous is not None and hit.start < previous[1]:
            if (hit.start, hit.end) != previous:
                continue
        else:
            last_span[layer] = (hit.start, hit.end)
        kept.append(hit)
    return kept
