"""URL canonicalisation: examples for each rule, and properties over generated URLs."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.urls import TRACKING_PARAMS, canonicalize_url, is_http_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a"),
        ("https://example.com/a//", "https://example.com/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/%7Euser/%41b%2fc", "https://example.com/~user/Ab%2Fc"),
        ("https://example.com/caf\u00e9 bar", "https://example.com/caf%C3%A9%20bar"),
        ("https://example.com/a%zz", "https://example.com/a%25zz"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\u3002com/x", "https://example.com/x"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("https://example.com/?b=2&a=1&a=0", "https://example.com/?a=0&a=1&b=2"),
        ("https://example.com/?q=a+b&x", "https://example.com/?q=a+b&x"),
        ("https://example.com/?utm_source=rss&UTM_Medium=x&id=5", "https://example.com/?id=5"),
        (
            "https://example.com/a?fbclid=1&gclid=2&dclid=3&msclkid=4&mc_cid=5&mc_eid=6"
            "&igshid=7&_ga=8",
            "https://example.com/a",
        ),
        ("https://example.com/a?ref_src=twsrc%5Etfw", "https://example.com/a"),
        ("https://example.com/a?ref=rss", "https://example.com/a"),
        ("https://example.com/a?ref=twsrc_main", "https://example.com/a"),
        ("https://example.com/a?ref=v2-branch", "https://example.com/a?ref=v2-branch"),
        ("https://example.com/news/story/amp", "https://example.com/news/story"),
        ("https://example.com/news/story/amp/", "https://example.com/news/story"),
        ("https://example.com/amp/news/story", "https://example.com/news/story"),
        ("https://example.com/news/story.amp", "https://example.com/news/story"),
        ("https://example.com/story?amp=1", "https://example.com/story"),
        ("https://example.com/story?amp", "https://example.com/story"),
        ("https://example.com/story?outputType=amp", "https://example.com/story"),
        ("https://amp.example.com/story", "https://example.com/story"),
        ("https://m.example.com/story", "https://example.com/story"),
        ("https://mobile.example.co.uk/story", "https://example.co.uk/story"),
        ("https://m.com/story", "https://m.com/story"),
        (
            "https://example-com.cdn.ampproject.org/c/s/example.com/news/story/amp?utm_source=x",
            "https://example.com/news/story",
        ),
        ("https://www.google.com/amp/s/www.example.com/a.amp", "https://www.example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_rules(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical


@pytest.mark.parametrize(
    ("link", "base", "canonical"),
    [
        ("story", "https://example.com/news/", "https://example.com/news/story"),
        ("../story?fbclid=x", "https://example.com/news/today/", "https://example.com/news/story"),
        ("/root", "https://example.com/news/", "https://example.com/root"),
        ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
        ("https://other.example/x", "https://example.com/", "https://other.example/x"),
    ],
)
def test_relative_links_resolve_against_base(link: str, base: str, canonical: str) -> None:
    assert canonicalize_url(link, base=base) == canonical


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file", "not_http"),
        ("file:///etc/passwd", "not_http"),
        ("javascript:alert(1)", "not_http"),
        ("mailto:a@example.com", "not_http"),
        ("/relative/without/base", "not_http"),
        ("https:///nohost", "bad_url"),
        ("http://[::1/x", "bad_url"),
        ("http://[fe80::1%eth0\x00]/x", "bad_url"),
        ("http://[fe80::1%25eth0]/x", "bad_url"),
        ("http://[v1.example.com]/x", "bad_url"),
        ("http://[1.2.3.4]/x", "bad_url"),
        ("http://example.com:99999/", "bad_url"),
        ("http://exa mple.com/", "bad_url"),
        ("http://" + "a" * 9000 + ".com/", "bad_url"),
    ],
)
def test_unusable_urls_are_input_errors(url: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        canonicalize_url(url)
    assert caught.value.reason == reason


def test_is_http_url() -> None:
    assert is_http_url("https://example.com/x")
    assert is_http_url("HTTP://example.com")
    assert not is_http_url("ftp://example.com/x")
    assert not is_http_url("/etc/passwd")
    assert not is_http_url("https://")
    assert not is_http_url("http://[::1")


# --- properties -----------------------------------------------------------------------

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-ü", min_size=1, max_size=12).filter(
    lambda s: not s.startswith("-") and not s.endswith("-")
)
_host = st.builds(
    lambda labels, tld, prefix: prefix + ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "co.uk", "de"]),
    st.sampled_from(["", "www.", "m.", "amp.", "mobile.", "WWW."]),
)
_segment = st.one_of(
    st.text(min_size=0, max_size=10).filter(lambda s: not set(s) & {"/", "?", "#"}),
    st.sampled_from(["amp", ".", "..", "a.amp", "%41", "%2f", "%zz", "x%"]),
)
_param_name = st.one_of(
    st.sampled_from([*sorted(TRACKING_PARAMS), "utm_source", "UTM_CAMPAIGN", "id", "q", "page"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
)
_param_value = st.text(max_size=10).filter(lambda s: "&" not in s and "#" not in s)
_url = st.builds(
    lambda scheme, host, port, segments, params, fragment: (
        f"{scheme}://{host}{port}/{'/'.join(segments)}"
        + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")
        + (f"#{fragment}" if fragment else "")
    ),
    st.sampled_from(["http", "https", "HTTPS"]),
    _host,
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.lists(_segment, max_size=5),
    st.lists(st.tuples(_param_name, _param_value), max_size=6),
    st.text(max_size=5),
)


def _canonical_or_none(url: str) -> str | None:
    try:
        return canonicalize_url(url)
    except InputError:
        return None


@settings(max_examples=400, deadline=None)
@given(_url)
def test_canonicalisation_is_idempotent(url: str) -> None:
    once = _canonical_or_none(url)
    if once is not None:
        assert canonicalize_url(once) == once


@settings(max_examples=400, deadline=None)
@given(_url)
def test_tracking_parameters_never_survive(url: str) -> None:
    canonical = _canonical_or_none(url)
    if canonical is None:
        return
    query = parse_qsl(urlsplit(canonical).query, keep_blank_values=True)
    names = {name.lower() for name, _ in query}
    assert not names & TRACKING_PARAMS
    assert not any(name.startswith("utm_") for name in names)
    assert is_http_url(canonical)
    assert "#" not in canonical


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_crashes(text: str) -> None:
    result = _canonical_or_none(text)
    assert result is None or is_http_url(result)
    assert isinstance(is_http_url(text), bool)


@settings(max_examples=200, deadline=None)
@given(_url)
def test_most_generated_urls_are_accepted(url: str) -> None:
    """Guards the properties above against passing vacuously: valid hosts canonicalise."""
    assert _canonical_or_none(url) is not None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(["fe80::1", "::1", "2001:db8::1", "v1.x", "1.2.3.4"]), st.text(max_size=12))
def test_a_canonical_url_is_printable_ascii_whatever_the_bracketed_host(
    address: str, zone: str
) -> None:
    """A zone (``%...``) let any character, NUL too, into the canonical URL's host."""
    host = f"{address}%{zone}" if zone else address
    result = _canonical_or_none(f"http://[{host}]/a")
    assert result is None or (result.isascii() and result.isprintable() and " " not in result)


