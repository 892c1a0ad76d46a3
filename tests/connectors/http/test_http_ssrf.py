"""SSRF guard, end to end: a canary server on 127.0.0.1 must never be reached.

Every URL below names the canary (directly, through an odd spelling, a host
name resolving to loopback, or a redirect). With the guard on (the default)
each fetch is refused and the canary counts 0 hits; the control test shows the
same URLs do reach the canary once the guard is lifted, so the guard, not a
dead address, is what stops them.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_fault_server import FaultServer, ok, redirect, respond

from connectors.http.fetcher import HttpFetcher
from pipeline.config import FetchConfig
from pipeline.errors import FetchError, FetchRefused

CANARY = b"<rss>canary</rss>"
NAMES = {
    "evil.example": ["127.0.0.1"],
    "news.example": ["127.0.0.1"],
    "secure.example": ["127.0.0.1"],
    "other.example": ["127.0.0.1"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}


def fake_dns(host: str, port: int) -> list[str]:
    """Public-looking names that resolve to loopback; unknown names do not resolve."""
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return NAMES[host]


@pytest.fixture
def canary() -> Iterator[FaultServer]:
    with FaultServer(
        {"/": ok(CANARY, "application/rss+xml"), "/robots.txt": respond(404)}
    ) as server:
        yield server


def fetcher(**settings: object) -> HttpFetcher:
    config = FetchConfig.model_validate({"min_host_interval": 0, **settings})
    return HttpFetcher(config, resolver=fake_dns)


def canary_urls(port: int) -> list[str]:
    """The issue's list plus more spellings of loopback, all pointing at the canary."""
    return [
        f"http://127.0.0.1:{port}/",
        f"http://10.0.0.1:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::1]:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::ffff:7f00:1]:{port}/",
        f"http://[64:ff9b::7f00:1]:{port}/",
        f"http://[2002:7f00:1::]:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://100.64.0.1:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f.1:{port}/",
        f"http://017700000001:{port}/",
        f"http://127.1:{port}/",
        f"http://%31%32%37.0.0.1:{port}/",
        f"http://0x7F.1.:{port}/",
        f"http://[0:0:0:0:0:0:0:1]:{port}/",
        f"http://evil.example:{port}/",
        f"http://EVIL.example.:{port}/",
        f"http://mixed.example:{port}/",
        f"http://localhost:{port}/",
        f"https://127.0.0.1:{port}/",
    ]


@pytest.mark.parametrize("purpose", ["feed", "article"])
def test_guard_refuses_every_private_spelling_and_canary_sees_nothing(
    canary: FaultServer, purpose: str
) -> None:
    guarded = fetcher()
    for url in canary_urls(canary.port):
        with pytest.raises(FetchRefused) as refused:
            guarded.fetch(url, purpose=purpose)  # type: ignore[arg-type]
        assert refused.value.reason == "ssrf", url
        assert refused.value.url == url
        assert "not a public address" in str(refused.value)
    assert canary.hits == []


def test_same_urls_reach_the_canary_when_the_guard_is_lifted(canary: FaultServer) -> None:
    reachable = [
        f"http://127.0.0.1:{canary.port}/",
        f"http://[::ffff:127.0.0.1]:{canary.port}/",
        f"http://0.0.0.0:{canary.port}/",
        f"http://2130706433:{canary.port}/",
        f"http://0x7f.1:{canary.port}/",
        f"http://017700000001:{canary.port}/",
        f"http://evil.example:{canary.port}/",
    ]
    open_fetcher = fetcher(allow_private_networks=True)
    for url in reachable:
        assert open_fetcher.fetch(url, purpose="feed").body == CANARY
    assert len(canary.hits) == len(reachable)


def test_an_odd_spelling_is_fetched_as_the_address_it_spells(canary: FaultServer) -> None:
    """Escaped hosts are fetched (they were refused), and every spelling asks for the
    dotted quad, as a browser would: Host is 127.0.0.1, never 0x7f.1."""
    open_fetcher = fetcher(allow_private_networks=True)
    for spelling in ["%31%32%37.0.0.1", "0x7f.1", "2130706433"]:
        url = f"http://{spelling}:{canary.port}/"
        assert open_fetcher.fetch(url, purpose="feed").body == CANARY
    assert [hit.host for hit in canary.hits] == ["127.0.0.1"] * 3


