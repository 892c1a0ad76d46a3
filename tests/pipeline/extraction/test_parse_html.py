"""parse_html: the page parsed once, as trafilatura's load_html would, and whether libxml2
cut it at its nesting limit (not at another of its limits)."""

from __future__ import annotations

import pytest
from lxml import etree
from trafilatura.utils import load_html

from corpus import generate_site_pages
from pipeline.extraction.parse import parse_html

BODY = "<body><p>x</p></body></html>"
ODD_PAGES = {
    "fragment, not saying it is HTML": "<p>one paragraph</p>",
    "two blocks, not saying it is HTML": "<div><p>one</p></div><div><p>two</p></div>",
    "encoding declaration": f'<?xml version="1.0" encoding="utf-8"?><html>{BODY}',
    "doctype first": f'<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">\n<html>{BODY}',
    "self-closing html": f"<html/>\n{BODY}",
    "whitespace only": "   ",
    "comments and processing instructions": "<html><body><!-- c --><?pi x?><p>x</p></body></html>",
    "nested past the limit": "<html><body>" + "<div>" * 300 + "<p>x</p>" + "</div>" * 300,
}


def serialized(tree: etree._Element | None) -> bytes | None:
    return None if tree is None else etree.tostring(tree)


@pytest.mark.parametrize("html", ODD_PAGES.values(), ids=ODD_PAGES.keys())
def test_the_tree_is_the_one_trafilatura_would_parse(html: str) -> None:
    assert serialized(parse_html(html).tree) == serialized(load_html(html))


def test_real_pages_parse_as_trafilatura_parses_them() -> None:
    for page in generate_site_pages(3, 2, seed=5, size_kb=(60, 120)):
        loaded = parse_html(page.html)
        assert serialized(loaded.tree) == serialized(load_html(page.html))
        assert not loaded.depth_cut


@pytest.mark.parametrize(
    "huge",
    [
        "<p>" + "word " * 2_100_000 + "</p>",
        "<!--" + "x" * 10_500_000 + "--><p>Article.</p>",
        "<p title='" + "x" * 10_500_000 + "'>Article.</p>",
    ],
    ids=["text node", "comment", "attribute"],
)
def test_a_10_mb_node_stops_the_parser_at_its_buffer_limit_not_its_depth_limit(
    huge: str,
) -> None:
    """libxml2 reports both limits as ERR_RESOURCE_LIMIT: the buffer limit was taken for
    the depth cut, and the page for one nested too deep to flatten."""
    html = f"<html><body>{huge}</body></html>"
    parser = etree.HTMLParser()
    etree.fromstring(html, parser)
    errors = parser.error_log
    assert [e.type_name for e in errors] == ["ERR_RESOURCE_LIMIT"]  # the parser did stop
    assert not parse_html(html).depth_cut
