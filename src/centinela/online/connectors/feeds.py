"""Live pull of public RSS 2.0 and Atom feeds through ``centinela.http`` (conditional GET)."""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from centinela import http
from centinela.online.connectors.base import ConnectorError, RawPost, parse_time

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_TAGS = re.compile(r"<[^>]+>")
MAX_BYTES = 5_000_000


@dataclass
class FeedResult:
    """Outcome of one pull: HTTP status, the posts (empty on 304) and the new validators."""

    status: int
    posts: list[RawPost] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None


def _clean(value: str | None) -> str:
    text = _TAGS.sub(" ", html.unescape(value or ""))
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _rfc822(value: str | None, where: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return parse_time(value, where)
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def parse_feed(body: bytes, url: str, fetched_at: dt.datetime) -> tuple[str | None, list[RawPost]]:
    """Parse an RSS 2.0 or Atom document into posts; raise ConnectorError on bad XML."""
    if b"<!ENTITY" in body[:4096]:
        raise ConnectorError(f"{url}: feed declares XML entities; refused")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ConnectorError(f"{url}: not valid XML ({exc})") from exc
    posts: list[RawPost] = []
    if root.tag == f"{ATOM}feed":
        title = root.findtext(f"{ATOM}title")
        for n, entry in enumerate(root.findall(f"{ATOM}entry"), 1):
            link = next((e.get("href") for e in entry.findall(f"{ATOM}link")
                         if e.get("rel") in (None, "alternate")), None)
            body_text = entry.findtext(f"{ATOM}content") or entry.findtext(f"{ATOM}summary")
            text = "\n".join(p for p in (_clean(entry.findtext(f"{ATOM}title")), _clean(body_text)) if p)
            if not text:
                continue
            when = entry.findtext(f"{ATOM}published") or entry.findtext(f"{ATOM}updated")
            posts.append(RawPost(
                context="social", source_kind="feed", platform="atom", source=url, text=text, fetched_at=fetched_at,
                native_id=entry.findtext(f"{ATOM}id") or link, url=link,
                author=entry.findtext(f"{ATOM}author/{ATOM}name"),
                posted_at=parse_time(when, f"{url} entry {n}"), extra={"feed": title},
            ))
        return title, posts
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ConnectorError(f"{url}: neither RSS 2.0 (<rss><channel>) nor Atom (<feed>)")
    title = channel.findtext("title")
    for n, item in enumerate(channel.findall("item"), 1):
        body_text = item.findtext(f"{CONTENT}encoded") or item.findtext("description")
        text = "\n".join(p for p in (_clean(item.findtext("title")), _clean(body_text)) if p)
        if not text:
            continue
        link = (item.findtext("link") or "").strip() or None
        posts.append(RawPost(
            context="social", source_kind="feed", platform="rss", source=url, text=text, fetched_at=fetched_at,
            native_id=(item.findtext("guid") or "").strip() or link, url=link,
            author=item.findtext(f"{DC}creator") or item.findtext("author"),
            posted_at=_rfc822(item.findtext("pubDate"), f"{url} item {n}"), extra={"feed": title},
        ))
    return title, posts


def pull(url: str, fetched_at: dt.datetime, etag: str | None = None,
         last_modified: str | None = None) -> FeedResult:
    """GET ``url`` with If-None-Match / If-Modified-Since; 304 returns no posts."""
    if not url.startswith(("http://", "https://")):
        raise ConnectorError(f"{url}: only http(s) feeds can be pulled")
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        resp = http.get(url, headers=headers)
    except Exception as exc:  # network errors: say which feed and why
        raise ConnectorError(f"{url}: request failed ({type(exc).__name__}: {exc})") from exc
    if resp.status_code == 304:
        return FeedResult(status=304, etag=etag, last_modified=last_modified)
    if resp.status_code != 200:
        raise ConnectorError(f"{url}: HTTP {resp.status_code}")
    if len(resp.content) > MAX_BYTES:
        raise ConnectorError(f"{url}: feed larger than {MAX_BYTES} bytes")
    title, posts = parse_feed(resp.content, url, fetched_at)
    return FeedResult(status=200, posts=posts, etag=resp.headers.get("etag"),
                      last_modified=resp.headers.get("last-modified"), title=title)
