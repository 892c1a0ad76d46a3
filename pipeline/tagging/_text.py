r"""Text folding for matching: casefolded, accent-insensitive, and the same length.

:func:`fold` maps every character to exactly one character, so an offset in
the folded text is the same offset in the original. That is what lets one
Aho-Corasick pass run over folded text while case rules ("NATO" must be
upper case, "Turkey" must be capitalised) are checked against the original::

    >>> fold("Téhéran\u2019s ÉTATS-UNIS")
    "teheran's etats-unis"
    >>> len(fold("Straße")) == len("Straße")
    True

Accents are dropped except on ``ñ`` (Spanish "año" is not "ano"). Characters
whose case folding would change the length (``ß`` → ``ss``) keep a one-character
lower-case form instead. Typographic apostrophes and dashes become ``'`` and
``-``, and line breaks and tabs become spaces, so "Iran\u2019s" and "Iran's"
match alike and a phrase broken over two lines still matches.
"""

from __future__ import annotations

import re
import unicodedata

_FOLD_UP_TO = 0x3000  # Latin, Greek, Cyrillic, punctuation; scripts above have no case
_PUNCTUATION = {
    "\u2019": "'",  # right single quotation mark
    "\u2018": "'",
    "\u02bc": "'",
    "\u00b4": "'",
    "`": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u00a0": " ",
    "\u202f": " ",
    "\n": " ",
    "\r": " ",
    "\t": " ",
}
_KEEP_ACCENT = {"ñ": "ñ", "Ñ": "ñ"}


def _fold_char(char: str) -> str:
    if char in _PUNCTUATION:
        return _PUNCTUATION[char]
    if char in _KEEP_ACCENT:
        return _KEEP_ACCENT[char]
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    for candidate in (base.lower(), char.lower()):
        if len(candidate) == 1:
            folded = candidate.casefold()  # final sigma, long s: one more step
            return folded if len(folded) == 1 and folded.lower() == folded else candidate
    return char


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(_FOLD_UP_TO):
        char = chr(code)
        folded = _fold_char(char)
        while (again := _fold_char(folded)) != folded:  # Greek oxia -> acute accent -> '
            folded = again
        if folded != char:
            table[code] = folded
    return table


_TABLE = _build_table()


_NEEDS_TABLE = re.compile(f"[{''.join(re.escape(chr(code)) for code in sorted(_TABLE))}]")
"""The characters the table changes; the others (most of a text, but also «, », „) stay."""
_ASCII_TABLE = {code: folded for code, folded in _TABLE.items() if code < 0x80}


def fold(text: str) -> str:
    """Casefold and strip accents without changing the length of ``text``.

    ``str.lower`` does most of the work in C; only the characters it leaves
    to do (accents, typographic punctuation, line breaks) go through the table.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # e.g. "İ": lower() would add a combining dot
        return text.translate(_TABLE)
    if lowered.isascii():  # only \t\n\r and ` left to do: translate has a fast path for ASCII
        return lowered.translate(_ASCII_TABLE)
    return _NEEDS_TABLE.sub(_fold_match, lowered)


def _fold_match(match: re.Match[str]) -> str:
    char = match.group()
    return _TABLE.get(ord(char), char)


def is_word_char(char: str) -> bool:
    """Letters and digits continue a word; anything else is a boundary."""
    return char.isalnum()
