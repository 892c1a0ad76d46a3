"""flatten: markup nested past libxml2's limit brought within it, the page's own
structure kept; parse_html(...).depth_cut: whether the parser cut a page."""

from __future__ import annotations

import pytest

from corpus import generate_site_pages
from pipeline.extraction.nesting import FLAT_DEPTH, MAX_TAGS, flatten
from pipeline.extraction.parse import parse_html

ARTICLE = (
    "<article><h1>Title</h1><p>First paragraph.</p><p>Second paragraph.</p></article>"
    "<nav><a href='/'>Home</a></nav>"
)


def page(body: str) -> str:
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


def wrapped(depth: int, opening: str = "<div>", inner: str = ARTICLE) -> str:
    return page(opening * depth + inner + "</div>" * depth)


@pytest.mark.parametrize(("depth", "cut"), [(200, False), (300, True), (100_000, True)])
def test_the_parser_stops_at_256_nested_elements(depth: int, cut: bool) -> None:
    assert parse_html(wrapped(depth)).depth_cut is cut


@pytest.mark.parametrize("depth", [300, 5_000, 40_000])
@pytest.mark.parametrize("same", [True, False], ids=["one tag repeated", "each its own id"])
def test_wrappers_go_and_the_structure_inside_them_stays(depth: int, same: bool) -> None:
    html = page("".join("<div>" if same else f'<div id="w{i}">' for i in range(depth)))
    html = html.replace("</body>", ARTICLE + "</div>" * depth + "</body>")
    flat = flatten(html)
    assert flat is not None
    assert not parse_html(flat).depth_cut
    assert "<body><div" in flat  # <body> is never unwrapped
    assert ARTICLE in flat  # the article and the navigation beside it, as they were
    # the deepest path kept: html, body, the innermost wrappers, article, p
    assert flat.count("<div") == (1 if same else FLAT_DEPTH - 4)


def test_nesting_with_text_at_every_level_is_cut_at_the_flat_depth() -> None:
    html = wrapped(600, opening="<div>level ")
    flat = flatten(html)
    assert flat is not None
    assert not parse_html(flat).depth_cut
    assert flat.count("<div>") == FLAT_DEPTH - 2  # <html> and <body> are the first two
    assert flat.count("level ") == 600  # no text lost
    assert "<br>Title<br><br>First paragraph.<br><br>Second paragraph.<br>" in flat


def test_void_elements_and_implied_ends_do_not_count_as_nesting() -> None:
    html = page("<p>one<br><img src=x>" * 400 + "<ul>" + "<li>item" * 400 + "</ul>")
    assert flatten(html) == html


def test_real_pages_are_left_as_they_are() -> None:
    for generated in generate_site_pages(3, 2, seed=5, size_kb=(60, 120)):
        assert flatten(generated.html) == generated.html


def test_a_page_with_too_many_tags_is_not_walked() -> None:
    html = page("".join(f'<div id="w{i}">' for i in range(MAX_TAGS)) + ARTICLE)
    assert flatten(html) is None
