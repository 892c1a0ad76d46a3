"""Unit tests of URL parsing and address classification (no sockets)."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from connectors.http.guard import AddressGuard, forbidden_reason, parse_ip_host
from connectors.http.target import parse_target
from pipeline.config import FeedConfig, parse_config
from pipeline.errors import FetchError, FetchRefused, InputError
from pipeline.urls import canonicalize_url, is_http_url


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("10.0.0.1.", "10.0.0.1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_odd_ipv4_spellings_parse_like_inet_aton(spelling: str, address: str) -> None:
    assert parse_ip_host(spelling) == ip_address(address)


@pytest.mark.parametrize(
    "host", ["example.com", "news.example", "1a.example", "xn--bcher-kva.example"]
)
def test_host_names_are_not_addresses(host: str) -> None:
    assert parse_ip_host(host) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.256", "1.2.3.4.5", "08.1.1.1", "example.123", "4294967296"]
)
def test_numeric_looking_hosts_that_are_not_addresses_are_errors(host: str) -> None:
    with pytest.raises(ValueError):
        parse_ip_host(host)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "not globally routable"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback, embedded in"),
        ("::ffff:10.0.0.1", "private, embedded in"),
        ("::127.0.0.1", "loopback, embedded in"),
        ("2002:a00:1::", "private, embedded in"),
        ("64:ff9b::a9fe:a9fe", "link-local, embedded in"),
        ("::ffff:0:7f00:1", "loopback, embedded in"),
    ],
)
def test_non_public_addresses_are_forbidden(address: str, reason: str) -> None:
    found = forbidden_reason(ip_address(address))
    assert found is not None and found.startswith(reason)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ip_address(address)) is None


def test_guard_exempts_listed_hosts_and_wildcard_domains() -> None:
    guard = AddressGuard(
        allowed_hosts=["intranet.example", "*.corp.example"], resolver=lambda h, p: ["10.1.2.3"]
    )
    for host in ["intranet.example", "feeds.corp.example", "a.b.corp.example"]:
        assert guard.addresses(host, 80, url=f"http://{host}/") == [ip_address("10.1.2.3")]
    for host in ["other.example", "corp.example.evil", "xcorp.example"]:
        with pytest.raises(FetchRefused):
            guard.addresses(host, 80, url=f"http://{host}/")


@pytest.mark.parametrize("from_config", [False, True], ids=["as written", "as the config keeps"])
def test_allowed_hosts_name_hosts_as_urls_do(from_config: bool) -> None:
    """An entry is read as the target's host is: ``Bücher.Intranet.`` exempts the host a URL
    naming it is fetched from (``xn--bcher-kva.intranet``), ``127.1`` exempts 127.0.0.1;
    the entries the config keeps (normalised) exempt the same hosts."""
    entries = ["Bücher.Intranet.", "127.1", "0:0::1", "*.CORP.Example."]
    if from_config:
        entries = parse_config({"fetch": {"allowed_hosts": entries}}).fetch.allowed_hosts
    guard = AddressGuard(allowed_hosts=entries, resolver=lambda h, p: ["10.1.2.3"])
    for url in [
        "http://b%C3%BCcher.intranet/",
        "http://BÜCHER.intranet/",
        "http://0x7f.1/",
        "http://[::1]/",
        "http://feeds.corp.example/",
    ]:
        target = parse_target(url)
        assert guard.addresses(target.host, target.port, url=url)
    target = parse_target("http://127.0.0.2/")
    with pytest.raises(FetchRefused):
        guard.addresses(target.host, target.port, url=target.url)


def test_an_allowed_host_no_url_could_name_is_an_error_not_kept_as_written() -> None:
    """It was kept as written, lower case, and exempted nothing."""
    with pytest.raises(ValueError, match="no scheme, port or path"):
        AddressGuard(allowed_hosts=["http://intranet.example"])


def test_a_host_that_is_no_dns_name_is_quoted_short() -> None:
    url = "http://-" + "a" * 10_000 + ".example/"
    with pytest.raises(FetchRefused) as refused:
        parse_target(url)
    assert refused.value.reason == "invalid_url"
    assert len(str(refused.value)) < 400


def test_guard_refuses_a_name_when_any_of_its_addresses_is_private() -> None:
    guard = AddressGuard(resolver=lambda h, p: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(FetchRefused) as refused:
        guard.addresses("mixed.example", 443, url="https://mixed.example/")
    assert "10.0.0.7" in str(refused.value)


def test_guard_turns_any_resolver_failure_into_a_dns_error() -> None:
    def broken(host: str, port: int) -> list[str]:
        raise RuntimeError("resolver exploded")

    with pytest.raises(FetchError) as failed:
        AddressGuard(resolver=broken).addresses("a.example", 80, url="http://a.example/")
    assert failed.value.reason == "dns"
    assert "resolver exploded" in str(failed.value)


def test_guard_rejects_a_resolver_answer_that_is_not_an_address() -> None:
    with pytest.raises(FetchError) as failed:
        AddressGuard(resolver=lambda h, p: ["not-an-ip"]).addresses("a.example", 80, url="u")
    assert failed.value.reason == "dns"


def test_target_normalises_host_port_path_and_query() -> None:
    target = parse_target("HTTPS://Bücher.Example.:8443/a b/ü?q=ä b#frag")
    assert target.scheme == "https"
    assert target.host == "xn--bcher-kva.example"
    assert target.port == 8443
    assert target.request_target == "/a%20b/%C3%BC?q=%C3%A4%20b"
    assert target.host_header == "xn--bcher-kva.example:8443"
    assert target.origin == "https://xn--bcher-kva.example:8443"


def test_target_keeps_existing_escapes_and_defaults_the_path() -> None:
    assert parse_target("http://a.example").request_target == "/"
    assert parse_target("http://a.example/x%2Fy?a=%26").request_target == "/x%2Fy?a=%26"
    assert parse_target("http://[::1]:8080/").host_header == "[::1]:8080"


INVALID_URLS = [
    "http://",
    "http://a.example:99999/",
    "http://a.example:0/",
    "http://exa mple.com/",
    "http://a_b..c/",
    "http:///x",
    "http://[fe80::1%25eth0]/",  # a zone names an interface of this machine
    "http://xn--zz-.example/",  # no Punycode ends in "-"
    "http://xn---bbk.example/",  # decodes, but is not how its label is encoded
    "http://example.123/",  # ends in a number, so must be an address, and is none
    "http://a%2Fb.example/",
    "http://-a.example/",  # browsers read it, DNS has no such name
    "http://a.b-.example/",
]


@pytest.mark.parametrize("url", INVALID_URLS)
def test_unusable_urls_are_refused_as_invalid(url: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        parse_target(url)
    assert refused.value.reason == "invalid_url"


@pytest.mark.parametrize("url", INVALID_URLS)
def test_what_the_fetcher_refuses_has_no_key_and_is_no_feed_url(url: str) -> None:
    """One reading for all: ``http://a.example:0/`` had a key, passed ``is_http_url`` and
    loaded as a feed's URL, and was then refused at every fetch."""
    assert not is_http_url(url)
    with pytest.raises(InputError) as caught:
        canonicalize_url(url)
    assert caught.value.reason == "bad_url"
    with pytest.raises(ValidationError, match="no valid host or port"):
        FeedConfig(name="f", url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://0x7f.1/a",
        "http://%31%32%37.0.0.1/a",
        "http://[0:0:0:0:0:0:0:1]:8080/a",
        "http://[::FFFF:127.0.0.1]/a",
        "http://faß.de/a",
        "http://B%C3%BCcher.example/a",
        "http://\uff11\uff12\uff17.0.0.1/a",
        "http://news.EXAMPLE./a",
    ],
)
def test_target_host_is_the_host_of_the_dedup_key(url: str) -> None:
    """The page fetched is the page the key names: faß.de was fetched as fass.de (IDNA2003)
    while its key said xn--fa-hia.de."""
    assert parse_target(url).host == urlsplit(canonicalize_url(url)).hostname


