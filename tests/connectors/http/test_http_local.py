"""Local sources: configured feed files, site mirrors, and the composed fetcher."""

from __future__ import annotations

import doctest
import os
from email.utils import formatdate
from pathlib import Path

import pytest
from http_fault_server import FaultServer, ok

import connectors.http as http_package
from connectors.http import clock, fetcher, guard
from connectors.http.fetcher import CompositeFetcher, build_fetcher
from connectors.http.local import LocalFeedReader, MirrorFetcher
from pipeline.config import FetchConfig, parse_config
from pipeline.errors import BodyTooLarge, FetchError, FetchRefused, HttpStatusError

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    (root / "index.html").write_bytes(b"<p>home</p>")
    (root / "news" / "index.html").write_bytes(b"<p>news index</p>")
    (root / "news" / "a b.html").write_bytes(b"<p>a b</p>")
    (root / "feed.xml").write_bytes(RSS)
    (root / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "secret.txt").write_bytes(b"top secret")
    return root


@pytest.fixture
def feed_file(tmp_path: Path) -> Path:
    path = tmp_path / "feeds" / "local.xml"
    path.parent.mkdir()
    path.write_bytes(RSS)
    return path


# --- configured feed files ---


def test_a_configured_feed_file_is_read(feed_file: Path) -> None:
    reader = LocalFeedReader([feed_file], max_body_bytes=1 << 20)
    response = reader.fetch_local_feed(str(feed_file))
    assert (response.status, response.body) == (200, RSS)
    assert response.content_type == "application/xml"
    assert response.headers["last-modified"] == formatdate(feed_file.stat().st_mtime, usegmt=True)


def test_an_unchanged_feed_file_is_not_modified(feed_file: Path) -> None:
    reader = LocalFeedReader([feed_file], max_body_bytes=1 << 20)
    first = reader.fetch_local_feed(str(feed_file))
    again = reader.fetch_local_feed(str(feed_file), last_modified=first.headers["last-modified"])
    assert (again.status, again.body) == (304, b"")
    os.utime(feed_file, (1_800_000_000, 1_800_000_000))
    assert (
        reader.fetch_local_feed(str(feed_file), last_modified=first.headers["last-modified"]).status
        == 200
    )


def test_only_configured_paths_are_read(feed_file: Path, tmp_path: Path) -> None:
    reader = LocalFeedReader([feed_file], max_body_bytes=1 << 20)
    sneaky = feed_file.parent / ".." / "feeds" / "local.xml"
    assert reader.fetch_local_feed(str(sneaky)).body == RSS  # the same file, spelled differently
    for other in ["/etc/passwd", str(tmp_path / "secret.txt"), str(feed_file.parent)]:
        with pytest.raises(FetchRefused) as refused:
            reader.fetch_local_feed(other)
        assert refused.value.reason == "local_path"


def test_a_missing_or_oversized_feed_file_is_a_clear_error(feed_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone.xml"
    reader = LocalFeedReader([feed_file, missing], max_body_bytes=50)
    with pytest.raises(FetchError) as failed:
        reader.fetch_local_feed(str(missing))
    assert failed.value.reason == "file_not_found"
    with pytest.raises(BodyTooLarge, match=r"raise schedule\.max_feed_bytes"):
        reader.fetch_local_feed(str(feed_file))


def test_a_local_feed_is_capped_by_max_feed_bytes(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<rss>" + b" " * 4096 + b"</rss>")
    page_cap = FetchConfig(max_body_bytes=1024)
    composed = build_fetcher(page_cap, local_feeds=[big], max_feed_bytes=8192)
    assert composed.fetch_local_feed(str(big)).status == 200


@pytest.mark.parametrize("where", ["/dev/zero", "directory"])
def test_a_feed_path_that_is_not_a_regular_file_says_so(tmp_path: Path, where: str) -> None:
    path = tmp_path if where == "directory" else Path(where)
    reader = LocalFeedReader([path], max_body_bytes=1024)
    with pytest.raises(FetchError) as failed:
        reader.fetch_local_feed(str(path))
    assert failed.value.reason == "not_a_file"
    assert "is not a regular file" in str(failed.value)


def test_fetch_never_reads_files_even_for_configured_feed_paths(feed_file: Path) -> None:
    composed = build_fetcher(FetchConfig(), local_feeds=[feed_file])
    for url in [str(feed_file), f"file://{feed_file}"]:
        with pytest.raises(FetchRefused) as refused:
            composed.fetch(url, purpose="feed")
        assert refused.value.reason == "scheme"
    assert composed.fetch_local_feed(str(feed_file)).body == RSS


# --- mirrors ---


def mirror(site: Path) -> MirrorFetcher:
    return MirrorFetcher({"http://site.example/": site}, max_body_bytes=1 << 20)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("http://site.example/", b"<p>home</p>"),
        ("http://site.example/news/", b"<p>news index</p>"),
        ("http://site.example/news", b"<p>news index</p>"),
        ("http://site.example/news/a%20b.html?utm_source=x#top", b"<p>a b</p>"),
    ],
)
def test_mirror_serves_files_and_directory_indexes(site: Path, url: str, body: bytes) -> None:
    response = mirror(site).fetch(url)
    assert (response.status, response.body, response.url) == (200, body, url)
    assert response.content_type == "text/html"


