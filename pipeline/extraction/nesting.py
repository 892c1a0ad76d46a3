"""Markup nested deeper than the HTML parser goes, flattened so the article is found.

libxml2's HTML parser (lxml's, so trafilatura's) stops at 256 nested elements:
the page is cut there, what lies deeper and everything after it is dropped
(with lxml's ``huge_tree``, which trafilatura does not set, the limit is 2,048).
An article inside 300 wrapper ``<div>`` s, or 100,000 on a hostile page, came
out as no text at all, reported as ``empty``.

The one parse of the page (:func:`~pipeline.extraction.parse.parse_html`) tells
whether it was cut: :func:`cut_at_depth_limit` reads libxml2's report of it in
the parser's error log (not any resource limit: a 10 MB text node stops the
parser at its buffer limit, which flattening cannot help). A page cut there is
extracted again flattened, even when its first extraction found text: that
text is only what came before the cut. :func:`flatten` brings the page within
:data:`FLAT_DEPTH`: a long run of one tag becomes one
tag (a regular expression, so 100,000 ``<div>`` s cost milliseconds), then a walk
over the tags unwraps wrapper elements (no content but one child element) on the
too deep paths, outermost first, so that the page's own structure inside them
stays for trafilatura to tell article from navigation; what is still deeper
loses its tags but not its text (a ``<br>`` stands for a block). The walk
follows the parser's tree closely enough (void elements, a ``<p>`` or ``<li>``
closing the one before it, end tags matched near the top of the stack); half the
parser's limit is kept as a margin for elements the parser adds itself (a
``<tbody>`` in every table).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

PARSER_MAX_DEPTH = 256
"""libxml2's nesting limit for the HTML parser without XML_PARSE_HUGE."""
FLAT_DEPTH = PARSER_MAX_DEPTH // 2
"""Deepest element :func:`flatten` keeps."""
MAX_TAGS = 50_000
"""Tags (``<``) a page may hold, once runs of one tag are collapsed, for :func:`flatten`
to walk it (~0.1 s of CPU at most; a 112 KB news page has ~2,000). A 15 MB page
(``fetch.max_body_bytes``) may hold 3 million."""
LONG_RUN = 64
"""Times one tag repeated in a row (``<div><div>...``, ``</div></div>...``) that are
collapsed into one before the walk, at the speed of a regular expression: wrapper
upon wrapper, what a hostile page is made of; a real page's runs are far shorter."""
END_TAG_REACH = 16
"""How far down the stack an end tag looks for its element; a stray end tag is
ignored, as the parser does, at a bounded cost."""

_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(script|style|textarea|title)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    r"|<(/?)([A-Za-z][^\s/>]*)[^>]*>",
    re.DOTALL | re.IGNORECASE,
)
_RUN = re.compile(rf"(<[A-Za-z/][^<>]{{0,200}}>)(?:\s*\1){{{LONG_RUN - 1},}}")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr", "basefont", "bgsound", "frame", "keygen"}
)
_CLOSES_ITS_LIKE = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th"})
_BLOCKS = frozenset(
    {"p", "div", "article", "section", "main", "header", "footer", "nav", "aside", "li"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "tr", "td", "th"}
    | {"ul", "ol", "dl", "dt", "dd", "figure", "figcaption", "form", "address"}
)
"""Elements whose tags, unwrapped for their depth, leave a ``<br>``: their text would
otherwise run into the next block's ("TitleFirst paragraph")."""
_DOCUMENT = frozenset({"html", "body"})


DEPTH_LIMIT_MESSAGE = "Excessive depth in document"
"""How libxml2's report of its nesting limit begins ("...: 256, use XML_PARSE_HUGE option").
Its error type, ``ERR_RESOURCE_LIMIT`` (libxml2 2.14), is shared with the buffer limit a
10 MB text node, comment or attribute hits ("Resource limit exceeded: Buffer size limit
exceeded"): only the message tells them apart."""


