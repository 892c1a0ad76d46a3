"""WARC backfills: every archived HTML page becomes an entry carrying its body."""

from __future__ import annotations

import gzip
import logging
from io import BytesIO
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from connectors.feeds import is_warc_feed, iter_warc_entries
from connectors.feeds.warc import read_warc_batch
from pipeline.config import FeedConfig
from pipeline.errors import FeedError


def write_warc(path: Path, pages: list[tuple[str, int, str, bytes]], *, gz: bool) -> None:
    """Write response records (url, status, content type, body) plus a request record each."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gz)
        for url, status, content_type, body in pages:
            headers = StatusAndHeaders(
                f"{status} OK", [("Content-Type", content_type)], protocol="HTTP/1.1"
            )
            request = BytesIO(b"GET / HTTP/1.1\r\n\r\n")
            writer.write_record(writer.create_warc_record(url, "request", payload=request))
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=BytesIO(body), http_headers=headers
                )
            )


def page(i: int) -> tuple[str, int, str, bytes]:
    html = f"<html><body><h1>Story {i}</h1><p>Text of story {i}.</p></body></html>"
    return (f"https://news.example.com/story/{i}?utm_source=cc", 200, "text/html", html.encode())


def feed_for(url: str) -> FeedConfig:
    return FeedConfig(name="backfill", url=url, kind="warc")


def test_a_warc_of_100_pages_yields_100_entries_with_bodies(tmp_path: Path) -> None:
    path = tmp_path / "news.warc.gz"
    write_warc(path, [page(i) for i in range(100)], gz=True)
    entries = list(iter_warc_entries(str(path), feed_for(str(path))))
    assert len(entries) == 100
    assert {e.url for e in entries} == {f"https://news.example.com/story/{i}" for i in range(100)}
    first = entries[0]
    assert first.feed == "backfill" and first.feed_kind == "warc"
    assert first.body is not None and "Text of story 0." in first.body
    assert first.guid is not None and first.guid.startswith("<urn:uuid:")


def test_non_pages_are_skipped_and_charsets_respected(tmp_path: Path) -> None:
    path = tmp_path / "mixed.warc"
    write_warc(
        path,
        [
            (
                "https://e.com/ok",
                200,
                "text/html; charset=iso-8859-1",
                "<p>Café</p>".encode("latin-1"),
            ),
            (
                "https://e.com/meta",
                200,
                "text/html",
                '<meta charset="windows-1251"><p>Привет</p>'.encode("cp1251"),
            ),
            ("https://e.com/missing", 404, "text/html", b"<p>gone</p>"),
            ("https://e.com/logo.png", 200, "image/png", b"\x89PNG"),
            ("ftp://e.com/file", 200, "text/html", b"<p>ftp</p>"),
        ],
        gz=False,
    )
    entries = list(iter_warc_entries(str(path), feed_for(str(path))))
    assert [e.url for e in entries] == ["https://e.com/ok", "https://e.com/meta"]
    assert entries[0].body == "<p>Café</p>"
    assert entries[1].body is not None and "Привет" in entries[1].body


def test_a_glob_reads_every_file_and_a_corrupt_one_stops_only_itself(tmp_path: Path) -> None:
    write_warc(tmp_path / "a.warc.gz", [page(i) for i in range(3)], gz=True)
    write_warc(tmp_path / "c.warc.gz", [page(i) for i in range(3, 5)], gz=True)
    (tmp_path / "b.warc.gz").write_bytes(gzip.compress(b"this is not a WARC record\r\n" * 10))
    pattern = str(tmp_path / "*.warc.gz")
    seen: list[str] = []
    with pytest.raises(FeedError) as caught:
        for entry in iter_warc_entries(pattern, feed_for(pattern)):
            seen.append(entry.url)
    assert len(seen) == 5
    assert caught.value.reason == "bad_warc"
    assert "b.warc.gz" in str(caught.value)


def test_no_matching_files_is_a_clear_error(tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.warc.gz")
    with pytest.raises(FeedError, match="no WARC files match"):
        list(iter_warc_entries(pattern, feed_for(pattern)))


def test_is_warc_feed() -> None:
    assert is_warc_feed(FeedConfig(name="a", url="/data/x.warc.gz"))
    assert is_warc_feed(FeedConfig(name="a", url="/data/*.warc", kind="auto"))
    assert is_warc_feed(FeedConfig(name="a", url="/data/cc-news-*", kind="warc"))
    assert not is_warc_feed(FeedConfig(name="a", url="https://e.com/x.warc.gz"))
    assert not is_warc_feed(FeedConfig(name="a", url="/data/feed.xml"))


def damaged(tmp_path: Path, name: str, how: str) -> Path:
    """A WARC of 5 pages damaged after its second page, or ``cut_<n>`` bytes short of its
    end: ``how`` says in what way."""
    gz = name.endswith(".gz")
    path = tmp_path / name
    write_warc(path, [page(i) for i in range(5)], gz=gz)
    data = path.read_bytes()
    if how == "negative_length":  # the third response's Content-Length is -5
        marker = b"WARC-Type: response"
        third = [i for i in range(len(data)) if data.startswith(marker, i)][2]
        start = data.index(b"Content-Length: ", third) + len(b"Content-Length: ")
        end = data.index(b"\r\n", start)
        data = data[:start] + b"-5" + data[end:]
    elif how.startswith("cut_"):  # the file ends that many bytes early
        data = data[: -int(how.removeprefix("cut_"))]
    elif how == "corrupt_gzip":  # 40 bytes flipped in the middle of the file
        middle = len(data) * 2 // 3
        data = (
            data[:middle]
            + bytes(b ^ 0xFF for b in data[middle : middle + 40])
            + data[middle + 40 :]
        )
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "how"), [("neg.warc", "negative_length"), ("bits.warc.gz", "corrupt_gzip")]
)
def test_a_damaged_file_keeps_the_pages_before_the_damage(
    tmp_path: Path, name: str, how: str
) -> None:
    path = damaged(tmp_path, name, how)

    batch = read_warc_batch(path, feed_for(str(path)), limit=100)

    assert batch.finished and batch.error is not None
    assert batch.error.startswith(f"cannot read WARC file {name}:")
    assert batch.error.isprintable()
    urls = [e.url for e in batch.entries]
    assert urls[:2] == [f"https://news.example.com/story/{i}" for i in range(2)]
    assert len(urls) < 5


def error_after_pages(path: Path, *, pages: int) -> str:
    """Read ``path`` in one batch: its first ``pages`` pages, then the damage, which
    ends the file; the batch's error."""
    batch = read_warc_batch(path, feed_for(str(path)), limit=100)
    assert [e.url for e in batch.entries] == [
        f"https://news.example.com/story/{i}" for i in range(pages)
    ]
    assert batch.finished and batch.error is not None
    return batch.error


