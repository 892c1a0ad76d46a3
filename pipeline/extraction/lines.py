"""Text lines as the residue filter sees them: shape, and a key for counting.

trafilatura's text output puts one block (paragraph, heading, list item) per
line. The filter works on those lines; :func:`line_key` normalises a line so
that the same template line counts as one across articles even when digits,
case, punctuation or spacing differ ("Updated 10:42" ~ "Updated 9:05").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from pipeline.keys import bounded_key

_TERMINAL = tuple(".!?…:;")
_CLOSERS = "\"'\u201d\u2019\u00bb)]"  # straight and typographic closing quotes, brackets
_CLOCK = re.compile(r"\b\d{1,2}[:h.]\d{2}\b")
_DIGIT = re.compile(r"\d")  # no digit, no clock time: most lines skip the costlier _CLOCK scan
_NON_WORD = re.compile(r"[\W_]+")
_ASCII_NON_ALNUM_TO_SPACE = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})
"""``_NON_WORD.sub(" ", text)`` for ASCII text, as a table: half the time of the regex. Unlike
dedup's ``\\w+`` tokens, a line key splits on "_" too."""
SENTENCE_MIN_WORDS = 6

_T = TypeVar("_T")


class _computed_once(Generic[_T]):  # lower case: used as a decorator, like cached_property
    """``functools.cached_property`` without the lock Python 3.11 takes on every first read.

    The value is stored in the instance's ``__dict__``, which later reads find
    before this (non-data) descriptor. The lock made each line's first read of
    ``words``, ``key`` and ``sentence_like`` a good part of the residue filter's
    cost; two threads reading one line at once would at worst both compute it.
    """

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> _computed_once[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> _T: ...

    def __get__(self, instance: object | None, owner: type) -> _computed_once[_T] | _T:
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.name] = value
        return value


@dataclass(frozen=True)
class Line:
    """One line of extracted text with the shape facts the rules use."""

    text: str
    index: int

    @_computed_once
    def words(self) -> int:
        return len(self.text.split())

    @_computed_once
    def key(self) -> str:
        return line_key(self.text)

    @_computed_once
    def sentence_like(self) -> bool:
        return is_sentence_like(self.text)


def split_lines(text: str) -> list[Line]:
    """Non-empty, whitespace-normalised lines of ``text``, numbered in order."""
    lines: list[Line] = []
    for raw in text.splitlines():
        if words := raw.split():
            lines.append(_measured(" ".join(words), len(lines), len(words)))
    return lines


def _measured(text: str, index: int, words: int) -> Line:
    """A line with its word count and shape already set: the split that normalised its
    spacing counted its words, so neither is split again."""
    line = Line(text=text, index=index)
    line.__dict__["words"] = words
    line.__dict__["sentence_like"] = words >= SENTENCE_MIN_WORDS and ends_like_sentence(text)
    return line


def line_key(text: str) -> str:
    """The normalised form lines are counted and matched by.

    Case, punctuation and spacing do not count, nor do clock times ("Updated
    10:42" is the same template line as "Updated 9:05"); other numbers do,
    since they are what tells one subheading or formulaic report from the next.
    A very long line (a paragraph) is keyed by its start and a digest
    (:func:`~pipeline.keys.bounded_key`).

    >>> line_key("  Updated 10:42 - SHARE this! ")
    'updated 0 0 share this'
    >>> line_key("Reaction in Leeds since 2014")
    'reaction in leeds since 2014'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    if _DIGIT.search(folded):
        folded = _CLOCK.sub("0:0", folded)
    if folded.isascii():
        spaced = folded.translate(_ASCII_NON_ALNUM_TO_SPACE)
    else:
        spaced = _NON_WORD.sub(" ", folded)
    return bounded_key(" ".join(spaced.split()))


def ends_like_sentence(text: str) -> bool:
    """True when the line ends with sentence punctuation, closing quotes allowed."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return stripped.endswith(_TERMINAL)


def is_sentence_like(text: str) -> bool:
    """A line that reads as prose: enough words and a sentence ending.

    >>> is_sentence_like("Share your story")
    False
    >>> is_sentence_like("The council approved the budget on Monday.")
    True
    """
    return len(text.split()) >= SENTENCE_MIN_WORDS and ends_like_sentence(text)