def cut_at_depth_limit(errors: Iterable[etree._LogEntry]) -> bool:
    """Whether the parse that logged ``errors`` (a parser's ``error_log``) stopped at
    libxml2's nesting limit."""
    return any(error.message.startswith(DEPTH_LIMIT_MESSAGE) for error in errors)


@dataclass(slots=True)
class _Element:
    depth: int
    parent: _Element | None
    name: str
    reach: int = 0
    """The depth of the deepest element inside it."""
    children: int = 0
    content: bool = False
    """Whether it holds text (or a void element, a script, a comment) of its own."""
    dropped_above: int = 0
    keep: bool = True
    trace: str = ""
    """What stands for its tags when they go: a ``<br>`` for a block unwrapped for its
    depth; nothing for a wrapper (its child's tags follow its own)."""


def flatten(html: str) -> str | None:
    """``html`` nested at most :data:`FLAT_DEPTH` deep; None when it holds more than
    :data:`MAX_TAGS` tags (too costly to walk).

    Runs of :data:`LONG_RUN` or more of one tag become one tag first.
    Wrappers go first: on a path too deep, an element whose only content is one
    child element is unwrapped (the outermost first, until the path is short
    enough), so the page's own structure, inside the wrappers, stays as it is.
    Only when that is not enough are elements deeper than the limit unwrapped."""
    html = _RUN.sub(r"\1", html)
    if html.count("<") > MAX_TAGS:
        return None
    tags = _walk(html)
    kept: list[str] = []
    last = 0
    for token, element, opening in tags:
        if element is None:
            continue
        if opening:
            _decide(element)
        if not element.keep:
            kept += (html[last : token.start()], element.trace)
            last = token.end()
    kept.append(html[last:])
    return "".join(kept)


def _decide(element: _Element) -> None:
    """Whether ``element`` keeps its tags (its ancestors decided already)."""
    parent = element.parent
    if parent is not None:
        element.dropped_above = parent.dropped_above + (not parent.keep)
    if element.depth - element.dropped_above > FLAT_DEPTH:
        element.keep = False
        element.trace = "<br>" if element.name in _BLOCKS else ""
        return
    too_deep_below = element.reach - element.dropped_above > FLAT_DEPTH
    wrapper = element.children == 1 and not element.content and element.name not in _DOCUMENT
    element.keep = not (too_deep_below and wrapper)


def _walk(html: str) -> list[tuple[re.Match[str], _Element | None, bool]]:
    """Every tag of ``html`` with the element it opens or closes (None: a void element, a
    stray end tag, a comment or script) and whether it opens it."""
    tags: list[tuple[re.Match[str], _Element | None, bool]] = []
    stack: list[_Element] = []
    last = 0
    for token in _TOKEN.finditer(html):
        name = token.group(3)
        top = stack[-1] if stack else None
        if top is not None and (name is None or html[last : token.start()].strip()):
            top.content = True
        last = token.end()
        if name is None:
            continue
        name = name.lower()
        if token.group(2):
            tags.append((token, _close(stack, name), False))
        elif name in _VOID:
            if top is not None:
                top.content = True
        else:
            if top is not None and name in _CLOSES_ITS_LIKE and top.name == name:
                _pop(stack, len(stack) - 1)
            element = _Element(len(stack) + 1, stack[-1] if stack else None, name)
            element.reach = element.depth
            if element.parent is not None:
                element.parent.children += 1
            stack.append(element)
            tags.append((token, element, True))
    _pop(stack, 0)
    return tags


def _close(stack: list[_Element], name: str) -> _Element | None:
    """Close ``name``: the element closed, None for a stray end tag (left to the parser)."""
    for index in range(len(stack) - 1, max(-1, len(stack) - 1 - END_TAG_REACH), -1):
        if stack[index].name == name:
            element = stack[index]
            _pop(stack, index)
            return element
    return None


def _pop(stack: list[_Element], index: int) -> None:
    """Close the elements from ``index`` up, each telling its parent how deep it reached."""
    while len(stack) > index:
        element = stack.pop()
        if element.parent is not None:
            element.parent.reach = max(element.parent.reach, element.reach)