HOSTILE_PRIVATE = [
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0X7F.0.0.1./",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://%31%32%37.0.0.1/",
    "http://127%2E0%2E0%2E1/",
    "http://%30x7f.1/",
    "http://\uff11\uff12\uff17.0.0.1/",
    "http://127\u30020\u30020\u30021/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[0000::1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::FFFF:127.0.0.1]/",
    "http://0xa.0.0.1/",
    "http://0xa9fea9fe/",
]


@pytest.mark.parametrize("url", HOSTILE_PRIVATE)
def test_guard_refuses_every_spelling_of_a_private_address_the_fetcher_reads(url: str) -> None:
    """What the guard judges is what the fetcher connects to: no name goes to the resolver."""
    asked: list[str] = []
    guard = AddressGuard(resolver=lambda host, port: asked.append(host) or ["93.184.216.34"])
    target = parse_target(url)
    with pytest.raises(FetchRefused) as refused:
        guard.addresses(target.host, target.port, url=url)
    assert refused.value.reason == "ssrf"
    assert asked == []
    assert parse_ip_host(target.host) is not None


def test_refusals_quote_the_url_on_one_short_line() -> None:
    url = "http://a\u2028b\x1b[31m.example/" + "x" * 5000
    with pytest.raises(FetchRefused) as refused:
        parse_target(url)
    assert refused.value.url == url
    assert str(refused.value).isprintable()
    assert len(str(refused.value)) < 400
    guard = AddressGuard()
    with pytest.raises(FetchRefused) as refused:
        guard.addresses("127.0.0.1", 80, url=url)
    assert len(str(refused.value)) < 400
