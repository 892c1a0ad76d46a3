"""Fetch stage: pages from the fetcher, WARC bodies without it, charset handling."""

from __future__ import annotations

import pytest

from connectors.http.base import FetchResponse, Purpose
from pipeline.errors import FetchError
from pipeline.models import FeedEntry, FetchedPage
from pipeline.stages.fetch import FetchStage


class RecordingFetcher:
    """A fetcher double that answers from a dict and records what was asked."""

    def __init__(self, responses: dict[str, FetchResponse]) -> None:
        self.responses = responses
        self.calls: list[str] = []

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        self.calls.append(url)
        return self.responses[url]

    def close(self) -> None:
        pass


def entry(url: str = "https://a.example/s", body: str | None = None) -> FeedEntry:
    return FeedEntry(feed="f", feed_kind="rss", url=url, body=body)


def test_fetches_and_decodes_with_the_declared_charset() -> None:
    body = "<p>Café</p>".encode("latin-1")
    fetcher = RecordingFetcher(
        {
            "https://a.example/s": FetchResponse(
                url="https://a.example/s?final",
                status=200,
                body=body,
                headers={"content-type": "text/html; charset=ISO-8859-1"},
            )
        }
    )
    [page] = FetchStage(fetcher, max_body_bytes=10_000).process(entry())
    assert isinstance(page, FetchedPage)
    assert page.html == "<p>Café</p>"
    assert page.url == "https://a.example/s?final"
    assert page.entry.url == "https://a.example/s"


def test_guesses_the_encoding_when_none_is_declared() -> None:
    fetcher = RecordingFetcher(
        {
            "https://a.example/s": FetchResponse(
                url="https://a.example/s", status=200, body="<p>Ünïcode</p>".encode()
            )
        }
    )
    [page] = FetchStage(fetcher, max_body_bytes=10_000).process(entry())
    assert isinstance(page, FetchedPage)
    assert "Ünïcode" in page.html


def test_entries_that_carry_their_page_are_not_fetched() -> None:
    fetcher = RecordingFetcher({})
    [page] = FetchStage(fetcher, max_body_bytes=10_000).process(entry(body="<p>from warc</p>"))
    assert isinstance(page, FetchedPage)
    assert page.html == "<p>from warc</p>"
    assert fetcher.calls == []


def test_a_non_200_answer_is_a_fetch_error() -> None:
    fetcher = RecordingFetcher(
        {"https://a.example/s": FetchResponse(url="https://a.example/s", status=304, body=b"")}
    )
    with pytest.raises(FetchError) as err:
        FetchStage(fetcher, max_body_bytes=10_000).process(entry())
    assert err.value.reason == "http_304"


def test_the_link_as_listed_is_fetched_not_its_canonical_form() -> None:
    """``/reviews/guitar/amp`` canonicalises to ``/reviews/guitar``, which the server may not
    know: that was a 404 dead letter for a page the feed listed correctly."""
    listed = "https://a.example/reviews/guitar/amp"
    fetcher = RecordingFetcher({listed: FetchResponse(url=listed, status=200, body=b"<p>x</p>")})
    message = FeedEntry(
        feed="f", feed_kind="rss", url="https://a.example/reviews/guitar", link=listed
    )

    [page] = FetchStage(fetcher, max_body_bytes=10_000).process(message)

    assert fetcher.calls == [listed]
    assert isinstance(page, FetchedPage) and page.entry.url == "https://a.example/reviews/guitar"
    assert page.url == "https://a.example/reviews/guitar"  # not redirected: the canonical URL
