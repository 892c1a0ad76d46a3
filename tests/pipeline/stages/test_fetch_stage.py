"""Fetch stage: pages from the fetcher, WARC bodies without it, charset handling."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from connectors.http.base import FetchResponse, Purpose
from pipeline.errors import FetchError
from pipeline.models import FeedEntry, FetchedPage
from pipeline.stages.fetch import FetchStage


class RecordingFetcher:
    """A fetcher double that answers from a dict and records what was asked."""

    def __init__(self, responses: dict[str, FetchResponse]) -> None:
        self.responses = responses
        self.calls: list[str] = []
        self.validators: list[tuple[str | None, str | None]] = []

    def fetch(
        self,
        url: str,
        *,
        purpose: Purpose = "article",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResponse:
        self.calls.append(url)
        self.validators.append((etag, last_modified))
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


def pages(outcome: str) -> float:
    return REGISTRY.get_sample_value("newsflow_fetch_pages_total", {"outcome": outcome}) or 0.0


def test_an_update_is_fetched_conditionally_and_a_304_ends_it_without_a_page() -> None:
    """An entry carrying its stored page's validators sends them; 304 Not Modified means
    the stored page is current: nothing goes on, and no error (it is no failure)."""
    url = "https://a.example/s"
    fetcher = RecordingFetcher({url: FetchResponse(url=url, status=304, body=b"")})
    update = entry(url).model_copy(update={"etag": '"v1"', "last_modified": "Wed, 01 May 2024"})
    before = (pages("not_modified"), pages("fetched"))

    assert list(FetchStage(fetcher, max_body_bytes=10_000).process(update)) == []

    assert fetcher.validators == [('"v1"', "Wed, 01 May 2024")]
    assert (pages("not_modified"), pages("fetched")) == (before[0] + 1, before[1])


def test_a_fetched_page_carries_the_validators_it_was_served_with() -> None:
    url = "https://a.example/s"
    served = FetchResponse(url=url, status=200, body=b"<p>x</p>", headers={"etag": '"v2"'})
    fetched = pages("fetched")

    [page] = FetchStage(RecordingFetcher({url: served}), max_body_bytes=10_000).process(entry(url))

    assert isinstance(page, FetchedPage) and (page.etag, page.last_modified) == ('"v2"', None)
    assert pages("fetched") == fetched + 1