def test_allowed_hosts_exempts_only_the_listed_host(canary: FaultServer) -> None:
    exempt = fetcher(allowed_hosts=["evil.example"])
    assert exempt.fetch(f"http://evil.example:{canary.port}/", purpose="feed").status == 200
    with pytest.raises(FetchRefused):
        exempt.fetch(f"http://127.0.0.1:{canary.port}/", purpose="feed")
    assert len(canary.hits) == 1


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/",
        "http://evil.example:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://2130706433:{port}/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_public_url_redirecting_to_loopback_is_refused_at_the_hop(
    canary: FaultServer, location: str
) -> None:
    target = location.format(port=canary.port)
    with FaultServer({"/go": redirect(target)}) as public:
        # news.example stands for a public site: exempt from the guard for the first hop only.
        guarded = fetcher(allowed_hosts=["news.example"])
        with pytest.raises(FetchRefused) as refused:
            guarded.fetch(f"http://news.example:{public.port}/go", purpose="article")
        assert refused.value.reason == "ssrf"
        assert refused.value.url == target
        assert len(public.hits_for("/go")) == 1
    assert canary.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/feed.xml",
        "data:text/html,hi",
        "gopher://example.com/",
        "javascript:alert(1)",
        "/etc/passwd",
        "//example.com/x",
    ],
)
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        fetcher().fetch(url, purpose="feed")
    assert refused.value.reason == "scheme"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/x"])
def test_redirect_to_other_schemes_is_refused(location: str) -> None:
    with FaultServer({"/go": redirect(location)}) as server, pytest.raises(FetchRefused) as refused:
        fetcher(allow_private_networks=True).fetch(server.url("/go"), purpose="feed")
    assert refused.value.reason == "scheme"


def test_dns_is_resolved_once_per_hop_and_that_answer_is_connected_to(
    canary: FaultServer,
) -> None:
    """DNS rebinding: a second lookup could answer differently, so there must not be one."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])  # 127.0.0.2 has no listener
    calls: list[str] = []

    def rebinding_dns(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    config = FetchConfig(allow_private_networks=True, min_host_interval=0)
    response = HttpFetcher(config, resolver=rebinding_dns).fetch(
        f"http://rebind.example:{canary.port}/", purpose="feed"
    )
    assert response.status == 200
    assert calls == ["rebind.example"]
    assert canary.hits[0].host == "rebind.example"


def test_guard_checks_the_resolved_address_not_the_name() -> None:
    calls: list[str] = []

    def loopback_dns(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    with pytest.raises(FetchRefused):
        HttpFetcher(FetchConfig(), resolver=loopback_dns).fetch("http://www.example.org/")
    assert calls == ["www.example.org"]


def test_unresolvable_host_is_a_dns_error() -> None:
    with pytest.raises(FetchError) as failed:
        fetcher().fetch("http://nowhere.example/", purpose="feed")
    assert failed.value.reason == "dns"
    assert "nowhere.example" in str(failed.value)


# --- TLS: connect to the validated IP, verify the certificate for the host name ---


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for secure.example (openssl CLI, no network)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=secure.example", "-keyout", str(key),
         "-out", str(cert), "-addext", "subjectAltName=DNS:secure.example"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_sends_sni_and_verifies_the_certificate_for_the_host_name(
    tls_files: tuple[Path, Path],
) -> None:
    cert, key = tls_files
    with FaultServer({"/": ok(b"<rss/>", "application/rss+xml")}, tls=(cert, key)) as server:
        secure = fetcher(allow_private_networks=True, ca_bundle=str(cert))
        response = secure.fetch(f"https://secure.example:{server.port}/", purpose="feed")
        assert response.body == b"<rss/>"
        assert server.sni_names == ["secure.example"]
        assert server.hits[0].host == "secure.example"

        with pytest.raises(FetchError) as failed:
            secure.fetch(f"https://other.example:{server.port}/", purpose="feed")
        assert failed.value.reason == "tls"
        assert "other.example" in str(failed.value)

        with pytest.raises(FetchError) as by_address:  # the address is not the name certified
            secure.fetch(f"https://127.0.0.1:{server.port}/", purpose="feed")
        assert by_address.value.reason == "tls"
        assert len(server.hits) == 1
