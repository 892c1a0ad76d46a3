"""``newsflow feeds check``: one row per feed, bad feeds never stop the others, nothing written."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main

PAGES = {
    "/rss.xml": (
        200,
        "application/rss+xml",
        b'<rss version="2.0"><channel><item><link>/a</link></item>'
        b"<item><link>/b</link></item></channel></rss>",
    ),
    "/login": (200, "text/html", b"<!DOCTYPE html><html><body>Sign in</body></html>"),
    "/bomb.xml": (
        200,
        "application/xml",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;</rss>',
    ),
    "/garbled.xml": (200, "application/xml", b"<rss><channel><item><link>"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in PAGES:
            self.send_error(404)
            return
        status, content_type, body = PAGES[self.path]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Last-Modified", "Wed, 01 May 2024 10:00:00 GMT")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_config(tmp_path: Path, base: str) -> Path:
    local = tmp_path / "local.json"
    local.write_text(
        '{"version": "https://jsonfeed.org/version/1.1", "items": '
        '[{"id": "1", "url": "https://example.com/j1"}]}'
    )
    config = {
        "storage": {"url": f"sqlite:///{tmp_path / 'never-created.db'}"},
        "fetch": {"allow_private_networks": True, "min_host_interval": 0, "timeout": 5},
        "feeds": [
            {"name": "good", "url": f"{base}/rss.xml"},
            {"name": "html", "url": f"{base}/login"},
            {"name": "bomb", "url": f"{base}/bomb.xml"},
            {"name": "missing", "url": f"{base}/gone.xml"},
            {"name": "garbled", "url": f"{base}/garbled.xml"},
            {"name": "local", "url": str(local)},
            {"name": "off", "url": f"{base}/rss.xml", "enabled": False},
        ],
    }
    path = tmp_path / "newsflow.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def table(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines()[1:]:
        if line.strip() and not line.endswith("failed"):
            cells = line.split()
            rows[cells[0]] = cells
    return rows


def test_feeds_check_prints_every_feed(
    tmp_path: Path, base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(write_config(tmp_path, base)), "feeds", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0].split() == [
        "NAME",
        "STATUS",
        "KIND",
        "ENTRIES",
        "LAST",
        "MODIFIED",
        "ERROR",
    ]
    rows = table(out)
    assert rows["good"][:4] == ["good", "ok", "rss", "2"]
    assert "Wed, 01 May 2024 10:00:00 GMT" in " ".join(rows["good"])
    assert rows["local"][:4] == ["local", "ok", "jsonfeed", "1"]
    assert rows["off"][:2] == ["off", "disabled"]
    for name in ("html", "bomb", "missing", "garbled"):
        assert rows[name][1] == "error", rows[name]
    assert "xml_entities" in " ".join(rows["bomb"])
    assert "http_404" in " ".join(rows["missing"])
    assert "malformed" in " ".join(rows["garbled"])
    assert out.rstrip().endswith("7 feeds checked, 4 failed")
    assert not (tmp_path / "never-created.db").exists()


def test_feeds_check_one_feed(
    tmp_path: Path, base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, base))
    assert main(["--config", config, "feeds", "check", "--feed", "good"]) == 0
    assert set(table(capsys.readouterr().out)) == {"good"}
    assert main(["--config", config, "feeds", "check", "--feed", "nope"]) == 1
    assert "no configured feed named 'nope'" in capsys.readouterr().err
