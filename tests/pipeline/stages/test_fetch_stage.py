"""Fetch stage: pages from the fetcher, WARC bodies without it, charset handling."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from connectors.http.base import FetchResponse, Purpose
from pipeline.errors import FetchError
from pipeline.models import FeedEntry, FetchedPage
from pipeline.stages.fetch import FetchStage, RecentUpdates


class RecordingFetcher:
    """A fetcher double that answers from a dict (or ``answer(url, etag)``) and records
    what was asked."""

    def __init__(
        self,
        responses: dict[str, FetchResponse],
        answer: Callable[[str, str | None], FetchResponse] | None = None,
    ) -> None:
        self.responses = responses
        self.answer = answer
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
        return self.answer(url, etag) if self.answer else self.responses[url]

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


class ConditionalServer:
    """Answers for one page like a server: 304 to its current ETag, else the page with
    it. ``hold`` keeps a request in flight until set."""

    def __init__(self, etag: str) -> None:
        self.etag = etag
        self.hold = threading.Event()
        self.hold.set()
        self.in_flight = threading.Event()

    def __call__(self, url: str, etag: str | None) -> FetchResponse:
        self.in_flight.set()
        assert self.hold.wait(5)
        if etag == self.etag:
            return FetchResponse(url=url, status=304, body=b"", headers={"etag": self.etag})
        return FetchResponse(url=url, status=200, body=b"<p>new</p>", headers={"etag": self.etag})


def conditional(etag: str) -> tuple[RecordingFetcher, ConditionalServer]:
    server = ConditionalServer(etag)
    return RecordingFetcher({}, answer=server), server


def sent(fetcher: RecordingFetcher) -> list[str | None]:
    """The ETags the fetcher was asked with, in order."""
    return [etag for etag, _ in fetcher.validators]


def update_of(url: str, feed: str, etag: str | None = '"v1"') -> FeedEntry:
    """An entry of ``feed`` listed as updated, carrying its stored page's ETag."""
    return entry(url).model_copy(update={"feed": feed, "etag": etag})


def test_a_second_feeds_same_update_asks_with_what_the_first_fetch_got() -> None:
    """Two feeds list one changed page, both with the validators stored before: the
    first fetch gets the page whole, the second asks with its new ETag and gets a 304.
    A new entry (no validators) is fetched whole: it has its feed to credit."""
    url = "https://a.example/s"
    fetcher, _ = conditional('"v2"')
    stage = FetchStage(fetcher, max_body_bytes=10_000)

    [page] = stage.process(update_of(url, "a"))
    assert stage.process(update_of(url, "b")) == []
    [new] = stage.process(update_of(url, "c", etag=None))

    assert isinstance(page, FetchedPage) and page.etag == '"v2"'
    assert isinstance(new, FetchedPage)
    assert sent(fetcher) == ['"v1"', '"v2"', None]


def test_the_same_update_waits_for_its_fetch_in_flight() -> None:
    """The second feed's update comes while the first is still being fetched: it waits,
    then asks with the validators the first got (a 304), instead of a second page."""
    url = "https://a.example/s"
    fetcher, server = conditional('"v2"')
    server.hold.clear()
    stage = FetchStage(fetcher, max_body_bytes=10_000, deadline=5)
    results: dict[str, list[object]] = {}

    def fetch(feed: str) -> None:
        results[feed] = list(stage.process(update_of(url, feed)))

    first = threading.Thread(target=fetch, args=("a",))
    first.start()
    assert server.in_flight.wait(5)
    second = threading.Thread(target=fetch, args=("b",))
    second.start()
    second.join(0.2)
    assert second.is_alive() and sent(fetcher) == ['"v1"']  # waiting, not fetching
    server.hold.set()
    first.join(5)
    second.join(5)

    assert sent(fetcher) == ['"v1"', '"v2"']
    assert len(results["a"]) == 1 and results["b"] == []


def test_what_an_update_got_stands_in_for_a_while_only() -> None:
    """Past ``keep_seconds`` (the page it fetched should be stored by then, or failed),
    an update asks with the validators it carries again; a failed fetch stands in for
    nothing."""
    url = "https://a.example/s"
    now = [0.0]
    fetcher, _ = conditional('"v2"')
    stage = FetchStage(
        fetcher, max_body_bytes=10_000, recent=RecentUpdates(keep_seconds=60, clock=lambda: now[0])
    )
    stage.process(update_of(url, "a"))
    now[0] = 61.0
    assert len(list(stage.process(update_of(url, "b")))) == 1
    assert sent(fetcher) == ['"v1"', '"v1"']

    failing = FetchStage(RecordingFetcher({}), max_body_bytes=10_000, recent=stage.recent)
    with pytest.raises(KeyError):
        failing.process(update_of("https://a.example/gone", "a"))
    assert stage.recent.claim(("https://a.example/gone", ('"v1"', None)))[0]


def test_remembered_updates_are_bounded() -> None:
    recent = RecentUpdates(max_entries=2)
    for n in range(5):
        key = (f"https://a.example/{n}", ('"v1"', None))
        owner, update = recent.claim(key)
        assert owner
        recent.settle(key, update, ('"v2"', None))
    assert [recent.claim((f"https://a.example/{n}", ('"v1"', None)))[0] for n in (3, 4, 0)] == [
        False,
        False,
        True,
    ]
