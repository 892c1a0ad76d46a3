"""Text lines as the residue filter sees them: shape, and a key for counting.

trafilatura's text output puts one block (paragraph, heading, list item) per
line. The filter works on those lines; :func:`line_key` normalises a line so
that the same template line counts as one across articles even when digits,
case, punctuation or spacing differ ("Updated 10:42" ~ "Updated 9:05").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from pipeline.keys import bounded_key

_TERMINAL = tuple(".!?…:;")
_CLOSERS = "\"'\u201d\u2019\u00bb)]"  # straight and typographic closing quotes, brackets
_CLOCK = re.compile(r"\b\d{1,2}[:h.]\d{2}\b")
_NON_WORD = re.compile(r"[\W_]+")
SENTENCE_MIN_WORDS = 6


@dataclass(frozen=True)
class Line:
    """One line of extracted text with the shape facts the rules use."""

    text: str
    index: int

    @cached_property
    def words(self) -> int:
        return len(self.text.split())

    @cached_property
    def key(self) -> str:
        return line_key(self.text)

    @cached_property
    def sentence_like(self) -> bool:
        return is_sentence_like(self.text)


def split_lines(text: str) -> list[Line]:
    """Non-empty, whitespace-normalised lines of ``text``, numbered in order."""
    lines = (" ".join(raw.split()) for raw in text.splitlines())
    return [Line(text=line, index=i) for i, line in enumerate(line for line in lines if line)]


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
    folded = _CLOCK.sub("0:0", unicodedata.normalize("NFKC", text).casefold())
    return bounded_key(" ".join(_NON_WORD.sub(" ", folded).split()))


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
