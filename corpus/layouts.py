"""HTML templates: one function per layout family, each with its own metadata habits.

Residue lines sit inside the article container, marked up like content (that
is why extractors keep them). The families differ in where the date lives
(JSON-LD, Open Graph, ``<time>``, nothing), whether the canonical link is
absolute, relative, missing or points to a syndication partner, and how
residue is marked up.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape

from corpus.prose import Article


@dataclass
class Parts:
    site_name: str
    domain: str
    url: str
    language: str
    article: Article
    published_at: datetime
    top: list[tuple[str, int]]
    middle: list[tuple[str, int]]  # (line, placed after body paragraph N)
    bottom: list[str]
    markup: str
    chrome: list[str]
    most_read: list[str]
    image: str

    @property
    def path(self) -> str:
        return self.url.split(self.domain, 1)[1]

    @property
    def chrome_strings(self) -> list[str]:
        """Strings the page shows outside the article: an extractor must not return them."""
        return [*self.chrome[:4], *self.most_read]


def residue_html(parts: Parts, text: str) -> str:
    t = escape(text)
    return {
        "p": f"<p>{t}</p>",
        "div": f'<div class="rte-line">{t}</div>',
        "strong": f"<p><strong>{t}</strong></p>",
        "h4": f"<h4>{t}</h4>",
        "link": f'<p><a href="/go/{zlib.crc32(text.encode()) % 9973}">{t}</a></p>',
    }[parts.markup]


def body_html(parts: Parts, paragraph_tag: str = "p") -> str:
    """The article body with residue interleaved where the page plan puts it."""
    article = parts.article
    out = [residue_html(parts, line) for line, _ in parts.top]
    out.append(f'<p class="standfirst">{escape(article.standfirst)}</p>')
    for index, sentences in enumerate(article.paragraphs):
        if index in article.subheadings:
            out.append(f"<h2>{escape(article.subheadings[index])}</h2>")
        out.append(f"<{paragraph_tag}>{escape(' '.join(sentences))}</{paragraph_tag}>")
        out.extend(residue_html(parts, line) for line, after in parts.middle if after == index + 1)
    out.extend(residue_html(parts, line) for line in parts.bottom)
    return "\n".join(out)


def _head(parts: Parts, extra: str) -> str:
    return (
        f'<head><meta charset="utf-8"><title>{escape(parts.article.title)} | '
        f"{escape(parts.site_name)}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta property="og:title" content="{escape(parts.article.title)}">'
        f'<meta property="og:image" content="{parts.image}">'
        f'<meta property="og:site_name" content="{escape(parts.site_name)}">'
        f'<meta name="description" content="{escape(parts.article.standfirst)}">'
        f"{extra}<style>body{{font-family:sans-serif}}.nav li{{display:inline}}</style></head>"
    )


def _json_ld(parts: Parts) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": parts.article.title,
        "datePublished": parts.published_at.isoformat(),
        "author": [{"@type": "Person", "name": a} for a in parts.article.authors],
        "publisher": {"@type": "Organization", "name": parts.site_name},
        "image": parts.image,
    }
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _nav(parts: Parts, cls: str) -> str:
    sections = ["Home", "News", "Politics", "Business", "Science", "Sport", "Culture", "Opinion"]
    items = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in sections)
    return f'<nav class="{cls}"><ul class="nav">{items}</ul></nav>'


def _aside(parts: Parts) -> str:
    items = "".join(
        f'<li><a href="/a/{i}">{escape(h)}</a></li>' for i, h in enumerate(parts.most_read)
    )
    return f'<aside class="sidebar"><h3>{escape(parts.chrome[4])}</h3><ol>{items}</ol></aside>'


def _footer(parts: Parts) -> str:
    links = "".join(
        f'<a href="/legal/{i}">{escape(c)}</a> ' for i, c in enumerate(parts.chrome[1:4])
    )
    return (
        f'<footer><div class="footer-links">{links}</div>'
        f"<p>© 2024 {escape(parts.site_name)}. {escape(parts.chrome[0])}.</p></footer>"
        f'<div id="cookie-banner" class="cookie-consent">'
        f"<button>{escape(parts.chrome[-1])}</button></div>"
    )


def _authors(parts: Parts) -> str:
    return " and ".join(parts.article.authors)


def _document(parts: Parts, extra_head: str, body: str, *, body_class: str = "") -> str:
    """The page around a layout's body: doctype, language, head with metadata."""
    cls = f' class="{body_class}"' if body_class else ""
    return (
        f'<!DOCTYPE html><html lang="{parts.language}">{_head(parts, extra_head)}'
        f"<body{cls}>{body}</body></html>"
    )


def classic(parts: Parts) -> str:
    extra = f'<link rel="canonical" href="{parts.url}">{_json_ld(parts)}'
    body = (
        f'<div id="header"><a class="logo" href="/">{escape(parts.site_name)}</a>'
        f"{_nav(parts, 'menu')}</div>"
        f'<div id="content"><h1 class="headline">{escape(parts.article.title)}</h1>'
        f'<div class="article-body">{body_html(parts)}</div></div>{_aside(parts)}{_footer(parts)}'
    )
    return _document(parts, extra, body)


