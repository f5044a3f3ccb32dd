"""Live pull connector against a real local HTTP server (RSS 2.0, Atom, conditional GET)."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from centinela.online.connectors import ConnectorError
from centinela.online.connectors.feeds import pull
from centinela.online.models import OnlineFeed, OnlinePost
from centinela.online.service import pull_feed

FIX = Path(__file__).parent / "fixtures" / "online"
NOW = dt.datetime(2025, 12, 1)


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_GET(self):  # noqa: N802 - http.server API
        type(self).requests.append(dict(self.headers))
        name = {"/rss": "feed_rss.xml", "/atom": "feed_atom.xml"}.get(self.path)
        if self.path == "/broken":
            body, status = b"<rss><channel><item>", 200
        elif name is None:
            body, status = b"not here", 404
        else:
            body, status = (FIX / name).read_bytes(), 200
        etag = f'"v1-{self.path}"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        if status == 200:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Mon, 10 Nov 2025 20:00:00 GMT")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.requests = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_rss_pull_then_304(server):
    first = pull(f"{server}/rss", NOW)
    assert first.status == 200 and first.etag == '"v1-/rss"' and first.title == "Clasificados Norte"
    item = first.posts[0]
    assert item.native_id == "aviso-1" and item.author == "anon51"
    assert item.text.startswith("Fentanilo ampollas sin receta\nVendo fentanilo en ampollas")
    assert "<b>" not in item.text and item.posted_at == dt.datetime(2025, 11, 10, 19, 5)
    second = pull(f"{server}/rss", NOW, etag=first.etag, last_modified=first.last_modified)
    assert second.status == 304 and second.posts == []
    assert _Handler.requests[-1]["If-None-Match"] == '"v1-/rss"'
    assert _Handler.requests[-1]["If-Modified-Since"] == "Mon, 10 Nov 2025 20:00:00 GMT"
    assert _Handler.requests[-1]["User-Agent"].startswith("Centinela/")


def test_atom_pull(server):
    res = pull(f"{server}/atom", NOW)
    assert [p.native_id for p in res.posts] == ["urn:board:post:71", "urn:board:post:72"]
    assert res.posts[0].url == "http://example.test/board/71" and res.posts[0].author == "rx_plug"


def test_errors_say_which_feed_and_why(server):
    with pytest.raises(ConnectorError, match=r"/missing: HTTP 404"):
        pull(f"{server}/missing", NOW)
    with pytest.raises(ConnectorError, match=r"/broken: not valid XML"):
        pull(f"{server}/broken", NOW)
    with pytest.raises(ConnectorError, match="only http"):
        pull("file:///etc/passwd", NOW)


def test_pull_feed_stores_offer_and_remembers_validators(server, session):
    report = pull_feed(session, f"{server}/rss", NOW)
    session.commit()
    assert report.feed_status == 200 and report.read == 2 and report.positive == 1
    feed = session.get(OnlineFeed, f"{server}/rss")
    assert feed.etag == '"v1-/rss"'
    again = pull_feed(session, f"{server}/rss", NOW)
    assert again.feed_status == 304 and again.read == 0
    posts = session.scalars(select(OnlinePost)).all()
    assert len(posts) == 1 and posts[0].provenance["source"] == f"{server}/rss"
