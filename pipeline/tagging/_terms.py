"""One term of a taxonomy or entity lexicon, and the marks its spelling carries.

The spelling of a term says how it matches (see the header of
``taxonomy.yaml``)::

    >>> parse_term("election*").open_end
    True
    >>> parse_term("NATO").case is CaseRule.EXACT
    True
    >>> parse_term("Turkey").case is CaseRule.CAPITALISED
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from pipeline.tagging._text import fold

_SPACES = re.compile(r"\s+")
MIN_TERM_LENGTH = 2


class CaseRule(Enum):
    """How the case of the text must agree with the term."""

    ANY = "any"  # "election": any case
    CAPITALISED = "capitalised"  # "Turkey": the text's first letter is upper case
    EXACT = "exact"  # "WHO": the text is exactly this


@dataclass(frozen=True, slots=True)
class TermPattern:
    """A parsed term: ``key`` is what the automaton looks for in folded text."""

    raw: str
    key: str
    surface: str
    case: CaseRule
    open_start: bool
    open_end: bool


def parse_term(raw: str) -> TermPattern:
    """Parse one term; raise ``ValueError`` saying what is wrong with it."""
    if not isinstance(raw, str):
        raise ValueError(f"a term must be text, got {type(raw).__name__}")
    text = _SPACES.sub(" ", raw.strip())
    open_start = text.startswith("*")
    open_end = text.endswith("*")
    surface = text.strip("*").strip()
    if "*" in surface:
        raise ValueError(f"{raw!r}: '*' may only start or end a term")
    letters = [c for c in surface if c.isalnum()]
    if len(surface) < MIN_TERM_LENGTH or not letters:
        raise ValueError(f"{raw!r}: a term needs at least {MIN_TERM_LENGTH} characters")
    return TermPattern(
        raw=text,
        key=fold(surface),
        surface=surface,
        case=_case_rule(surface),
        open_start=open_start,
        open_end=open_end,
    )


def _case_rule(surface: str) -> CaseRule:
    cased = [c for c in surface if c.isalpha()]
    if len(surface) >= MIN_TERM_LENGTH and cased and all(c.isupper() for c in cased):
        return CaseRule.EXACT
    if surface[0].isupper():
        return CaseRule.CAPITALISED
    return CaseRule.ANY
