"""Message contracts: JSON round trips, forward compatibility, clear decode errors."""

import json

import pytest

from pipeline.errors import MessageError
from pipeline.models import (
    MESSAGE_TYPES,
    SCHEMA_VERSION,
    FeedEntry,
    FetchedPage,
    article_id,
    carriable,
    decode,
    json_schemas,
)


def entry() -> FeedEntry:
    return FeedEntry(feed="wire", feed_kind="rss", url="https://a.example/story", title="T")


def test_round_trip_through_json() -> None:
    page = FetchedPage(entry=entry(), url="https://a.example/story", html="<p>x</p>")
    assert decode(FetchedPage, page.to_json()) == page


def test_messages_are_utf8_json_bytes_as_pydantic_writes_them() -> None:
    html = '<p>Zürich — «quoted» "text"\n\u2028 \U0001f4f0</p>'
    page = FetchedPage(entry=entry(), url="https://a.example/story", html=html)
    data = page.to_json()
    assert data == page.model_dump_json().encode("utf-8")
    assert json.loads(data)["html"] == html


def test_unknown_fields_are_ignored_so_adding_fields_never_breaks_consumers() -> None:
    data = json.loads(entry().to_json())
    data["added_in_a_later_version"] = {"x": 1}
    assert decode(FeedEntry, json.dumps(data)).url == "https://a.example/story"


@pytest.mark.parametrize("payload", [b"\xff\xfe not json", b"{}", b'{"feed": 3}', b"[]"])
def test_undecodable_messages_raise_message_error(payload: bytes) -> None:
    with pytest.raises(MessageError, match="not a valid FeedEntry"):
        decode(FeedEntry, payload)


def test_every_topic_has_a_schema_with_its_version() -> None:
    schemas = json_schemas()
    assert set(schemas) == {m.topic for m in MESSAGE_TYPES}
    for schema in schemas.values():
        assert "schema_version" in schema["properties"]


def test_article_ids_are_stable_and_distinct() -> None:
    assert article_id("https://a.example/1") == article_id("https://a.example/1")
    assert article_id("https://a.example/1") != article_id("https://a.example/2")


def test_a_message_holding_a_lone_surrogate_still_serialises() -> None:
    """UTF-8 cannot carry one; pydantic refused the whole message (and the run ended)."""
    entry = FeedEntry(feed="f", feed_kind="rss", url="https://e.com/a", summary="x\ud800y")

    decoded = decode(FeedEntry, entry.to_json())

    assert decoded.summary == "x\ufffdy"
    assert decoded.url == entry.url


@pytest.mark.parametrize(
    ("text", "carried"),
    [
        ("plain ascii", "plain ascii"),
        (
            "curly \u201cquotes\u201d, caf\u00e9, \U0001f600",
            "curly \u201cquotes\u201d, caf\u00e9, \U0001f600",
        ),
        ("\ud800 leading high", "\ufffd leading high"),
        ("trailing low \udfff", "trailing low \ufffd"),
        ("caf\u00e9 \udc80 and \ud83d alone", "caf\u00e9 \ufffd and \ufffd alone"),
        ("", ""),
    ],
)
def test_carriable_replaces_lone_surrogates_and_nothing_else(text: str, carried: str) -> None:
    assert carriable(text) == carried
    assert carriable(text).encode("utf-8").decode("utf-8") == carried  # UTF-8 carries it


def test_a_message_of_a_later_schema_version_is_refused_not_read_as_this_one() -> None:
    data = json.loads(entry().to_json())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(MessageError, match="later than the 1 this newsflow reads") as caught:
        decode(FeedEntry, json.dumps(data))
    assert caught.value.reason == "schema_version"
