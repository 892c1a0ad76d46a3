"""The live status page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``).

``newsflow run`` serves the demo publishers plus one feed whose article title
is markup and one whose only page is gone. The rendered page must show every
feed with its health, the recent articles with their tags and the duplicate
clusters, the dead letter, render the hostile title as text (no element
injected, no script run), keep updating itself, say so while the config file
on disk is rejected, and say so when the store stops answering (while still
showing the service and its feeds). Outside CI a machine
without Chromium skips these tests (``bash deploy/local/chromium.sh``
installs it); in CI (``CI=true``) they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from service_support import (
    DEMO_FEEDS,
    HOSTILE_TITLE,
    MANIFEST,
    FeedSite,
    ServiceProcess,
    sqlite_file_locked,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.browser

HOSTILE_KEY = "<img src=x onerror=window.__pwned=1>"
GONE_URL = "{base}/sites/late.example/gone-story.html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def _require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} missing (bash deploy/local/chromium.sh installs them)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"headless Chromium is required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="newsflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service's files: its config, its store ``news.db`` and the feed site."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def service(root: Path) -> Iterator[ServiceProcess]:
    site = FeedSite(root / "site")
    feed_url, _ = site.add_hostile_feed()
    (root / "site" / "feeds" / "gone.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Gone</title>'
        f"<item><title>Gone</title><link>{GONE_URL.format(base=site.base)}</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    settings = write_config(root / "newsflow.yaml", site, root / "news.db")
    write_config(
        root / "newsflow.yaml", site, root / "news.db",
        feeds=[*settings["feeds"], {"name": "late-wire", "url": feed_url},
               {"name": "gone-wire", "url": site.feed_url("gone.xml")}],
    )  # fmt: skip
    running = ServiceProcess(root / "newsflow.yaml")
    try:
        total = len(MANIFEST["pages"]) + 1
        wait_until(lambda: running.stored() == total, 90, "every article")
        wait_until(
            lambda: running.json("/api/status")["dead_letters"]["total"] == 1, 30, "the letter"
        )
        yield running
    finally:
        running.close()
        site.close()


def _load(browser: Any, url: str) -> float:
    """Open ``url``; seconds until the page rendered its first status document."""
    from selenium.webdriver.support.ui import WebDriverWait

    started = time.monotonic()
    browser.get(url)
    WebDriverWait(browser, 20).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-loaded") == "true"
    )
    return time.monotonic() - started


def test_the_page_shows_every_feed_and_the_recent_articles(
    browser: Any, service: ServiceProcess
) -> None:
    seconds = _load(browser, service.url + "/")
    print(f"\nstatus page rendered in {seconds * 1000:.0f} ms")
    assert seconds < 5
    rows = browser.find_elements("css selector", "#feeds tbody tr")
    names = {row.get_attribute("data-feed") for row in rows}
    assert names == {*DEMO_FEEDS, "late-wire", "gone-wire"}
    for row in rows:
        assert "ok" in row.find_elements("tag name", "td")[1].text
    counts = service.json("/api/status")["articles"]
    assert browser.find_element("id", "article-counts").text == (
        f"({counts['total'] + counts['duplicates']} stored: {counts['total']} articles,"
        f" {counts['duplicates']} duplicates)"
    )
    articles = browser.find_elements("css selector", "#articles li.article")
    assert len(articles) == len(MANIFEST["pages"]) + 1  # fewer than the 20 listed at most
    titles = {a.find_element("tag name", "a").text for a in articles}
    expected = {page["title"] for page in MANIFEST["pages"]}
    assert expected <= titles
    chips = browser.find_elements("css selector", "#articles .chip")
    assert any(c.text == "politics" for c in chips)
    assert any(c.text.startswith("Iran (") for c in chips)
    clusters = browser.find_elements("css selector", "#clusters .cluster")
    assert clusters and all(len(c.find_elements("tag name", "li")) == 2 for c in clusters)
    assert browser.find_element("id", "state").text == "ready"
    assert browser.find_elements("css selector", "#chart svg polyline")


def test_the_page_shows_the_dead_letter_with_its_tries_and_next_try(
    browser: Any, service: ServiceProcess
) -> None:
    _load(browser, service.url + "/")
    assert browser.find_element("id", "dead-letter-count").text == "(1 dead letter waiting)"
    [row] = browser.find_elements("css selector", "#dead-letters tbody tr")
    cells = [td.text for td in row.find_elements("tag name", "td")]
    when, stage, reason, tries, next_try, error = cells
    assert (stage, reason, tries, next_try) == ("fetch", "http_404", "1", "on replay")
    assert when.startswith("20") and "gone-story.html" in error


def test_a_hostile_title_is_shown_as_text_and_runs_nothing(
    browser: Any, service: ServiceProcess
) -> None:
    _load(browser, service.url + "/")
    links = browser.find_elements("css selector", "#articles li.article > a")
    assert any(link.text == HOSTILE_TITLE for link in links), [a.text for a in links][:5]
    assert browser.find_elements("css selector", "#articles img, #articles b") == []
    assert browser.execute_script("return window.__pwned === undefined") is True
    for link in links:
        assert link.get_attribute("href").startswith("http://127.0.0.1:")


def test_the_page_keeps_itself_current(browser: Any, service: ServiceProcess) -> None:
    _load(browser, service.url + "/")
    first = browser.find_element("id", "updated").text
    wait_until(lambda: browser.find_element("id", "updated").text != first, 15, "a refresh")


def test_a_rejected_config_file_is_shown_as_text_until_it_is_fixed(
    browser: Any, service: ServiceProcess, root: Path
) -> None:
    """The file is edited into one that does not validate (with markup in a key, which the
    reason quotes) and reloaded: the page says so, as text; restored, the notice goes."""
    config = root / "newsflow.yaml"
    good = config.read_text(encoding="utf-8")
    _load(browser, service.url + "/")
    notice = browser.find_element("id", "config-notice")
    assert not notice.is_displayed()
    try:
        config.write_text(good + f"'{HOSTILE_KEY}': 1\n", encoding="utf-8")
        service.process.send_signal(signal.SIGHUP)
        wait_until(lambda: notice.is_displayed(), 20, "the rejected file shown")
        assert notice.text.startswith(f"Config file {config} rejected ")
        assert f"{config}: {HOSTILE_KEY}: unknown key. Still running the config loaded " in (
            notice.text
        )
        assert notice.find_elements("css selector", "*") == []
        assert browser.execute_script("return window.__pwned === undefined") is True
        assert browser.find_element("id", "state").text == "ready", "it still works"
    finally:
        config.write_text(good, encoding="utf-8")
        service.process.send_signal(signal.SIGHUP)
    wait_until(lambda: not notice.is_displayed(), 20, "the notice cleared")


def test_a_change_waiting_for_a_restart_is_shown_until_the_file_agrees_again(
    browser: Any, service: ServiceProcess, root: Path
) -> None:
    """A valid edit of a setting only a restart applies (the fetch timeout) is logged once;
    the page keeps saying which setting does not run yet, until the edit is undone."""
    config = root / "newsflow.yaml"
    good = config.read_text(encoding="utf-8")
    edited = yaml.safe_load(good)
    edited.setdefault("fetch", {})["timeout"] = 7.5
    _load(browser, service.url + "/")
    notice = browser.find_element("id", "config-notice")
    assert not notice.is_displayed()
    try:
        config.write_text(yaml.safe_dump(edited), encoding="utf-8")
        service.process.send_signal(signal.SIGHUP)
        wait_until(lambda: notice.is_displayed(), 20, "the pending restart shown")
        assert notice.text == (
            f"Config file {config} changes fetch.timeout: only a restart applies it; "
            "the running value stays in effect."
        )
        assert notice.get_attribute("data-state") == "restart"
        assert browser.find_element("id", "state").text == "ready"
    finally:
        config.write_text(good, encoding="utf-8")
        service.process.send_signal(signal.SIGHUP)
    wait_until(lambda: not notice.is_displayed(), 20, "the notice cleared")


def test_a_store_that_stops_answering_is_shown_with_the_feeds_still_there(
    browser: Any, service: ServiceProcess, root: Path
) -> None:
    """Last: the store is locked by another connection, and then released."""
    _load(browser, service.url + "/")
    notice = browser.find_element("id", "store-notice")
    assert not notice.is_displayed()
    with sqlite_file_locked(root / "news.db"):
        wait_until(lambda: "is not answering" in notice.text, 40, "the stalled store shown")
        assert notice.text.startswith("Store unavailable: store ") and notice.is_displayed()
        assert browser.find_element("id", "state").text == "store unavailable"
        rows = browser.find_elements("css selector", "#feeds tbody tr")
        assert {row.get_attribute("data-feed") for row in rows} >= set(DEMO_FEEDS)
    wait_until(lambda: not notice.is_displayed(), 30, "the store shown answering again")
    assert browser.find_element("id", "state").text == "ready"
