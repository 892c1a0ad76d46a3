"""Body caps, deadlines, redirects, content types, conditional GET and error translation."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from http_fault_server import (
    FaultServer,
    drip,
    gzip_bomb,
    ok,
    raw,
    redirect,
    respond,
    stream_zeros,
)
from prometheus_client import REGISTRY

from connectors.http.fetcher import HttpFetcher
from pipeline.config import FetchConfig
from pipeline.errors import (
    BodyTooLarge,
    FetchError,
    FetchInterrupted,
    FetchRefused,
    FetchTimeout,
    HttpStatusError,
)

CAP = 1 << 20  # 1 MiB keeps these tests fast; the memory test uses the real default


def fetcher(**settings: object) -> HttpFetcher:
    base = {
        "allow_private_networks": True,
        "min_host_interval": 0,
        "max_body_bytes": CAP,
        "respect_robots": False,  # robots.txt has its own tests
    }
    return HttpFetcher(FetchConfig.model_validate({**base, **settings}))


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- body cap, after decompression ---


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "until-close"])
def test_a_100_mb_body_stops_at_the_cap(server: FaultServer, announce: bool) -> None:
    server.routes["/huge"] = stream_zeros(100 * 1024 * 1024, announce=announce)
    started = time.monotonic()
    before = metric("newsflow_fetch_bytes_total")
    with pytest.raises(BodyTooLarge) as too_large:
        fetcher().fetch(server.url("/huge"))
    assert time.monotonic() - started < 5
    assert str(CAP) in str(too_large.value)
    assert too_large.value.url == server.url("/huge")
    received = metric("newsflow_fetch_bytes_total") - before
    assert received == 0 if announce else CAP <= received < CAP + 128 * 1024


def test_a_feed_is_capped_by_max_feed_bytes_not_by_the_page_cap(server: FaultServer) -> None:
    """A sitemap may hold 50 MB: ``schedule.max_feed_bytes``, not ``fetch.max_body_bytes``,
    bounds a feed (the page cap refused any plain feed above it)."""
    feed = b"<urlset>" + b" " * (2 * CAP) + b"</urlset>"
    server.routes["/feed.xml"] = ok(feed, "application/xml")
    server.routes["/page"] = ok(b"<html>" + b" " * (2 * CAP) + b"</html>")
    wide = HttpFetcher(fetcher()._config, max_feed_bytes=4 * CAP)

    assert wide.fetch(server.url("/feed.xml"), purpose="feed").body == feed
    with pytest.raises(BodyTooLarge, match=r"fetch\.max_body_bytes"):
        wide.fetch(server.url("/page"))
    narrow = HttpFetcher(fetcher()._config, max_feed_bytes=CAP)
    with pytest.raises(BodyTooLarge, match=r"schedule\.max_feed_bytes"):
        narrow.fetch(server.url("/feed.xml"), purpose="feed")


def test_a_gzip_bomb_stops_at_the_cap(server: FaultServer) -> None:
    bomb = gzip_bomb(64 * 1024 * 1024)
    assert len(bomb) < CAP / 4  # small on the wire, 64x the cap inflated
    server.routes["/bomb"] = respond(
        200, bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    with pytest.raises(BodyTooLarge):
        fetcher().fetch(server.url("/bomb"))


def test_a_body_exactly_at_the_cap_is_accepted(server: FaultServer) -> None:
    body = b"a" * CAP
    server.routes["/gz"] = respond(
        200, gzip.compress(body), {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    server.routes["/plain"] = ok(body)
    assert fetcher().fetch(server.url("/gz")).body == body
    assert fetcher().fetch(server.url("/plain")).body == body


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_is_decoded_with_or_without_zlib_header(server: FaultServer, wbits: int) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    wire = packer.compress(b"<p>deflated</p>") + packer.flush()
    server.routes["/d"] = respond(
        200, wire, {"Content-Type": "text/html", "Content-Encoding": "deflate"}
    )
    assert fetcher().fetch(server.url("/d")).body == b"<p>deflated</p>"


def test_multi_member_gzip_is_decoded_whole(server: FaultServer) -> None:
    wire = gzip.compress(b"<p>one</p>") + gzip.compress(b"<p>two</p>")
    server.routes["/m"] = respond(
        200, wire, {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    assert fetcher().fetch(server.url("/m")).body == b"<p>one</p><p>two</p>"


def test_corrupt_or_unknown_encodings_are_clear_errors(server: FaultServer) -> None:
    server.routes["/bad"] = respond(
        200, b"\x1f\x8b\x08\x00garbage", {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    server.routes["/cut"] = respond(
        200,
        gzip.compress(b"x" * 10000)[:-12],
        {"Content-Type": "text/html", "Content-Encoding": "gzip"},
    )
    server.routes["/br"] = respond(
        200, b"xx", {"Content-Type": "text/html", "Content-Encoding": "br"}
    )
    cases = [
        ("/bad", "corrupt or truncated gzip"),
        ("/cut", "truncated gzip"),
        ("/br", "unsupported Content-Encoding"),
    ]
    for path, words in cases:
        with pytest.raises(FetchError) as failed:
            fetcher().fetch(server.url(path))
        assert failed.value.reason == "content_encoding"
        assert words in str(failed.value)


# --- total deadline ---


@pytest.mark.parametrize("headers_first", [True, False], ids=["body-drip", "header-drip"])
def test_a_one_byte_per_5_s_server_is_cut_off_at_the_deadline(
    server: FaultServer, headers_first: bool
) -> None:
    server.routes["/slow"] = drip(server, every=5.0, headers_first=headers_first)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as timed_out:
        fetcher(deadline=1.0, timeout=10.0).fetch(server.url("/slow"))
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 2.0
    assert timed_out.value.reason == "deadline"
    assert "1 s deadline" in str(timed_out.value)


def test_a_fast_drip_cannot_outlast_the_deadline_either(server: FaultServer) -> None:
    server.routes["/drip"] = drip(server, every=0.05)
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetcher(deadline=0.8, timeout=10.0).fetch(server.url("/drip"))
    assert time.monotonic() - started < 1.6


def test_a_silent_server_hits_the_read_timeout(server: FaultServer) -> None:
    server.routes["/silent"] = ok(b"late", delay=2.0)
    with pytest.raises(FetchTimeout) as timed_out:
        fetcher(timeout=0.3, deadline=10.0).fetch(server.url("/silent"))
    assert timed_out.value.reason == "read_timeout"


def test_the_connection_is_reusable_after_a_deadline_cut(server: FaultServer) -> None:
    server.routes["/slow"] = drip(server, every=5.0)
    server.routes["/fast"] = ok(b"fine")
    quick = fetcher(deadline=0.5)
    with pytest.raises(FetchTimeout):
        quick.fetch(server.url("/slow"))
    assert quick.fetch(server.url("/fast")).body == b"fine"


# --- redirects ---


def test_a_redirect_loop_fails_after_5_hops(server: FaultServer) -> None:
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect("/a")
    with pytest.raises(FetchError) as failed:
        fetcher().fetch(server.url("/a"))
    assert failed.value.reason == "too_many_redirects"
    assert "after 5 redirects (a redirect loop)" in str(failed.value)
    assert len(server.hits) == 6  # the first request and 5 redirects followed


def test_five_redirects_are_followed_to_the_final_url(server: FaultServer) -> None:
    for hop in range(5):
        server.routes[f"/r{hop}"] = redirect(f"/r{hop + 1}", status=(301, 302, 303, 307, 308)[hop])
    server.routes["/r5"] = ok(b"<p>arrived</p>")
    response = fetcher().fetch(server.url("/r0"))
    assert response.body == b"<p>arrived</p>"
    assert response.url == server.url("/r5")


def test_max_redirects_is_configurable(server: FaultServer) -> None:
    server.routes["/r0"] = redirect("/r1")
    server.routes["/r1"] = ok(b"x")
    with pytest.raises(FetchError):
        fetcher(max_redirects=0).fetch(server.url("/r0"))
    assert fetcher(max_redirects=1).fetch(server.url("/r0")).body == b"x"


@pytest.mark.parametrize("location", ["http://[::1", "http://[zz]/"])
def test_a_redirect_to_an_unparsable_url_is_refused_with_its_location(
    server: FaultServer, location: str
) -> None:
    server.routes["/r"] = redirect(location)
    with pytest.raises(FetchRefused) as refused:
        fetcher().fetch(server.url("/r"))
    assert refused.value.reason == "invalid_redirect"
    assert location in str(refused.value)


def test_a_redirect_without_location_is_an_http_error(server: FaultServer) -> None:
    server.routes["/r"] = respond(302)
    with pytest.raises(HttpStatusError) as failed:
        fetcher().fetch(server.url("/r"))
    assert failed.value.status == 302


# --- content types ---


@pytest.mark.parametrize(
    ("purpose", "content_type"),
    [
        ("feed", "application/rss+xml"),
        ("feed", "application/atom+xml; charset=utf-8"),
        ("feed", "application/feed+json"),
        ("feed", "text/xml"),
        ("feed", "application/x-gzip"),
        ("feed", ""),
        ("article", "text/html; charset=iso-8859-1"),
        ("article", "application/xhtml+xml"),
        ("article", "text/plain"),
    ],
)
def test_expected_content_types_are_accepted(
    server: FaultServer, purpose: str, content_type: str
) -> None:
    server.routes["/x"] = respond(
        200, b"<rss/>", {"Content-Type": content_type} if content_type else {}
    )
    assert fetcher().fetch(server.url("/x"), purpose=purpose).status == 200  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("purpose", "content_type"),
    [
        ("feed", "image/png"),
        ("feed", "application/pdf"),
        ("article", "application/pdf"),
        ("article", "video/mp4"),
        ("article", "application/rss+xml"),
    ],
)
def test_mismatched_content_types_are_refused(
    server: FaultServer, purpose: str, content_type: str
) -> None:
    server.routes["/x"] = respond(200, b"%PDF", {"Content-Type": content_type})
    before = metric("newsflow_fetch_refused_total", reason="content_type")
    with pytest.raises(FetchRefused) as refused:
        fetcher().fetch(server.url("/x"), purpose=purpose)  # type: ignore[arg-type]
    assert refused.value.reason == "content_type"
    assert content_type in str(refused.value)
    assert f"{'an' if purpose == 'article' else 'a'} {purpose} fetch does not" in str(refused.value)
    assert metric("newsflow_fetch_refused_total", reason="content_type") == before + 1


def test_html_served_as_a_feed_passes_only_when_it_looks_like_a_feed(server: FaultServer) -> None:
    server.routes["/feed-as-html"] = ok(b'\xef\xbb\xbf  <?xml version="1.0"?><rss/>')
    server.routes["/page"] = ok(b"<!doctype html><html><body>hi</body></html>")
    assert fetcher().fetch(server.url("/feed-as-html"), purpose="feed").status == 200
    with pytest.raises(FetchRefused) as refused:
        fetcher().fetch(server.url("/page"), purpose="feed")
    assert refused.value.reason == "content_type"


# --- conditional GET and status handling ---


def conditional(request: BaseHTTPRequestHandler) -> None:
    fresh = request.headers.get("If-None-Match") == '"v1"'
    fresh = fresh or request.headers.get("If-Modified-Since") == "Mon, 01 Jan 2024 00:00:00 GMT"
    headers = {
        "ETag": '"v1"',
        "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        "Content-Type": "application/rss+xml",
    }
    respond(304 if fresh else 200, b"" if fresh else b"<rss>v1</rss>", headers)(request)


def test_conditional_get_sends_validators_and_yields_304(server: FaultServer) -> None:
    server.routes["/feed"] = conditional
    client = fetcher()
    first = client.fetch(server.url("/feed"), purpose="feed")
    assert (first.status, first.body) == (200, b"<rss>v1</rss>")
    again = client.fetch(
        server.url("/feed"),
        purpose="feed",
        etag=first.headers["etag"],
        last_modified=first.headers["last-modified"],
    )
    assert (again.status, again.body, again.not_modified) == (304, b"", True)
    sent = server.hits[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    by_date = client.fetch(
        server.url("/feed"), purpose="feed", last_modified=first.headers["last-modified"]
    )
    assert by_date.status == 304


def test_validators_with_line_breaks_are_never_sent(server: FaultServer) -> None:
    server.routes["/feed"] = conditional
    fetcher().fetch(server.url("/feed"), purpose="feed", etag='"v1"\r\nX-Injected: 1')
    assert "x-injected" not in server.hits[0].headers
    assert "if-none-match" not in server.hits[0].headers


def test_requests_identify_themselves(server: FaultServer) -> None:
    server.routes["/p"] = ok(b"x")
    fetcher(user_agent="newsflow-test/9 (+https://example.org/bot)").fetch(server.url("/p"))
    sent = server.hits[-1].headers
    assert sent["user-agent"] == "newsflow-test/9 (+https://example.org/bot)"
    assert sent["accept-encoding"] == "gzip, deflate"
    assert sent["accept"].startswith("text/html")


@pytest.mark.parametrize("status", [400, 403, 404, 410, 500, 502, 503])
def test_error_statuses_are_http_status_errors(server: FaultServer, status: int) -> None:
    server.routes["/e"] = respond(status, b"nope")
    before = metric("newsflow_fetch_requests_total", host="127.0.0.1", status=str(status))
    with pytest.raises(HttpStatusError) as failed:
        fetcher().fetch(server.url("/e"))
    assert failed.value.status == status
    assert failed.value.reason == f"http_{status}"
    assert f"HTTP {status}" in str(failed.value)
    assert (
        metric("newsflow_fetch_requests_total", host="127.0.0.1", status=str(status)) == before + 1
    )


def test_bytes_received_are_counted(server: FaultServer) -> None:
    server.routes["/p"] = ok(b"x" * 5000)
    before = metric("newsflow_fetch_bytes_total")
    fetcher().fetch(server.url("/p"))
    assert metric("newsflow_fetch_bytes_total") == before + 5000


def test_a_refused_connection_names_the_url_and_cause() -> None:
    with FaultServer() as gone:
        url = gone.url("/x")
    with pytest.raises(FetchInterrupted) as failed:
        fetcher().fetch(url)
    assert failed.value.reason == "connection"
    assert url in str(failed.value) and "refused" in str(failed.value).lower()


def test_a_body_cut_short_is_a_protocol_error(server: FaultServer) -> None:
    server.routes["/short"] = raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\nabc"
    )
    with pytest.raises(FetchInterrupted) as failed:
        fetcher().fetch(server.url("/short"))
    assert failed.value.reason == "protocol"


def test_a_page_closed_after_its_headers_is_an_interrupted_fetch(server: FaultServer) -> None:
    server.routes["/empty"] = raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
    with pytest.raises(FetchInterrupted) as failed:
        fetcher().fetch(server.url("/empty"))
    assert failed.value.reason == "empty_body"
    assert "empty body" in str(failed.value)


def test_a_page_answering_204_is_not_tried_again(server: FaultServer) -> None:
    server.routes["/none"] = respond(204)
    with pytest.raises(FetchError) as failed:
        fetcher().fetch(server.url("/none"))
    assert not isinstance(failed.value, FetchInterrupted)
    assert failed.value.reason == "no_content"


def test_an_empty_feed_is_left_to_the_feed_parser(server: FaultServer) -> None:
    server.routes["/feed"] = ok(b"", "application/rss+xml")
    assert fetcher().fetch(server.url("/feed"), purpose="feed").body == b""


@pytest.mark.parametrize(
    ("length", "refused"), [(b"\xb2", False), (b"1\xb2", False), (b"9" * 5000, True)]
)
def test_a_content_length_that_is_no_number_for_int_is_not_an_internal_error(
    server: FaultServer, length: bytes, refused: bool
) -> None:
    """``Content-Length: ²`` (one Latin-1 byte) and 5,000 digits raised ValueError from the
    announced-size check: the fetch failed as an internal error."""
    server.routes["/p"] = raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + length
        + b"\r\nConnection: close\r\n\r\n<p>hi</p>"
    )  # fmt: skip
    if refused:
        with pytest.raises(BodyTooLarge):
            fetcher().fetch(server.url("/p"))
    else:
        assert fetcher().fetch(server.url("/p")).body == b"<p>hi</p>"


def test_garbage_instead_of_http_is_a_protocol_error(server: FaultServer) -> None:
    server.routes["/g"] = raw(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
    with pytest.raises(FetchError) as failed:
        fetcher().fetch(server.url("/g"))
    assert failed.value.reason == "protocol"


def test_a_garbage_status_line_is_quoted_on_one_short_printable_line(server: FaultServer) -> None:
    """http.client quotes the bad status line whole, CR LF and all (up to 64 KB the server
    chose): the error, logged and stored as a dead letter's message, spanned lines."""
    server.routes["/g"] = raw(b"ICY 200 OK \x1b[31m" + b"x" * 10_000 + b"\r\n\r\n")
    with pytest.raises(FetchError) as failed:
        fetcher().fetch(server.url("/g"))
    message = str(failed.value)
    assert failed.value.reason == "protocol" and "ICY 200 OK" in message
    assert message.isprintable() and len(message) < 500


