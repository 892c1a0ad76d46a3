"""A page's bytes to text: what the page says about itself first, a guess last.

The order follows what browsers do (WHATWG "encoding sniffing"), with one
change: bytes that are valid UTF-8 are read as UTF-8 whatever the labels say.
Non-ASCII text in a legacy encoding is almost never valid UTF-8 by accident,
while a wrong label is common (Apache long sent ``charset=ISO-8859-1`` by
default, and ISO-8859-1 decodes any bytes, so the label would always win)::

    byte order mark > UTF-8 > UTF-8 but for a few stray bytes > Content-Type charset
      > <meta charset> > the legacy encoding of the page's <html lang>
      > a statistical guess > lossy UTF-8

A UTF-8 page with a stray byte in it (a Latin-1 character pasted into a UTF-8
template, a body cut inside a character) is still UTF-8: before this witness one
bad byte made the whole article mojibake (each curly quote three other letters)
through a legacy label or the guess. Its stray bytes become U+FFFD instead.

A label is used only when the bytes decode with it: a server that says
``charset=utf-8`` over a Latin-1 page (common after a CMS migration) falls
through to the next witness. ISO-8859-1 and ASCII labels mean windows-1252,
as in browsers: pages so labelled use its curly quotes and dashes.

The statistical guess comes last because on a short page it is often wrong
(a French page in Latin-1 was guessed as Baltic ``cp1257``: "très" became
"trčs"); the language a page declares names the encoding its legacy sites
used, the way a browser's locale does.
"""

from __future__ import annotations

import codecs
import re

from trafilatura.utils import detect_encoding, handle_compressed_file

SNIFF_BYTES = 4096
"""Where ``<meta charset>`` and ``<html lang>`` are looked for (browsers look at 1,024)."""
GUESS_BYTES = 100_000
"""How much of the page the statistical guess reads."""

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE
)
_HTML_LANG = re.compile(rb"""<html[^>]{0,500}?\blang\s*=\s*["']?([A-Za-z]{2,3})""", re.IGNORECASE)

LEGACY_BY_LANGUAGE = {
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "sr"), "cp1251"),
    **dict.fromkeys(("pl", "cs", "sk", "hu", "sl", "hr", "ro", "bs"), "cp1250"),
    **dict.fromkeys(("lt", "lv", "et"), "cp1257"),
    "el": "cp1253",
    "tr": "cp1254",
    "he": "cp1255",
    "ar": "cp1256",
    "fa": "cp1256",
    "vi": "cp1258",
    "th": "cp874",
    "ja": "shift_jis",
    "ko": "euc_kr",
    "zh": "gb18030",
}
"""The encoding legacy sites of a language used (WHATWG's locale fallbacks); the rest
of the world's legacy web is windows-1252."""
WESTERN = "cp1252"
_WHATWG_ALIASES = dict.fromkeys(
    ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"), WESTERN
)


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def decode_page(raw: bytes, declared: str | None = None, *, max_bytes: int | None = None) -> str:
    """Decode an HTML page; see the module docstring for the order of witnesses.

    A body that does not start with markup may be compressed without a
    Content-Encoding (a misconfigured server, a ``.html.gz`` file): it is
    decompressed first, up to ``max_bytes`` (trafilatura's bomb-safe reader).
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding, "replace")
    if raw[:512].lstrip()[:1] != b"<":
        raw = handle_compressed_file(raw, max_bytes)
    nearly_utf8 = _utf8_but_for_stray_bytes(raw)
    if nearly_utf8 is not None:
        return nearly_utf8
    for encoding in _labels(raw, declared):
        try:
            return raw.decode(encoding)
        except (LookupError, UnicodeError):  # "undefined" names a codec that always raises
            continue
    for guess in detect_encoding(raw[:GUESS_BYTES]):
        try:
            return raw.decode(guess)
        except (LookupError, UnicodeError):
            continue
    return raw.decode("utf-8", "replace")


STRAY_BYTE_SHARE = 10
"""UTF-8 characters needed per stray byte for a page to count as UTF-8: a page in a
legacy encoding has almost none (its accented letters are stray bytes in UTF-8)."""


def _utf8_but_for_stray_bytes(raw: bytes) -> str | None:
    """The page as UTF-8 with its stray bytes replaced, if it is UTF-8 (valid UTF-8
    included); None if it has too few UTF-8 characters for its stray bytes.

    Valid UTF-8 (nearly every page) is decoded strictly first: the same text, without
    counting U+FFFD in the text and its bytes in the page (~70 us per 112 KB page)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", "replace")
    stray = text.count("\ufffd") - raw.count("\ufffd".encode())
    if stray == 0:
        return text
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return text if non_ascii - stray >= STRAY_BYTE_SHARE * stray else None


def _labels(raw: bytes, declared: str | None) -> list[str]:
    """The encodings the page and its server name, in the order they are trusted."""
    head = raw[:SNIFF_BYTES]
    labels: list[str] = []
    if declared:
        labels.append(declared)
    meta = _META_CHARSET.search(head)
    if meta:
        labels.append(meta.group(1).decode("ascii"))
    lang = _HTML_LANG.search(head)
    if lang:
        labels.append(LEGACY_BY_LANGUAGE.get(lang.group(1).decode("ascii").lower(), WESTERN))
    return [_WHATWG_ALIASES.get(label.lower(), label) for label in labels]
