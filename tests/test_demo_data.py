"""Integrity checks for the offline demo data in demo/ (standard library + lxml only).

These tests check the data against itself (manifest <-> pages <-> feeds) and against the two
seed articles it was built from; they do not run the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import lxml.etree
import lxml.html
import pytest

DEMO = Path(__file__).resolve().parents[1] / "demo"
MANIFEST = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
PAGES = MANIFEST["pages"]
FEEDS = MANIFEST["feeds"]
BY_URL = {p["url"]: p for p in PAGES}
# The repo keeps a copy of ../shared/seeds so tests run on any machine.
SEEDS_DIR = Path(__file__).resolve().parents[1] / "bench" / "data" / "dedup" / "seeds"
SEED_A = "000_5158934509886b21.txt"  # seed 1: one article, then the residue block
SEED_B = "002_892e853b522700a9.txt"  # seed 2: end of the residue block, then a second article
SEED_RESIDUE = [
    "News Summary Repeat (3') - DC",
    "Titre Aval",
    "Science Weekly",
    "Share your story",
    "Send your Videos and Photos to us• National",
]

ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
DC = "{http://purl.org/dc/elements/1.1/}"


def norm(text: str) -> str:
    return " ".join(text.split())


def strip_tracking(url: str) -> str:
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def load_page(page: dict) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((DEMO / page["file"]).read_bytes())


def container(page: dict) -> lxml.html.HtmlElement:
    found = load_page(page).xpath(page["article_container_xpath"])
    assert len(found) == 1, f"{page['id']}: container xpath matches {len(found)} elements"
    return found[0]


def element_texts(root: lxml.html.HtmlElement) -> set[str]:
    return {norm(el.text_content()) for el in root.iter() if isinstance(el.tag, str)}


def feed_entries(feed: dict) -> list[dict]:
    """Link, title, id, published, author and summary of every entry (raises if unparsable)."""
    path = DEMO / feed["file"]
    kind = feed["kind"]
    if kind == "jsonfeed":
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        return [
            dict(
                link=i["url"],
                title=i["title"],
                id=i["id"],
                published=i["date_published"],
                author=(i.get("authors") or [{}])[0].get("name"),
                summary=i.get("summary"),
            )
            for i in data["items"]
        ]
    root = lxml.etree.parse(str(path)).getroot()
    if kind == "rss":
        assert root.tag == "rss" and root.get("version") == "2.0"
        return [
            dict(
                link=i.findtext("link"),
                title=i.findtext("title"),
                id=i.findtext("guid"),
                published=i.findtext("pubDate"),
                author=i.findtext("author") or i.findtext(f"{DC}creator"),
                summary=i.findtext("description"),
            )
            for i in root.iter("item")
        ]
    if kind == "atom":
        assert root.tag == f"{ATOM}feed"
        out = []
        for e in root.iter(f"{ATOM}entry"):
            links = [
                ln.get("href")
                for ln in e.findall(f"{ATOM}link")
                if ln.get("rel", "alternate") == "alternate"
            ]
            out.append(
                dict(
                    link=links[0],
                    title=e.findtext(f"{ATOM}title"),
                    id=e.findtext(f"{ATOM}id"),
                    published=e.findtext(f"{ATOM}published"),
                    author=e.findtext(f"{ATOM}author/{ATOM}name"),
                    summary=e.findtext(f"{ATOM}summary"),
                )
            )
        return out
    if kind == "sitemap":
        assert root.tag == f"{SM}urlset"
        return [
            dict(
                link=u.findtext(f"{SM}loc"),
                title=u.findtext(f"{NEWS}news/{NEWS}title"),
                id=u.findtext(f"{SM}loc"),
                published=u.findtext(f"{NEWS}news/{NEWS}publication_date"),
                author=None,
                summary=None,
            )
            for u in root.iter(f"{SM}url")
        ]
    raise AssertionError(f"unknown feed kind {kind!r}")


def seed_paragraphs() -> tuple[list[str], str, list[str]]:
    """Seed 1 paragraphs (up to the residue block), seed 2 headline and paragraphs."""
    files = [SEEDS_DIR / SEED_A, SEEDS_DIR / SEED_B]
    assert all(f.is_file() for f in files), f"seed articles missing from {SEEDS_DIR}"
    first = files[0].read_text(encoding="utf-8")
    second = files[1].read_text(encoding="utf-8")
    blocks = [b.strip() for b in first.split("\n\n") if b.strip()]
    cut = next(i for i, b in enumerate(blocks) if b.startswith("News Summary Repeat"))
    seam = "\n".join(blocks[cut:]).replace("\\'", "'") + second.split("\n", 1)[0]
    assert [ln.strip() for ln in seam.splitlines() if ln.strip()] == SEED_RESIDUE
    rest = [b.strip() for b in second.split("\n", 1)[1].split("\n\n") if b.strip()]
    return blocks[:cut], rest[0], rest[1:]


# ---------------------------------------------------------------------------- files


def test_every_manifest_file_exists() -> None:
    for item in PAGES + FEEDS:
        assert (DEMO / item["file"]).is_file(), item["file"]
    assert (DEMO / "README.md").is_file()


def test_manifest_is_consistent() -> None:
    ids = [p["id"] for p in PAGES]
    urls = [p["url"] for p in PAGES]
    assert len(set(ids)) == len(ids) and len(set(urls)) == len(urls)
    assert {f["kind"] for f in FEEDS} >= {"rss", "atom", "jsonfeed", "sitemap"}
    feed_names = {f["name"] for f in FEEDS}
    for p in PAGES:
        parts = urlsplit(p["url"])
        assert parts.scheme == "http" and parts.netloc == p["publisher"]
        assert p["file"] == f"sites/{parts.netloc}{parts.path}", "file must mirror host + path"
        assert p["feeds"] and set(p["feeds"]) <= feed_names
        assert p["article_paragraphs"], p["id"]
        assert p["expected_topics"] and p["expected_entities"], p["id"]
        assert p["duplicate_of_url"] is None or p["duplicate_of_url"] in BY_URL
        assert not set(map(norm, p["residue_lines"])) & set(map(norm, p["article_paragraphs"])), p[
            "id"
        ]


def test_page_head_metadata() -> None:
    for p in PAGES:
        doc = load_page(p)
        assert doc.xpath("//link[@rel='canonical']/@href") == [p["url"]], p["id"]
        for xp in (
            "//title",
            "//meta[@name='description']/@content",
            "//meta[@name='author']/@content",
            "//meta[@property='og:title']/@content",
            "//meta[@property='og:site_name']/@content",
            "//meta[@property='article:published_time']/@content",
        ):
            assert doc.xpath(xp), f"{p['id']}: missing {xp}"
        assert doc.xpath("//meta[@property='og:title']/@content")[0] == p["title"]
        # page chrome exists but sits outside the article container
        tree = doc.getroottree()
        (box,) = doc.xpath(p["article_container_xpath"])
        box_path = tree.getpath(box)
        for chrome in (
            "//nav",
            "//footer",
            "//*[contains(@id, 'cookie') or contains(@class, 'cookie')]",
        ):
            found = doc.xpath(chrome)
            assert found, f"{p['id']}: no {chrome}"
            for el in found:
                el_path = tree.getpath(el)
                assert not el_path.startswith(box_path + "/"), (
                    f"{p['id']}: {chrome} inside the container"
                )
                assert not box_path.startswith(el_path + "/"), (
                    f"{p['id']}: container inside {chrome}"
                )


# ---------------------------------------------------------------------------- feeds


@pytest.mark.parametrize("feed", FEEDS, ids=[f["name"] for f in FEEDS])
def test_feed_parses_and_links_resolve(feed: dict) -> None:
    entries = feed_entries(feed)
    assert entries, feed["name"]
    assert [e["link"] for e in entries] == feed["links"]
    for e in entries:
        page = BY_URL.get(strip_tracking(e["link"]))
        assert page is not None, f"{feed['name']}: {e['link']} is not a manifest page"
        assert feed["name"] in page["feeds"] and page["feed_links"][feed["name"]] == e["link"]
        assert e["title"] and e["id"] and e["published"], e
        if feed["kind"] != "sitemap":  # the news sitemap format has no author or summary
            assert e["author"] and e["summary"], e


def test_every_page_is_listed_in_its_feeds() -> None:
    listed: dict[str, set[str]] = {}
    for feed in FEEDS:
        for e in feed_entries(feed):
            listed.setdefault(strip_tracking(e["link"]), set()).add(feed["name"])
    for p in PAGES:
        assert listed.get(p["url"]) == set(p["feeds"]), p["id"]


def test_tracking_variant_and_syndicated_copies() -> None:
    tracked = [
        (f["name"], e["link"]) for f in FEEDS for e in feed_entries(f) if "utm_" in e["link"]
    ]
    assert tracked, "no utm_* link variant in any feed"
    for name, link in tracked:
        assert "utm_source=rss" in link and "utm_medium=feed" in link
        others = [
            f["name"] for f in FEEDS if f["name"] != name and strip_tracking(link) in f["links"]
        ]
        assert others, f"{link}: its plain form is listed in no other feed"
    copies = [p for p in PAGES if p["duplicate_of_url"]]
    assert len(copies) >= 2
    for copy in copies:
        original = BY_URL[copy["duplicate_of_url"]]
        assert copy["publisher"] != original["publisher"] and copy["title"] != original["title"]
        assert not set(copy["feeds"]) & set(original["feeds"]), copy["id"]
        shared = set(map(norm, copy["article_paragraphs"])) & set(
            map(norm, original["article_paragraphs"])
        )
        assert len(shared) >= len(copy["article_paragraphs"]) // 2, copy["id"]
        assert len(copy["article_paragraphs"]) < len(original["article_paragraphs"]), copy["id"]


# ---------------------------------------------------------------------------- article containers


@pytest.mark.parametrize("page", PAGES, ids=[p["id"] for p in PAGES])
def test_paragraphs_and_residue_inside_container(page: dict) -> None:
    box = container(page)
    texts = element_texts(box)
    for para in page["article_paragraphs"]:
        assert norm(para) in texts, f"paragraph not a block of the container: {para[:60]}"
    for line in page["residue_lines"]:
        assert norm(line) in texts, f"residue line not a block of the container: {line}"
    assert page["residue_lines"], page["id"]
    whole = norm(box.text_content())
    for block in page["article_paragraphs"] + page["residue_lines"]:
        assert whole.count(norm(block)) >= 1


def test_publishers_repeat_their_residue_lines() -> None:
    for pub in MANIFEST["publishers"]:
        pages = [p for p in PAGES if p["publisher"] == pub["domain"]]
        assert pages and 2 <= len(pub["repeated_residue_lines"]) <= 4, pub["domain"]
        for line in pub["repeated_residue_lines"]:
            carrying = [p for p in pages if line in p["residue_lines"]]
            assert len(carrying) * 2 >= len(pages), (pub["domain"], line)


def test_seed_b_page_carries_the_seed_residue_before_the_article() -> None:
    (page,) = [p for p in PAGES if p["source_seed"] == SEED_B]
    assert page["residue_lines"][:5] == SEED_RESIDUE
    blocks = [norm(el.text_content()) for el in container(page) if isinstance(el.tag, str)]
    first_para = blocks.index(norm(page["article_paragraphs"][0]))
    for line in SEED_RESIDUE:
        assert blocks.index(line) < first_para, line


# ---------------------------------------------------------------------------- seeds


def test_seed_a_verbatim_in_its_page() -> None:
    paras, _, _ = seed_paragraphs()
    (page,) = [p for p in PAGES if p["source_seed"] == SEED_A]
    assert page["article_paragraphs"] == paras
    texts = element_texts(container(page))
    for para in paras:
        assert norm(para) in texts, para[:60]
    assert not set(SEED_RESIDUE) & set(page["residue_lines"])


def test_seed_b_verbatim_in_its_page() -> None:
    _, headline, paras = seed_paragraphs()
    (page,) = [p for p in PAGES if p["source_seed"] == SEED_B]
    assert page["title"] == headline
    assert page["article_paragraphs"] == paras
    box = container(page)
    texts = element_texts(box)
    assert norm(headline) in texts
    for para in paras:
        assert norm(para) in texts, para[:60]


def test_syndicated_copy_of_seed_a_is_the_same_story() -> None:
    paras, _, _ = seed_paragraphs()
    (original,) = [p for p in PAGES if p["source_seed"] == SEED_A]
    copies = [p for p in PAGES if p["duplicate_of_url"] == original["url"]]
    assert len(copies) == 1
    kept = [q for q in paras if q in copies[0]["article_paragraphs"]]
    assert len(paras) - 5 <= len(kept) < len(paras)