# --- hosts, as browsers read them (pipeline.hosts) ---------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://[0:0::1]/x", "http://[::1]/x"),
        ("http://[2001:DB8:0:0:0:0:0:1]:8080/", "http://[2001:db8::1]:8080/"),
        ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
        ("http://2130706433/a", "http://127.0.0.1/a"),
        ("http://0x7f.1/a", "http://127.0.0.1/a"),
        ("http://0X7F.0.0.1/a", "http://127.0.0.1/a"),
        ("http://0177.0.0.1/a", "http://127.0.0.1/a"),
        ("http://127.1/a", "http://127.0.0.1/a"),
        ("http://0x08080808./a", "http://8.8.8.8/a"),
        ("http://%65xample.com/a", "http://example.com/a"),
        ("http://%31%32%37.0.0.1/a", "http://127.0.0.1/a"),
        ("http://B%C3%BCcher.example/a", "http://xn--bcher-kva.example/a"),
        ("http://xn--BCHER-KVA.example/a", "http://xn--bcher-kva.example/a"),
        ("http://0xzz.example/a", "http://0xzz.example/a"),  # 0xzz is no number: a name
    ],
)
def test_hosts_take_their_one_spelling(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical
    assert canonicalize_url(canonical) == canonical


@pytest.mark.parametrize(
    "url",
    [
        "http://xn--zz-.example/",  # no Punycode ends in "-"
        "http://xn---bbk.example/",  # decodes, but is not how its label is encoded
        "http://xn--a.example/",  # decodes to U+0080
        "http://example.123/",  # ends in a number: must be an address, and is none
        "http://1.2.3.256/",
        "http://1.2.3.4.5/",
        "http://08.0.0.1/",  # 8 is no octal digit
        "http://%FF.example/",  # not UTF-8
        "http://a%2Fb.example/",
    ],
)
def test_hosts_browsers_refuse_are_bad_urls(url: str) -> None:
    with pytest.raises(InputError) as caught:
        canonicalize_url(url)
    assert caught.value.reason == "bad_url"


def test_a_bad_url_is_quoted_on_one_short_line() -> None:
    url = "http://ex\u2028ample\x1b[31m.com/" + "a" * 500
    with pytest.raises(InputError) as caught:
        canonicalize_url(url)
    message = str(caught.value)
    assert message.isprintable()
    assert len(message) < 400


_ipv4_spellings = st.builds(
    lambda number, parts, forms: (number, _spell_ipv4(number, parts, forms)),
    st.integers(0, 2**32 - 1),
    st.integers(1, 4),
    st.lists(st.sampled_from(["{:d}", "0x{:x}", "0X{:X}", "0{:o}"]), min_size=4, max_size=4),
)


def _spell_ipv4(number: int, parts: int, forms: list[str]) -> str:
    """``number`` in ``parts`` parts (the last one takes the remaining bytes), each its own base."""
    bytes_ = list(number.to_bytes(4, "big"))
    values = [*bytes_[: parts - 1], int.from_bytes(bytes(bytes_[parts - 1 :]), "big")]
    return ".".join(form.format(value) for form, value in zip(forms, values, strict=False))


@given(_ipv4_spellings)
@settings(max_examples=300, deadline=None)
def test_every_spelling_of_an_ipv4_address_is_its_dotted_quad(case: tuple[int, str]) -> None:
    number, spelling = case
    quad = ".".join(str(b) for b in number.to_bytes(4, "big"))
    assert canonicalize_url(f"http://{spelling}/a") == f"http://{quad}/a"


# --- one host reading for every URL decision ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.ampproject%2Eorg/c/s/example.com/a",
        "https://Example-com.CDN.AMPPROJECT.ORG./c/s/example.com/a",
        "https://example-com.cdn.%61mpproject.org/c/s/example.com/a",
        "https://www.google.com./amp/s/example.com/a",
        "https://www.google%2Ecom/amp/s/example.com/a",
    ],
)
def test_an_amp_cache_host_in_any_spelling_is_unwrapped(url: str) -> None:
    """The AMP unwrap reads the host the key and the fetcher read: an escaped or dotted
    cache host was kept as the cache's URL, a second key for the publisher's article."""
    assert canonicalize_url(url) == "https://example.com/a"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.123/",
        "http://1.2.3.256/",
        "http://xn--zz-.example/",
        "http://a%2Fb.example/",
        "http://%FF.example/",
        "http://[fe80::1%25eth0]/",
        "http://example.com:99999/",
        "http://:80/",
        "http://example.com:0/",
        "https://EXAMPLE.com:00/a",
        "http://-a.example/",
    ],
)
def test_is_http_url_refuses_what_the_key_refuses(url: str) -> None:
    """``is_http_url`` gates what feeds hand on and what ``extract --url`` takes: a host
    ``urlsplit`` accepts but the key and the fetcher refuse is no http(s) URL."""
    assert not is_http_url(url)
    with pytest.raises(InputError):
        canonicalize_url(url)


