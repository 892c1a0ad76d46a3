"""People and organisations named in a text, by a light heuristic tuned for precision.

No model: runs of capitalised words are read with grammatical cues.

* A **person** is 2-4 capitalised name words that a cue vouches for: a title
  before them ("President Vladimir Putin", "la ministra Ana López"), a verb of
  speech next to them ("Kazem Jalali urged", "said Ansari"), or their surname
  standing alone elsewhere with such a cue ("Jalali added"). Surnames alone
  are reported under the full name, so "Jalali" and "Kazem Jalali" are one
  person. A known country, demonym or organisation word, a function word, an
  acronym or an organisation head word is never part of a person's name.
* An **organisation** is a run holding a head word (Ministry, Bank, Party,
  Council, Inc; Ministerium, Partei; Banque, Conseil; Banco, Partido), cut
  after the head and an optional "of X" tail ("Bank of England",
  "Bundesagentur für Arbeit").

A wrong person is worse than a missing one, so anything uncertain is left out.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pipeline.models import Entity
from pipeline.tagging._cues import (
    ABBREVIATED_TITLES,
    CONNECTORS,
    COORDINATORS,
    NAME_PARTICLES,
    ORG_HEADS,
    ORG_SUFFIXES,
    SPEECH_AFTER,
    SPEECH_AUXILIARIES,
    SPEECH_BEFORE,
    SPEECH_PARTICIPLES,
    STOPWORDS,
    TITLE_MODIFIERS,
    TITLE_SUFFIXES,
    TITLES,
)
from pipeline.tagging.lexicon import ORGANIZATION, PERSON

_UPPER = "".join(c for c in map(chr, range(0x3000)) if c.isupper())
_WORD_CHAR = r"[\w'\u2019-]"
_PARTICLES = ("al", "el", "ul", "ad", "as", "ash", "ben", "bin", "abu", "ibn")
_PARTICLE_PREFIX = rf"(?:{'|'.join(_PARTICLES)})-"
_CAP_WORD = rf"(?:{_PARTICLE_PREFIX})?[{_UPPER}]{_WORD_CHAR}*"
_WRITTEN_WITH_ACCENT = {"fur": "für"}  # the word lists are folded; the run regex reads the text
_INNER = "|".join(
    _WRITTEN_WITH_ACCENT.get(w, w)
    for w in sorted(CONNECTORS | NAME_PARTICLES, key=len, reverse=True)
)
_MORE_WORDS = rf"(?:(?: (?:{_INNER}))* {_CAP_WORD})*"
_RUN = re.compile(rf"(?<!{_WORD_CHAR}){_CAP_WORD}{_MORE_WORDS}")
_RUN_FROM_CAPITAL = re.compile(rf"[{_UPPER}](?<!{_WORD_CHAR}.){_WORD_CHAR}*{_MORE_WORDS}")


def _particle_start_pattern() -> re.Pattern[str]:
    """Where ``_RUN`` would start a run on a particle prefix: "al-Assad" after a space.

    The pattern opens on the hyphen, a literal the regex engine skips to
    quickly; look-behinds then check the particle and the character before
    it, one look-behind per particle length (a look-behind has one width).
    """
    lengths = sorted({len(particle) for particle in _PARTICLES})
    behind = [
        rf"(?<=(?<!{_WORD_CHAR})(?:{'|'.join(p for p in _PARTICLES if len(p) == size)})-)"
        for size in lengths
    ]
    return re.compile(rf"-(?:{'|'.join(behind)})[{_UPPER}]")


_PARTICLE_START = _particle_start_pattern()
_POSSESSIVE_ENDINGS = ("'s", "\u2019s", "'", "\u2019")
_CUT_ENDINGS = (*_POSSESSIVE_ENDINGS, "-")  # what _runs cuts off a word before reading it
_NEXT = re.compile(r" (\w+)(?: (\w+))?")
_LOOKBACK = 40
_MIN_NAME_WORDS, _MAX_NAME_WORDS = 2, 4
_MAX_ORG_WORDS = 8
_WORD_CACHE = 50_000  # folded words looked up in the cue lists; bounded for a long process


_Spelling = tuple[str, int]
"""A word as written (no possessive ending) and its offset in the text."""


@dataclass(slots=True)
class _Word:
    text: str
    folded: str
    start: int
    end: int
    capitalised: bool
    known: bool
    span_end: int  # end of the lexicon match this word starts in, or -1


@dataclass
class _Candidate:
    words: list[_Word]
    cued: bool

    @property
    def name(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def surname(self) -> str:
        return self.words[-1].folded


class _Before(NamedTuple):
    """The two words before a position (folded), and whether the last one ended in '.'."""

    first: str
    last: str
    dotted: bool


_NOTHING_BEFORE = _Before("", "", False)


class _Reader:
    """Cues around a position of one text (the original and its folded copy)."""

    def __init__(self, text: str, folded: str) -> None:
        self.text = text
        self.folded = folded

    def previous(self, start: int) -> _Before:
        """The two words before ``start`` (folded), and whether the last ends in '.'.

        Only words separated by single spaces count: '"...," said Ansari' gives
        "said"; "Iran. Ansari" gives nothing.
        """
        begin = max(0, start - _LOOKBACK)
        window = self.folded[begin:start]
        if not window.endswith(" "):
            return _NOTHING_BEFORE
        parts = window[:-1].rsplit(" ", 2)
        if begin > 0 and len(parts) < 3:
            parts = parts[1:]  # the first piece may be a word cut by the window
        if not parts:
            return _NOTHING_BEFORE
        last = parts[-1]
        dotted = last.endswith(".")
        first = parts[-2] if len(parts) > 1 else ""
        return _Before(first, last[:-1] if dotted else last, dotted)

    def following(self, end: int) -> tuple[str, str]:
        match = _NEXT.match(self.folded, end)
        if match is None:
            return "", ""
        return match.group(1), match.group(2) or ""

    def speech_after(self, end: int) -> bool:
        word, then = self.following(end)
        return word in SPEECH_AFTER or (word in SPEECH_AUXILIARIES and then in SPEECH_PARTICIPLES)


def _titled(before: _Before) -> bool:
    """A title right before: "foreign minister Ana López", "Mr. Jalali"."""
    return before.last in ABBREVIATED_TITLES if before.dotted else _is_title(before.last)


def _speech_before(before: _Before) -> bool:
    """A verb of speech right before: '"...," said Ansari', "according to Ansari"."""
    if before.dotted:
        return False
    return before.last in SPEECH_BEFORE or (before.last == "to" and before.first == "according")


class Known:
    """What the entity lexicon already claims: its one-word names, and the spans it matched.

    Known words never go into a person's name ("Syrian" out of "Syrian
    President Bashar al-Assad", "International Monetary" out of people), and
    an organisation that starts inside a matched name is the lexicon's to report.
    """

    def __init__(
        self, is_word: Callable[[str], bool], spans: Sequence[tuple[int, int]] = ()
    ) -> None:
        self.is_word = is_word
        self._starts = [start for start, _ in spans]
        self._ends = [end for _, end in spans]

    def span_end(self, position: int) -> int:
        """The end of the lexicon match covering ``position``, or -1."""
        index = bisect.bisect_right(self._starts, position) - 1
        if index >= 0 and position < self._ends[index]:
            return self._ends[index]
        return -1


def find_people_and_organizations(text: str, folded: str, known: Known) -> list[Entity]:
    """People and organisations in ``text``, in order of first mention.

    ``folded`` is :func:`~pipeline.tagging._text.fold` of ``text``; ``known``
    holds what the lexicon found in the same text (spans in its offsets).
    """
    reader = _Reader(text, folded)
    found: list[tuple[int, Entity]] = []
    candidates: list[_Candidate] = []
    cued_surnames: set[str] = set()
    lone_words: list[_Spelling] = []
    for run in _runs(text, folded, known, lone_words):
        if len(run) == 1:  # one word left ("Iran's", a run cut by a possessive): as lone words
            lone_words.append((run[0].text, run[0].start))
            continue
        if any(_heads_organization(word) for word in run):  # few runs name one
            for part in _coordinated_parts(run):
                organization = _organization(part, text)
                if organization:
                    found.append(organization)
        _read_names(run, reader, candidates, cued_surnames)
    surnames = {candidate.surname for candidate in candidates}
    for spelling, start in lone_words:  # read only as the surname of a longer candidate
        if folded[start : start + len(spelling)] in surnames:
            for run in _trimmed([_word(spelling, start, folded, known)]):
                _read_names(run, reader, candidates, cued_surnames)
    found.extend(_resolve_people(candidates, cued_surnames))
    found.sort(key=lambda pair: pair[0])
    entities: list[Entity] = []
    seen: set[str] = set()
    for _, entity in found:
        if entity.name not in seen:
            seen.add(entity.name)
            entities.append(entity)
    return entities


def _read_names(
    run: list[_Word], reader: _Reader, candidates: list[_Candidate], cued_surnames: set[str]
) -> None:
    """Add the run's names of several words to ``candidates``, its cued surnames to the set.

    A run of one word can only add a cued surname, and a cued surname counts
    only when it ends a longer candidate: one-word runs (most runs) are read
    last, and only when their word is such a surname; their cues (the words
    around them) are not looked at otherwise. A one-word run that cannot be a
    surname (a known name, a function word, a title) gives nothing here.
    """
    for candidate in _name_candidates(run, reader):
        if len(candidate.words) > 1:
            candidates.append(candidate)
        elif candidate.cued:
            cued_surnames.add(candidate.surname)


def _runs(
    text: str, folded: str, known: Known, lone_words: list[_Spelling]
) -> Iterator[list[_Word]]:
    """Capitalised words joined by single spaces; a possessive ("Iran's") ends a run.

    A match of one plain word ("Russia", "The", "Jalali": most of them) is not
    built into a run but added to ``lone_words``: it can only be a surname,
    which is looked up last and rarely.
    """
    for match in _run_pattern(text).finditer(text):
        run: list[_Word] = []
        position = match.start()
        matched = match.group()
        if " " not in matched and not matched.endswith(_CUT_ENDINGS):
            lone_words.append((matched, position))
            continue
        for piece in matched.split(" "):
            start, position = position, position + len(piece) + 1
            bare = _without_possessive(piece).rstrip("-")
            if not bare:
                continue
            run.append(_word(bare, start, folded, known))
            if bare != piece:
                yield from _trimmed(run)
                run = []
        yield from _trimmed(run)


def _word(spelling: str, start: int, folded: str, known: Known) -> _Word:
    """The word as the heuristic reads it: folded, capitalised or not, known to the lexicon."""
    end = start + len(spelling)
    word_folded = folded[start:end]
    span_end = known.span_end(start)
    lexicon = span_end >= 0 or known.is_word(word_folded)
    return _Word(spelling, word_folded, start, end, spelling != spelling.lower(), lexicon, span_end)


def _run_pattern(text: str) -> re.Pattern[str]:
    """``_RUN``, or the faster ``_RUN_FROM_CAPITAL`` when both find the same runs in ``text``.

    ``_RUN`` opens with a look-behind, so the regex engine tries it at every
    position of the text; ``_RUN_FROM_CAPITAL`` opens with the capital letter
    (and looks behind it), which lets the engine jump from capital to capital:
    half the time on news text. The two differ only on a run that starts with
    a particle prefix ("al-Assad" after a space), and ``_PARTICLE_START``
    finds those quickly: it is anchored on the hyphen.
    """
    return _RUN if _PARTICLE_START.search(text) else _RUN_FROM_CAPITAL


def _without_possessive(piece: str) -> str:
    if piece.endswith(_POSSESSIVE_ENDINGS):
        return piece[: -2 if piece[-1] == "s" else -1]
    return piece


def _trimmed(run: list[_Word]) -> Iterator[list[_Word]]:
    """The run without its trailing lower-case words, if anything is left.

    A letter the pattern takes for a capital may have no lower case at all
    (U+2110, SCRIPT CAPITAL I): such a run can end up empty.
    """
    while run and not run[-1].capitalised:
        run.pop()
    if run:
        yield run


@functools.lru_cache(maxsize=_WORD_CACHE)  # asked of most words two or three times
def _is_title(folded: str) -> bool:
    return folded in TITLES or (len(folded) > 8 and folded.endswith(TITLE_SUFFIXES))


@functools.lru_cache(maxsize=_WORD_CACHE)
def _is_org_head(folded: str) -> bool:
    return folded in ORG_HEADS or (len(folded) > 6 and folded.endswith(ORG_SUFFIXES))


def _coordinated_parts(run: list[_Word]) -> list[list[_Word]]:
    """ "US Federal Reserve and the Bank of England" is two organisations, not one."""
    parts: list[list[_Word]] = [[]]
    for word in run:
        if word.folded in COORDINATORS:
            parts.append([])
        else:
            parts[-1].append(word)
    return [part for part in parts if part]


def _heads_organization(word: _Word) -> bool:
    """ "Ministry", "Bank", "Zentralbank": a word that makes its run an organisation's name."""
    return word.capitalised and _is_org_head(word.folded)


