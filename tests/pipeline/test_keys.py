"""Row keys stay short enough for every store to index them."""

from __future__ import annotations

from pipeline.keys import KEY_BYTES, bounded_key


def test_a_short_key_is_itself() -> None:
    assert bounded_key("feed-a https://example.com/a") == "feed-a https://example.com/a"
    assert bounded_key("é" * (KEY_BYTES // 2)) == "é" * (KEY_BYTES // 2)


def test_a_long_key_is_bounded_and_keeps_its_start() -> None:
    key = bounded_key("https://example.com/" + "a" * 6000)
    assert len(key.encode()) <= KEY_BYTES
    assert key.startswith("https://example.com/aaa")


def test_long_keys_differ_when_their_texts_differ_anywhere() -> None:
    head = "x" * 5000
    assert bounded_key(head + "1") != bounded_key(head + "2")
    assert bounded_key(head + "1") == bounded_key(head + "1")


def test_multibyte_and_surrogate_text_is_cut_on_a_character() -> None:
    for text in ["€" * 3000, "\ud800" * 3000, "a" + "😀" * 2000]:
        key = bounded_key(text)
        assert len(key.encode("utf-8", "surrogatepass")) <= KEY_BYTES
