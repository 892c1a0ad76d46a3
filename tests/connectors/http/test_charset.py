"""``decode_page``: which witness of a page's encoding wins, on short pages where a
statistical guess goes wrong."""

from __future__ import annotations

import codecs
import gzip

import pytest

from connectors.http.charset import charset_of, decode_page

FRENCH = "Le caf\u00e9 est très bon à Paris, déjà vu. Garçon !"
RUSSIAN = "Правительство объявило новые меры поддержки экономики"
POLISH = "Zażółć gęślą jaźń, rząd ogłosił nowe przepisy"


def page(text: str, *, head: str = "", lang: str | None = None) -> str:
    html_tag = f'<html lang="{lang}">' if lang else "<html>"
    return f"{html_tag}<head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize(
    ("raw", "declared", "expected"),
    [
        pytest.param(
            page(FRENCH, lang="fr").encode("latin-1"), "utf-8", FRENCH,
            id="label lies (utf-8 over Latin-1): the page's language names windows-1252",
        ),
        pytest.param(
            page(RUSSIAN, head='<meta charset="windows-1251">').encode("cp1251"), None, RUSSIAN,
            id="no header charset: <meta charset> is used",
        ),
        pytest.param(
            page(RUSSIAN, head='<meta http-equiv="Content-Type" content="text/html; '
                 'charset=windows-1251">').encode("cp1251"), None, RUSSIAN,
            id="http-equiv meta",
        ),
        pytest.param(
            page(RUSSIAN, lang="ru").encode("cp1251"), None, RUSSIAN,
            id="no label at all: Russian page in its legacy encoding",
        ),
        pytest.param(
            page(POLISH, lang="pl-PL").encode("cp1250"), None, POLISH,
            id="Polish page, region subtag",
        ),
        pytest.param(
            page(FRENCH).encode("utf-8"), "iso-8859-1", FRENCH,
            id="valid UTF-8 wins over a Latin-1 label (Apache's old default)",
        ),
        pytest.param(
            page("\u201cquoted\u201d \u2014 dash").encode("cp1252"), "ISO-8859-1",
            "\u201cquoted\u201d \u2014 dash",
            id="an ISO-8859-1 label means windows-1252 (curly quotes, dashes)",
        ),
        pytest.param(
            page(FRENCH).encode("latin-1"), "x-no-such-charset", None,
            id="an unknown label is passed over",
        ),
    ],
)  # fmt: skip
def test_witnesses(raw: bytes, declared: str | None, expected: str | None) -> None:
    text = decode_page(raw, declared)
    assert (expected or FRENCH[:7]) in text
    assert "\ufffd" not in text


def test_byte_order_mark_wins() -> None:
    raw = codecs.BOM_UTF16_LE + page(RUSSIAN).encode("utf-16-le")
    assert RUSSIAN in decode_page(raw, "iso-8859-1")


def test_compressed_body_without_content_encoding_is_decompressed() -> None:
    raw = gzip.compress(page(FRENCH, lang="fr").encode("latin-1"))
    assert FRENCH in decode_page(raw, None, max_bytes=1_000_000)


def test_nothing_fits_gives_lossy_text_not_an_error() -> None:
    raw = b"<html><body><p>caf\xe9 \x81\x8d</p></body></html>"
    text = decode_page(raw, "utf-8")
    assert text.startswith("<html><body><p>caf")


@pytest.mark.parametrize(
    ("raw", "declared"),
    [
        (b"<html><body><p>caf\xe9</p></body></html>", "undefined"),
        (b"<html><head><meta charset=undefined></head><body><p>caf\xe9</p></body></html>", None),
    ],
)
def test_a_label_naming_a_codec_that_always_fails_is_passed_over(
    raw: bytes, declared: str | None
) -> None:
    """Python's ``undefined`` codec raises UnicodeError (not UnicodeDecodeError): one page
    labelled so (header, meta, or a WARC record's header) failed its fetch as a bug."""
    assert "caf\u00e9" in decode_page(raw, declared)


ARTICLE = (
    "Bulgaria\u2019s centre-right bloc won the most votes in Sunday\u2019s election \u2014 "
    "the country\u2019s eighth since 2021 \u2014 says the caf\u00e9\u2019s owner. "
) * 5


@pytest.mark.parametrize("declared", [None, "shift_jis", "utf-8", "iso-8859-1"])
def test_a_utf8_page_with_a_stray_byte_stays_utf8(declared: str | None) -> None:
    """One Latin-1 byte pasted into a UTF-8 page made the whole page mojibake
    (windows-1252 from the page's language, or the statistical guess)."""
    raw = page(ARTICLE, head='<meta charset="utf-8">', lang="en").encode()
    raw = raw.replace(b"the most", b"th\xe9 most", 1)
    text = decode_page(raw, declared)
    assert ARTICLE.replace("the most", "th\ufffd most", 1) in text
    assert text.count("\ufffd") == 1


@pytest.mark.parametrize(
    "raw",
    [
        page(ARTICLE + " \ufffd kept as written").encode(),  # valid UTF-8 carrying U+FFFD
        page(ARTICLE).encode() + b"\xed\xa0\x80",  # an encoded surrogate: not valid UTF-8
        page(ARTICLE).encode()[:-3] + b"\xe2\x80",  # cut inside a character
    ],
)
@pytest.mark.parametrize("declared", [None, "iso-8859-1"])
def test_utf8_fast_path_reads_the_page_as_the_counting_path_does(
    raw: bytes, declared: str | None
) -> None:
    """Valid UTF-8 is decoded strictly before anything is counted; the text must be what
    the lossy decode with its U+FFFD count gives, whatever the label says."""
    assert decode_page(raw, declared) == raw.decode("utf-8", "replace")


def test_a_legacy_page_with_one_utf8_looking_pair_is_not_taken_for_utf8() -> None:
    raw = page(FRENCH * 3, lang="fr").encode("latin-1") + "\u2019".encode()
    assert FRENCH in decode_page(raw, None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/html; charset=UTF-8", "UTF-8"),
        ('text/html; Charset="windows-1251"', "windows-1251"),
        ("text/html;charset='iso-8859-1'; q=1", "iso-8859-1"),
        ("text/html", None),
        ("text/html; charset=", None),
        (None, None),
    ],
)
def test_charset_of(header: str | None, expected: str | None) -> None:
    assert charset_of(header) == expected