@pytest.mark.parametrize(
    "url", ["http://0x7f.1/", "http://EXAMPLE.com%2E/", "http://[0:0::1]/", "http://faß.de/a"]
)
def test_is_http_url_takes_every_host_the_key_takes(url: str) -> None:
    assert is_http_url(url)
    assert canonicalize_url(url)


@pytest.mark.parametrize(
    "url", ["http://example.com:0/", "https://a.example:000/x", "http://[::1]:0/", "http://u@a.b:0"]
)
def test_port_0_is_a_bad_url_as_the_fetcher_refuses_it(url: str) -> None:
    """Nothing can be connected to on port 0: the key kept ``:0`` (and the fetcher then
    refused the page at every try); now neither takes it."""
    with pytest.raises(InputError, match="port 0") as caught:
        canonicalize_url(url)
    assert caught.value.reason == "bad_url"
    assert not is_http_url(url)


def test_an_amp_cache_url_on_port_0_is_not_unwrapped_into_a_key() -> None:
    with pytest.raises(InputError, match="port 0"):
        canonicalize_url("https://a-b.cdn.ampproject.org:0/c/s/example.com/story")


@pytest.mark.parametrize("host", ["-a.example", "a-.example", "a.-b.example", "a.b-", "-"])
def test_a_name_no_dns_has_is_a_bad_url_as_the_fetcher_refuses_it(host: str) -> None:
    """Browsers read ``-a.example``, but no DNS name has a label that begins or ends with
    ``-``: the key kept it (and the fetcher then refused the page at every try)."""
    with pytest.raises(InputError, match="no DNS name") as caught:
        canonicalize_url(f"http://{host}/a")
    assert caught.value.reason == "bad_url"
    assert canonicalize_url("http://A-b.example/a") == "http://a-b.example/a"