# --- interim (1xx) responses ---


def interim_then_ok(*interim: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    """The raw ``interim`` responses, then a normal 200 page, on one connection."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        body = b"<html><body>final page</body></html>"
        request.wfile.write(b"".join(interim))
        request.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    return handler


@pytest.mark.parametrize(
    "interim",
    [
        (b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n",),
        (b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 102 Processing\r\n\r\n"),
    ],
    ids=["103", "100-102"],
)
def test_interim_responses_are_skipped_for_the_final_one(
    server: FaultServer, interim: tuple[bytes, ...]
) -> None:
    """A 103 Early Hints (or 100 then 102) before the page was taken as the final answer
    and dead-lettered as http_103; like curl, the fetcher now reads on to the 200."""
    server.routes["/hints"] = interim_then_ok(*interim)
    client = fetcher()
    for _ in range(2):  # the connection is reused cleanly afterwards
        response = client.fetch(server.url("/hints"))
        assert response.status == 200
        assert response.body == b"<html><body>final page</body></html>"
        assert "link" not in response.headers, "the interim response's headers are dropped"


def test_a_server_that_never_stops_sending_interim_responses_is_an_http_error(
    server: FaultServer,
) -> None:
    server.routes["/endless"] = interim_then_ok(*[b"HTTP/1.1 102 Processing\r\n\r\n"] * 40)
    with pytest.raises(HttpStatusError) as failed:
        fetcher().fetch(server.url("/endless"))
    assert failed.value.reason == "http_102"


# --- a hostile URL in the messages ---

LONG_PATH = "/long?" + "q" * 10_000
"""A 10 KB request target: a feed or a redirect may hand the fetcher one."""
SHORT = 400


@pytest.mark.parametrize(
    ("handler", "settings", "reason"),
    [
        (respond(404), {}, "http_404"),
        (respond(204), {}, "no_content"),
        (raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"), {}, "empty_body"),
        (ok(b"%PDF", "application/pdf"), {}, "content_type"),
        (respond(200, b"xx", {"Content-Type": "text/html", "Content-Encoding": "br"}), {},
         "content_encoding"),
        (stream_zeros(2 * CAP), {}, "too_large"),
        (respond(429, b"", {"Retry-After": "60"}), {}, "http_429"),
        (ok(b"x"), {"respect_robots": True}, "robots"),
        (raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"), {}, "protocol"),
    ],
)  # fmt: skip
def test_a_10_kb_url_is_quoted_on_one_short_line_in_every_fetch_error(
    server: FaultServer, handler: Callable[[BaseHTTPRequestHandler], None],
    settings: dict[str, object], reason: str,
) -> None:  # fmt: skip
    """Every message that quotes the URL quotes an excerpt: these went to logs, dead-letter
    headers and the store whole (10 KB a line), though the URL itself is kept."""
    server.routes["/long"] = handler
    server.routes["/robots.txt"] = ok(b"User-agent: *\nDisallow: /long\n", "text/plain")
    url = server.url(LONG_PATH)
    once = fetcher(**settings)
    with pytest.raises(FetchError) as failed:
        once.fetch(url)
    assert failed.value.reason == reason and failed.value.url == url
    assert str(failed.value).isprintable() and len(str(failed.value)) < SHORT
    if reason == "http_429":  # the host is now blocked: the next URL is not even asked for
        with pytest.raises(FetchError) as blocked:
            once.fetch(url)
        assert blocked.value.reason == "host_blocked" and len(str(blocked.value)) < SHORT


def test_a_redirect_loop_through_a_10_kb_url_names_each_hop_short(server: FaultServer) -> None:
    server.routes["/long"] = redirect(LONG_PATH)
    with pytest.raises(FetchError) as failed:
        fetcher().fetch(server.url(LONG_PATH))
    assert failed.value.reason == "too_many_redirects"
    assert str(failed.value).isprintable() and len(str(failed.value)) < 7 * 130 + 100


def test_a_refused_connection_to_a_10_kb_url_is_quoted_short() -> None:
    with FaultServer() as gone:
        url = gone.url(LONG_PATH)
    with pytest.raises(FetchInterrupted) as failed:
        fetcher().fetch(url)
    assert failed.value.reason == "connection" and len(str(failed.value)) < SHORT
