"""``decode_page``: which witness of a page's encoding wins, on short pages where a
statistical guess goes wrong."""

from __future__ import annotations

import codecs
import gzip
import random
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.http.charset import charset_of, decode_page

REPO = Path(__file__).resolve().parents[3]

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
    (windows-1252 from the page's language, or the statistical guess); the byte is
    read as windows-1252, what a pasted fragment is."""
    raw = page(ARTICLE, head='<meta charset="utf-8">', lang="en").encode()
    raw = raw.replace(b"the most", b"th\xe9 most", 1)
    text = decode_page(raw, declared)
    assert ARTICLE.replace("the most", "th\u00e9 most", 1) in text
    assert "\ufffd" not in text


@pytest.mark.parametrize("declared", [None, "iso-8859-1"])
def test_utf8_fast_path_reads_the_page_as_the_counting_path_does(declared: str | None) -> None:
    """Valid UTF-8 is decoded strictly before anything is counted; the text must be what
    the lossy decode with its U+FFFD count gives, whatever the label says."""
    raw = page(ARTICLE + " \ufffd kept as written").encode()  # valid UTF-8 carrying U+FFFD
    assert decode_page(raw, declared) == raw.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("tail", "read_as"),
    [
        (b"\xe2\x80", "\ufffd"),  # the body cut inside a character: not a pasted byte
        (b"\xed\xa0\x80", "\u00ed\u00a0\u20ac"),  # not UTF-8 (a surrogate): windows-1252
    ],
)
def test_bytes_that_are_not_utf8_at_the_end_of_a_utf8_page(tail: bytes, read_as: str) -> None:
    raw = page(ARTICLE).encode() + tail
    assert decode_page(raw, "iso-8859-1") == page(ARTICLE) + read_as


SEED_PAGE = (REPO / "demo/sites/iranintl.example/en/202611160417.html").read_bytes()
SEED_SENTENCE = "Russia\u2019s invasion of Ukraine by blaming the United States"
PASTED = [
    "caf\u00e9", "d\u00e9j\u00e0 vu", "\u201cquoted\u201d", "it\u2019s", "\u2014", "na\u00efve",
]  # fmt: skip


def corrupted_seed_page(strays: int, pasted: bool) -> bytes:
    """A real seed page (UTF-8, 31 curly quotes) grown to ~100 KB with ASCII chrome, with
    ``strays`` windows-1252 words pasted (two stray bytes at most each) or single
    random bytes injected after spaces of its body, evenly spread."""
    state = b'{"id": 12345, "href": "/a/1"},' * 3000
    chrome = b"<script>window.__STATE__ = [" + state + b"];</script>"
    raw = SEED_PAGE.replace(b"</body>", chrome + b"</body>")
    body = raw.index(b"<body")
    spaces = [i for i in range(body, len(raw)) if raw[i] == 0x20]
    rng = random.Random(strays)
    out, last = [], 0
    for number, spot in enumerate(spaces[:: len(spaces) // strays][:strays]):
        if pasted:
            piece = b" " + PASTED[number % len(PASTED)].encode("cp1252")
        else:
            piece = bytes([rng.randint(0x80, 0xFF)])
        out += [raw[last:spot], piece]
        last = spot
    return b"".join([*out, raw[last:]])


@pytest.mark.parametrize("declared", [None, "utf-8", "iso-8859-1"])
@pytest.mark.parametrize("strays", [10, 200, 500])
def test_a_heavily_corrupted_utf8_page_stays_utf8(strays: int, declared: str | None) -> None:
    """~100 KB of a real UTF-8 page with windows-1252 words pasted all over it: from 3
    such words on, the whole page was mojibake ("Russia\u201a\u00c4\u00f4s", mac_roman)."""
    text = decode_page(corrupted_seed_page(strays, pasted=True), declared)
    assert SEED_SENTENCE in text
    assert "\ufffd" not in text
    assert all(word in text for word in PASTED)


@pytest.mark.parametrize("strays", [10, 200, 500])
def test_random_bytes_injected_into_a_utf8_page_do_not_turn_it_into_mojibake(
    strays: int,
) -> None:
    text = decode_page(corrupted_seed_page(strays, pasted=False), "utf-8")
    assert SEED_SENTENCE in text


def test_a_repaired_page_is_counted() -> None:
    def repaired(stray_as: str) -> float:
        sample = REGISTRY.get_sample_value("newsflow_pages_repaired_total", {"stray_as": stray_as})
        return sample or 0.0

    before = repaired("cp1252"), repaired("replacement")
    decode_page(corrupted_seed_page(10, pasted=True), None)
    decode_page(SEED_PAGE.replace(b'lang="en"', b'lang="ja"') + b"\xe9", None)
    decode_page(SEED_PAGE, None)  # valid UTF-8: nothing to repair
    assert (repaired("cp1252"), repaired("replacement")) == (before[0] + 1, before[1] + 1)


JAPANESE = "政府は新たな経済対策を発表し、来年度の予算案について国会で議論が始まった。"
CHINESE = "国务院今天发布了新的经济政策。专家认为这将促进地区发展和对外贸易。"
RUSSIAN_NEWS = "Правительство объявило новые меры поддержки экономики и малого бизнеса."


@pytest.mark.parametrize(
    ("text", "encoding", "lang"),
    [
        (JAPANESE, "shift_jis", "ja"),
        (JAPANESE, "euc_jp", "ja"),
        (CHINESE, "gb18030", "zh"),
        (RUSSIAN_NEWS, "koi8_r", "ru"),
        (RUSSIAN_NEWS, "cp1251", "ru"),
        (FRENCH, "cp1252", "fr"),
        (POLISH, "cp1250", "pl"),
    ],
)
@pytest.mark.parametrize("declared", [None, "utf-8"])
def test_a_legacy_page_labelled_in_its_meta_is_not_taken_for_damaged_utf8(
    text: str, encoding: str, lang: str, declared: str | None
) -> None:
    """Legacy text has stray bytes in runs (or no UTF-8 characters at all), even when a
    server calls it UTF-8; a multi-byte encoding reads as UTF-8 here and there."""
    html = page(text * 40, head=f'<meta charset="{encoding}">', lang=lang)
    assert decode_page(html.encode(encoding), declared) == html


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
