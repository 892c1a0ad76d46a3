"""The trafilatura boundary: one parse gives the main text and the page metadata.

:func:`parse_html` parses the page as trafilatura's ``load_html`` would, once,
and keeps what only the parse knows: whether libxml2 cut the page at its
nesting limit (:mod:`pipeline.extraction.nesting`). Its tree goes to
``bare_extraction(with_metadata=True)``, which returns text and metadata
together (``extract`` and ``extract_metadata`` separately would parse twice)
and copies the tree it is given (0.13 ms for a 112 KB page whose parse costs
0.96), so a second run on the same tree costs no second parse. trafilatura answers
failure with ``None`` and a log line; here it becomes an
:class:`~pipeline.errors.ExtractionError` with a reason.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lxml.etree import HTMLParser, LxmlError
from lxml.html import HtmlElement, fromstring
from trafilatura import bare_extraction
from trafilatura.settings import Document
from trafilatura.utils import HTML_PARSER, is_dubious_html, repair_faulty_html

from pipeline.config import ExtractConfig
from pipeline.errors import ExtractionError
from pipeline.extraction.nesting import cut_at_depth_limit

_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
)
_MARKUP = re.compile(
    r"<\s*(html|head|body|div|p|article|main|section|span|h[1-6])\b", re.IGNORECASE
)
MARKUP_SCAN_CHARS = 64 * 1024
MAX_NUL_SHARE = 0.01
"""Share of NULs in the sample above which content is binary (images, archives: far more)."""
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
FUTURE_WINDOW = timedelta(days=3 * 365)  # let htmldate report future dates, so they can be flagged


_PARSERS = threading.local()


@dataclass(frozen=True)
class LoadedHtml:
    """A page parsed once, for trafilatura and for what only its parse tells."""

    tree: HtmlElement | None
    """What trafilatura's ``load_html`` would have made of the page (None: not HTML to it)."""
    depth_cut: bool
    """libxml2 stopped at its nesting limit: the tree holds only what came before."""


@dataclass(frozen=True)
class ParsedPage:
    """What trafilatura found, before residue removal."""

    text: str
    title: str | None
    author: str | None
    date: str | None
    url: str | None
    description: str | None
    site_name: str | None
    image: str | None
    metadata_lost: bool = False
    """trafilatura failed on the page's metadata, so the text was extracted without it."""

    def digest(self) -> str:
        """What identifies the page's content before newsflow filters it: its title and text.

        The same page gives the same digest on any later extraction, even when the
        learned boilerplate (and so the filtered text) has moved in between.
        """
        payload = f"{self.title or ''}\n{self.text}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(payload).hexdigest()[:32]


def check_html(content: str | bytes, *, url: str) -> None:
    """Refuse what is plainly not HTML (binary formats, text without markup).

    Binary content is told by its magic number or by NULs making up more than
    :data:`MAX_NUL_SHARE` of the sample; a stray NUL or two in a page (a CMS
    glitch) does not lose the article (:func:`parse_page` drops them).
    """
    head = content[:16] if isinstance(content, bytes) else content[:16].encode("utf-8", "replace")
    sample = _sample(content)
    if head.startswith(_BINARY_MAGIC) or sample.count("\x00") > len(sample) * MAX_NUL_SHARE:
        raise ExtractionError(
            f"not an HTML page (binary content): {url}", url=url, reason="not_html"
        )
    if not _MARKUP.search(_sample(content)):
        raise ExtractionError(f"not an HTML page (no markup): {url}", url=url, reason="not_html")


def _sample(content: str | bytes) -> str:
    chunk = content[:MARKUP_SCAN_CHARS]
    return chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk


def trafilatura_options(config: ExtractConfig, *, now: datetime) -> dict[str, Any]:
    """The options newsflow runs trafilatura with (benchmarks use the same for the baseline)."""
    return {
        "with_metadata": True,
        "include_comments": False,
        "include_tables": config.include_tables,
        "favor_precision": config.favor_precision,
        "date_extraction_params": {
            "original_date": True,
            "extensive_search": True,
            "max_date": (now + FUTURE_WINDOW).strftime("%Y-%m-%d"),
            "outputformat": DATE_FORMAT,
        },
    }


def load_page(html: str, *, url: str) -> LoadedHtml:
    """``html`` checked (:func:`check_html`) and parsed (:func:`parse_html`)."""
    check_html(html, url=url)
    return parse_html(html.replace("\x00", ""))  # lxml refuses a string with a NUL in it


def parse_html(html: str) -> LoadedHtml:
    """``html`` parsed as trafilatura's ``load_html`` parses a string (the same repairs,
    fallback to bytes and rejection of a tree too small for a page not saying it is
    HTML), with this thread's copy of trafilatura's parser: an lxml parser is not
    thread-safe, and its error log, read for the depth cut, is its last parse's."""
    beginning = html[:50].lower()
    dubious = is_dubious_html(beginning)
    html = repair_faulty_html(html, beginning)
    parser = _parser()
    try:
        tree: HtmlElement | None = fromstring(html, parser=parser)
    except (ValueError, LxmlError):  # ValueError: a string with an encoding declaration
        tree = None
    if tree is None or len(tree) < 1:
        tree = _from_bytes(html, parser)
    depth_cut = cut_at_depth_limit(parser.error_log)
    if tree is not None and dubious and len(tree) < 2:
        tree = None
    return LoadedHtml(tree, depth_cut)


def _parser() -> HTMLParser:
    parser: HTMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = HTML_PARSER.copy()
    return parser


def _from_bytes(html: str, parser: HTMLParser) -> HtmlElement | None:
    try:
        tree: HtmlElement = fromstring(html.encode("utf-8", "surrogatepass"), parser=parser)
    except (LxmlError, ValueError):
        return None
    return tree


def parse_page(page: LoadedHtml, *, url: str, config: ExtractConfig, now: datetime) -> ParsedPage:
    """Run trafilatura on ``page`` (:func:`load_page`); raise ExtractionError when there is
    no article text."""
    if page.tree is None:
        raise ExtractionError(f"no article text found in {url}", url=url, reason="empty")
    options = trafilatura_options(config, now=now)
    document = _extraction(page.tree, url, options)
    metadata_lost = False
    if document is None:
        # trafilatura discards the whole page when its metadata raises (htmldate on a date
        # with a "+99:00" offset): the text alone is still the article.
        document = _extraction(page.tree, url, {**options, "with_metadata": False})
        metadata_lost = document is not None
    if document is None or document.text is None:
        raise ExtractionError(f"no article text found in {url}", url=url, reason="empty")
    return ParsedPage(
        text=document.text,
        title=document.title,
        author=document.author,
        date=document.date,
        url=document.url,
        description=document.description,
        site_name=document.sitename,
        image=document.image,
        metadata_lost=metadata_lost,
    )


def _extraction(tree: HtmlElement, url: str, options: dict[str, Any]) -> Document | None:
    """trafilatura's document when it found article text; None when it found none (it
    works on a copy of ``tree``)."""
    try:
        document = bare_extraction(tree, url=url, **options)
    except (LxmlError, ValueError, TypeError, RecursionError) as exc:
        raise ExtractionError(f"cannot parse page {url}: {exc}", url=url, reason="parse") from None
    if not isinstance(document, Document) or not document.text or not document.text.strip():
        return None
    return document