def _organization(run: list[_Word], text: str) -> tuple[int, Entity] | None:
    heads = [i for i, w in enumerate(run) if _heads_organization(w)]
    if not heads:
        return None
    begin = 0
    while begin < heads[0] and (run[begin].folded in STOPWORDS or _is_title(run[begin].folded)):
        begin += 1
    if run[begin].span_end > run[begin].end:
        return None  # "European Union", "US Federal Reserve": the lexicon reports these
    end = heads[-1] + 1
    if end + 1 < len(run) and run[end].folded in CONNECTORS and run[end + 1].capitalised:
        end += 1
        while end < len(run) and run[end].capitalised:
            end += 1
    words = run[begin:end]
    if not (_MIN_NAME_WORDS <= len(words) <= _MAX_ORG_WORDS):
        return None
    name = " ".join(text[words[0].start : words[-1].end].split())
    return words[0].start, Entity(name=name, type=ORGANIZATION)


def _name_candidates(run: list[_Word], reader: _Reader) -> list[_Candidate]:
    """Split a run at words that cannot be in a name; cue each piece.

    A piece right before an organisation's head word is part of that name
    ("International Monetary Fund", "Goldman Sachs Bank"), never a person.
    """
    before_run = reader.previous(run[0].start)  # read once: both cues before the run use it
    pieces: list[tuple[list[_Word], bool]] = []
    current: list[_Word] = []
    titled = _titled(before_run)
    for position, word in enumerate(run):
        separator = _separator(word, first=position == 0)
        if separator is None:
            current.append(word)
            continue
        if separator != "organization":
            pieces.append((current, titled))
        current, titled = [], separator == "title"
    pieces.append((current, titled))
    candidates = []
    for words, piece_titled in pieces:
        while words and not words[-1].capitalised:
            words = words[:-1]
        if not words or len(words) > _MAX_NAME_WORDS:
            continue
        cued = piece_titled
        if not cued and words[-1] is run[-1]:
            cued = reader.speech_after(words[-1].end)
        if not cued and words[0] is run[0]:
            cued = _speech_before(before_run)
        candidates.append(_Candidate(words, cued))
    return candidates


