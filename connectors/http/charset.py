"""A page's bytes to text: what the page says about itself first, a guess last.

The order follows what browsers do (WHATWG "encoding sniffing"), with one
change: bytes that are valid UTF-8 are read as UTF-8 whatever the labels say.
Non-ASCII text in a legacy encoding is almost never valid UTF-8 by accident,
while a wrong label is common (Apache long sent ``charset=ISO-8859-1`` by
default, and ISO-8859-1 decodes any bytes, so the label would always win)::

    byte order mark > UTF-8 > UTF-8 but for stray bytes > Content-Type charset
      > <meta charset> > the legacy encoding of the page's <html lang>
      > a statistical guess > lossy UTF-8

A UTF-8 page with stray bytes in it (windows-1252 text pasted into a UTF-8
template, injected garbage, a body cut inside a character) is still UTF-8: one
bad byte used to make the whole article mojibake (each curly quote three other
letters) through a legacy label or the guess. It is UTF-8 when its UTF-8
characters outnumber its stray bytes ten to one, or when the stray bytes are
scattered one by one among ASCII (what pasted windows-1252 text or damage
looks like; a legacy page in a non-Latin script or a multi-byte encoding has
its non-UTF-8 bytes in runs, words of them) and either its UTF-8 characters are
at least a tenth of them or the page is labelled UTF-8 and has some. A stray
byte is read as the legacy encoding of the page's language when that is a
single-byte one (windows-1252 without ``<html lang>``), which is what a pasted
fragment is; U+FFFD for a multi-byte language and for a character cut at the end.
``newsflow_pages_repaired_total`` counts these pages.

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

from connectors.http.metrics import REPAIRED

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
    text = _utf8_but_for_stray_bytes(raw, declared)
    if text is not None:
        return text
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
"""UTF-8 characters needed per stray byte for a page to count as UTF-8 whatever its
stray bytes look like: a page in a legacy encoding has almost none (its accented
letters are stray bytes in UTF-8; in a multi-byte encoding a fifth to a third of its
characters happen to read as UTF-8)."""
SCATTERED_SHARE = 0.5
"""Share of stray bytes with ASCII on both sides above which they are scattered
damage, not legacy text: 0.84-0.98 for Latin-script windows-125x text (which has no
UTF-8 characters), 0.00-0.20 for Cyrillic, Greek, Arabic, Hebrew, Thai and the CJK
encodings (measured on gettext catalogues); 1.00 for pasted windows-1252 words."""
_ISOLATED_STRAY = re.compile(r"\ufffd(?![^\x00-\x7f])(?<![^\x00-\x7f]\ufffd)")
"""A U+FFFD with ASCII (or the page's edge) on both sides; the literal first is
searched for fast."""
_UTF8_LABELS = frozenset(("utf-8", "utf8"))


def _utf8_but_for_stray_bytes(raw: bytes, declared: str | None) -> str | None:
    """The page as UTF-8 with its stray bytes repaired, if it is UTF-8 (valid UTF-8
    included); None if its stray bytes look like text in a legacy encoding.

    Valid UTF-8 (nearly every page) is decoded strictly first: the same text, without
    counting U+FFFD in the text and its bytes in the page (~70 us per 112 KB page)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", "replace")
    stray = text.count("\ufffd") - raw.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    utf8 = non_ascii - stray
    if utf8 < STRAY_BYTE_SHARE * stray and not _scattered(text, stray, utf8, raw, declared):
        return None
    stray_as = _stray_encoding(raw)
    REPAIRED.labels(stray_as or "replacement").inc()
    return raw.decode("utf-8", _STRAY_HANDLERS[stray_as])


def _scattered(text: str, stray: int, utf8: int, raw: bytes, declared: str | None) -> bool:
    """Whether a page's stray bytes are scattered damage in a UTF-8 page: one by one
    among ASCII, with UTF-8 characters beside them (a tenth as many, or any at all
    on a page labelled UTF-8). Counting them costs ~1 ms on a 90 KB Japanese page in
    Shift_JIS (36,000 stray bytes), ~0.02 ms on a mostly ASCII page."""
    if utf8 == 0:
        return False
    if STRAY_BYTE_SHARE * utf8 < stray and not any(
        label.lower() in _UTF8_LABELS for label in _labels(raw, declared)
    ):
        return False
    return len(_ISOLATED_STRAY.findall(text)) >= SCATTERED_SHARE * stray


def _stray_encoding(raw: bytes) -> str | None:
    """What a stray byte in a UTF-8 page is read as: the single-byte legacy encoding of
    the page's language (windows-1252 without one); None (U+FFFD) for a language whose
    legacy encoding is multi-byte, where one byte is not a character."""
    lang = _HTML_LANG.search(raw[:SNIFF_BYTES])
    language = lang.group(1).decode("ascii").lower() if lang else ""
    encoding = LEGACY_BY_LANGUAGE.get(language, WESTERN)
    return encoding if encoding in _SINGLE_BYTE else None


def _stray_handler(encoding: str | None) -> str:
    """The name of a codecs error handler that reads a stray byte as ``encoding``."""
    name = f"newsflow-stray-{encoding or 'replacement'}"

    def read_stray(exc: UnicodeError) -> tuple[str, int]:
        assert isinstance(exc, UnicodeDecodeError)
        if encoding is None or exc.reason == "unexpected end of data":  # a cut character
            return "\ufffd", exc.end
        return bytes(exc.object[exc.start : exc.end]).decode(encoding, "replace"), exc.end

    codecs.register_error(name, read_stray)
    return name


_MULTI_BYTE = frozenset(("shift_jis", "euc_kr", "gb18030"))
_SINGLE_BYTE = frozenset(LEGACY_BY_LANGUAGE.values()) - _MULTI_BYTE | {WESTERN}
_STRAY_HANDLERS = {encoding: _stray_handler(encoding) for encoding in (*_SINGLE_BYTE, None)}


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