def _without_target_uri(tmp_path: Path) -> Path:
    """Two pages, then a response record without WARC-Target-URI, then a third page."""
    path = tmp_path / "nouri.warc"
    write_warc(path, [page(0), page(1)], gz=False)
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>x</p>"
    record = (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:1>\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: %d\r\n\r\n%s\r\n\r\n" % (len(http), http)
    )
    tail = tmp_path / "tail.warc"
    write_warc(tail, [page(2)], gz=False)
    path.write_bytes(path.read_bytes() + record + tail.read_bytes())
    return path


def test_a_record_warcio_itself_fails_on_is_damage_not_an_internal_error(
    tmp_path: Path,
) -> None:
    """warcio raised AttributeError (None.startswith) on a response record without a
    WARC-Target-URI: the batch, and a whole backfill of many files, ended as a bug."""
    error = error_after_pages(_without_target_uri(tmp_path), pages=2)
    assert "damaged record warcio cannot read (AttributeError" in error


def test_a_whole_file_read_in_one_pass_says_what_is_wrong_on_one_line(tmp_path: Path) -> None:
    """The FeedError quoted warcio's message as it was: newlines and the damaged bytes."""
    damaged_one = _without_target_uri(tmp_path)
    garbage_after = tmp_path / "z.warc"
    write_warc(garbage_after, [page(3)], gz=False)
    garbage_after.write_bytes(garbage_after.read_bytes() + b"Content-Type: text/html\r\n\r\n")

    with pytest.raises(FeedError) as failed:
        list(iter_warc_entries(str(tmp_path / "*.warc"), feed_for(str(tmp_path / "*.warc"))))

    message = str(failed.value)
    assert message.isprintable() and message.startswith("2 of 3 WARC files unreadable:")
    assert f"{damaged_one.name}: a damaged record warcio cannot read" in message
    assert message.endswith("z.warc: Invalid WARC record, first line: Content-Type: text/html")