def _separator(word: _Word, *, first: bool) -> str | None:
    """Why a word cannot be part of a person's name, or None if it can.

    A particle may sit inside a name ("Marine Le Pen"); at the start of a run
    a function word is just the start of a sentence ("The", "Le").
    """
    folded = word.folded
    if _is_title(folded):
        return "title"
    if _is_org_head(folded):
        return "organization"
    if folded in NAME_PARTICLES and not first:
        return None
    if (
        not word.capitalised
        or word.known
        or folded in STOPWORDS
        or folded in TITLE_MODIFIERS
        or (len(word.text) > 1 and word.text.isupper())
    ):
        return "other"
    return None


def _resolve_people(
    candidates: list[_Candidate], cued_surnames: set[str]
) -> list[tuple[int, Entity]]:
    """Keep vouched-for names; a cued surname vouches for the one full name it ends."""
    full_names: dict[str, set[str]] = {}
    for candidate in candidates:
        full_names.setdefault(candidate.surname, set()).add(candidate.name)
    distinct_by_surname = {surname: _distinct(names) for surname, names in full_names.items()}
    people: dict[str, tuple[int, Entity]] = {}
    for candidate in candidates:
        surname = candidate.surname
        distinct = distinct_by_surname[surname]
        unique = len(distinct) == 1
        if not (candidate.cued or (unique and surname in cued_surnames)):
            continue
        name = next(iter(distinct)) if unique else candidate.name
        start = candidate.words[0].start
        if name not in people or start < people[name][0]:
            people[name] = (start, Entity(name=name, type=PERSON))
    return list(people.values())


def _distinct(names: set[str]) -> set[str]:
    """Names that are not the tail of a longer one ("Vladimir Putin" absorbs "Putin")."""
    if len(names) == 1:  # most surnames: nothing to compare
        return names
    return {n for n in names if not any(o != n and o.endswith(" " + n) for o in names)}