def test_mirror_checks_content_types_like_the_network(site: Path) -> None:
    assert mirror(site).fetch("http://site.example/feed.xml", purpose="feed").body == RSS
    with pytest.raises(FetchRefused) as refused:
        mirror(site).fetch("http://site.example/report.pdf", purpose="article")
    assert refused.value.reason == "content_type"


def test_a_page_missing_from_the_mirror_is_a_404(site: Path) -> None:
    with pytest.raises(HttpStatusError) as failed:
        mirror(site).fetch("http://site.example/nope.html")
    assert failed.value.status == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://site.example/../secret.txt",
        "http://site.example/%2e%2e/secret.txt",
        "http://site.example/news/..%2f..%2fsecret.txt",
        "http://site.example/news/%2E%2E/%2E%2E/secret.txt",
        "http://site.example/..\\secret.txt",
    ],
)
def test_mirror_paths_cannot_leave_the_directory(site: Path, url: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        mirror(site).fetch(url)
    assert refused.value.reason == "mirror_path"


def test_a_symlink_out_of_the_mirror_is_refused(site: Path, tmp_path: Path) -> None:
    (site / "escape.html").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(FetchRefused) as refused:
        mirror(site).fetch("http://site.example/escape.html")
    assert refused.value.reason == "mirror_path"


def test_mirror_prefixes_match_whole_path_segments(site: Path) -> None:
    narrow = MirrorFetcher({"http://site.example/news": site / "news"}, max_body_bytes=1 << 20)
    assert narrow.serves("http://site.example/news/a%20b.html")
    assert narrow.serves("http://site.example/news")
    assert not narrow.serves("http://site.example/newsletter.html")
    assert not narrow.serves("http://other.example/news/")


# --- the composed fetcher ---


def test_build_fetcher_serves_mirrors_from_disk_and_the_rest_from_the_network(site: Path) -> None:
    with FaultServer({"/live.html": ok(b"<p>live</p>")}) as server:
        config = parse_config(
            {
                "fetch": {
                    "allow_private_networks": True,
                    "respect_robots": False,
                    "local_mirrors": {"http://site.example/": str(site)},
                }
            }
        ).fetch
        composed = build_fetcher(config)
        assert isinstance(composed, CompositeFetcher)
        assert composed.fetch("http://site.example/news/").body == b"<p>news index</p>"
        assert composed.fetch(server.url("/live.html")).body == b"<p>live</p>"
        assert [h.path for h in server.hits] == ["/live.html"]
        composed.close()


def test_relative_mirror_directories_resolve_against_the_config(tmp_path: Path, site: Path) -> None:
    config = parse_config(
        {"fetch": {"local_mirrors": {"http://site.example/": "site"}}}, base=tmp_path
    )
    assert build_fetcher(config.fetch).fetch("http://site.example/").body == b"<p>home</p>"


# --- the package's promises ---


def test_the_package_exports_what_its_docstring_promises() -> None:
    assert set(http_package.__all__) >= {"build_fetcher", "HttpFetcher", "FetchResponse", "Fetcher"}
    for name in http_package.__all__:
        assert getattr(http_package, name) is not None


@pytest.mark.parametrize("module", [fetcher, clock, guard])
def test_docstring_examples_run(module: object) -> None:
    failed, attempted = doctest.testmod(module)  # type: ignore[arg-type]
    assert attempted > 0
    assert failed == 0


def test_a_10_kb_mirror_url_is_quoted_on_one_short_line(tmp_path: Path) -> None:
    mirror = MirrorFetcher({"http://mirror.example/": tmp_path}, max_body_bytes=1024)
    url = "http://mirror.example/missing?" + "a" * 10_000  # the query names no file
    with pytest.raises(HttpStatusError) as failed:
        mirror.fetch(url)
    assert failed.value.url == url
    assert str(failed.value).isprintable() and len(str(failed.value)) < 400


def test_a_mirror_url_naming_a_file_too_long_for_the_file_system_is_a_fetch_error(
    tmp_path: Path,
) -> None:
    """A path segment over the file system's name limit raised OSError (ENAMETOOLONG) from
    the directory check: an internal error instead of one clear fetch error."""
    mirror = MirrorFetcher({"http://mirror.example/": tmp_path}, max_body_bytes=1024)
    url = "http://mirror.example/" + "a" * 10_000
    with pytest.raises(FetchError) as failed:
        mirror.fetch(url)
    assert failed.value.url == url
    assert str(failed.value).isprintable() and len(str(failed.value)) < 400