@pytest.mark.parametrize(
    ("name", "cut"),
    [("a.warc", 40), ("a.warc", 300), ("a.warc.gz", 100), ("a.warc.gz", 300)],
    ids=["in-the-page", "in-the-headers", "gz-in-the-member", "gz-in-the-headers"],
)
def test_a_file_cut_short_keeps_its_whole_records_and_says_so(
    tmp_path: Path, name: str, cut: int
) -> None:
    """The last page went on cut (an article, or an ``extract / empty`` letter), or was
    dropped without a word when the cut fell in its headers."""
    error = error_after_pages(damaged(tmp_path, name, f"cut_{cut}"), pages=4)
    assert "cut short?" in error


def test_a_whole_file_read_in_one_pass_reports_a_cut_too(tmp_path: Path) -> None:
    path = damaged(tmp_path, "a.warc", "cut_300")
    with pytest.raises(FeedError, match="cut short"):
        list(iter_warc_entries(str(path), feed_for(str(path))))


@pytest.mark.parametrize("body", [gzip.compress(b"<rss><channel/></rss>" * 50), b"<rss/>" * 100])
def test_a_file_that_is_not_a_warc_says_so(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "feed.warc.gz"
    path.write_bytes(body)

    batch = read_warc_batch(path, feed_for(str(path)), limit=100)

    assert batch.entries == [] and batch.finished
    assert batch.error is not None
    assert "not a WARC file" in batch.error or "cannot read WARC file" in batch.error


EMPTY = "the file is empty (0 bytes): a download or copy that never started?"


@pytest.mark.parametrize("name", ["a.warc", "a.warc.gz"])
def test_an_empty_file_is_unreadable_not_an_archive_of_nothing(tmp_path: Path, name: str) -> None:
    """warcio reads 0 bytes as an archive of no records: the file passed as read, silently."""
    path = tmp_path / name
    path.touch()
    feed = feed_for(str(path))
    labels = {"feed": feed.name}
    before = REGISTRY.get_sample_value("newsflow_warc_files_unreadable_total", labels) or 0.0

    batch = read_warc_batch(path, feed, limit=100)

    assert (batch.entries, batch.finished) == ([], True)
    assert batch.error == f"cannot read WARC file {name}: {EMPTY}"
    assert REGISTRY.get_sample_value("newsflow_warc_files_unreadable_total", labels) == before + 1
    with pytest.raises(FeedError, match="empty") as caught:
        list(iter_warc_entries(str(path), feed))
    assert caught.value.reason == "bad_warc"


def test_a_wrong_content_length_is_one_log_line_not_warcios_raw_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = damaged(tmp_path, "neg.warc", "negative_length")
    caplog.set_level(logging.WARNING, logger="connectors.feeds.warc")

    read_warc_batch(path, feed_for(str(path)), limit=100)

    assert "Record not followed by newline" not in capfd.readouterr().err
    assert any("not where their predecessor's Content-Length says" in r.getMessage()
               for r in caplog.records)  # fmt: skip