def semantic(parts: Parts) -> str:
    stamp = parts.published_at.isoformat()
    extra = (
        f'<link rel="canonical" href="{parts.url}">'
        f'<meta property="article:published_time" content="{stamp}">'
        f'<meta name="author" content="{escape(_authors(parts))}">'
    )
    body = (
        f"<header>{_nav(parts, 'site-nav')}</header><main><article>"
        f"<header><h1>{escape(parts.article.title)}</h1>"
        f'<p class="meta"><time datetime="{stamp}">{parts.published_at:%d %B %Y}</time></p>'
        f'</header><div class="article__content">{body_html(parts)}</div>'
        f"</article>{_aside(parts)}</main>{_footer(parts)}"
    )
    return _document(parts, extra, body)


def blog(parts: Parts) -> str:
    extra = f'<link rel="canonical" href="{parts.path}">'
    body = (
        f'{_nav(parts, "top-bar")}<div class="wrap"><div class="post">'
        f'<h2 class="post-title">{escape(parts.article.title)}</h2>'
        f'<div class="post-meta"><span class="author vcard">{escape(_authors(parts))}</span> '
        f'<time class="entry-date" datetime="{parts.published_at.isoformat()}">'
        f"{parts.published_at:%Y-%m-%d}</time></div>"
        f'<div class="entry-content">{body_html(parts)}</div></div>{_aside(parts)}</div>'
        f"{_footer(parts)}"
    )
    return _document(parts, extra, body, body_class="single")


def magazine(parts: Parts) -> str:
    """Syndicated copy: its canonical link points to the partner that wrote the story."""
    partner = f"https://partner-wire.example/story/{zlib.crc32(parts.url.encode()) % 100000}"
    extra = f'<link rel="canonical" href="{partner}">{_json_ld(parts)}'
    body = (
        f'{_nav(parts, "masthead")}<section class="story">'
        f'<h1 class="story__title">{escape(parts.article.title)}</h1>'
        f'<figure class="story__lead"><img src="{parts.image}" alt=""></figure>'
        f'<div class="story__body">{body_html(parts)}</div></section>'
        f"{_aside(parts)}{_footer(parts)}"
    )
    return _document(parts, extra, body)


def portal(parts: Parts) -> str:
    """No date anywhere in the page: only the feed knows when it was published."""
    extra = f'<meta property="og:url" content="{parts.url}">'
    body = (
        f'<div class="container">{_nav(parts, "navbar")}<div class="row"><div class="col-main">'
        f'<h1 itemprop="headline">{escape(parts.article.title)}</h1>'
        f'<div itemprop="articleBody">{body_html(parts)}</div></div>'
        f'<div class="col-side">{_aside(parts)}</div></div></div>{_footer(parts)}'
    )
    return _document(parts, extra, body)


def broadcast(parts: Parts) -> str:
    extra = (
        f'<link rel="canonical" href="{parts.url}">'
        f'<meta name="date" content="{parts.published_at:%Y-%m-%d}">'
    )
    body = (
        f'{_nav(parts, "channel-nav")}<main id="main-content"><div class="tv-story">'
        f'<h1 class="tv-story__title">{escape(parts.article.title)}</h1>'
        f'<div class="rich-text">{body_html(parts)}</div></div></main>'
        f"{_aside(parts)}{_footer(parts)}"
    )
    return _document(parts, extra, body)


LAYOUTS: dict[str, Callable[[Parts], str]] = {
    "classic": classic,
    "semantic": semantic,
    "blog": blog,
    "magazine": magazine,
    "portal": portal,
    "broadcast": broadcast,
}


def pad_to_size(html: str, rng: random.Random, *, target: int, parts: Parts) -> str:
    """Grow a page to about ``target`` bytes with what real pages carry: state scripts and menus."""
    missing = target - len(html.encode("utf-8"))
    if missing <= 0:
        return html
    menu_items: list[str] = []
    state: list[dict[str, object]] = []
    size = 0
    while size < missing:
        item = {
            "id": rng.randint(10**5, 10**6),
            "title": rng.choice(parts.most_read),
            "href": f"/a/{rng.randint(1, 10**6)}",
            "section": rng.choice(["news", "sport", "tech"]),
        }
        state.append(item)
        if len(menu_items) < 150:
            menu_items.append(f'<li><a href="{item["href"]}">{escape(str(item["title"]))}</a></li>')
            size += len(menu_items[-1])
        # the JSON of one item: its values plus ~62 bytes of keys, numbers and punctuation
        size += 62 + len(str(item["title"]).encode("utf-8")) + len(str(item["href"]))
    script = f"<script>window.__STATE__ = {json.dumps(state, ensure_ascii=False)};</script>"
    mega_menu = f'<div class="mega-menu" hidden><ul>{"".join(menu_items)}</ul></div>'
    return html.replace("</body>", f"{mega_menu}{script}</body>", 1)
