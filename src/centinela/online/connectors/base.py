"""The connector interface: every source yields ``RawPost`` records with provenance."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from centinela.lib import clock


class ConnectorError(ValueError):
    """Bad input: the message says which file, line or field and why."""


@dataclass
class RawPost:
    """One post, message or listing as read from a source, before classification."""

    source_kind: str  # posts, telegram, whatsapp, darknet, feed
    platform: str
    source: str  # file name or URL
    text: str
    fetched_at: dt.datetime  # naive UTC
    native_id: str | None = None
    author: str | None = None
    author_id: str | None = None
    posted_at: dt.datetime | None = None  # naive UTC
    url: str | None = None
    extra: dict = field(default_factory=dict)
    # where the text comes from, which sets the question the classifier answers
    # (online.decide): market, chat, social or ad
    context: str = "social"

    def post_key(self) -> str:
        """Idempotency key: the native id when the source has one, else a content hash."""
        if self.native_id:
            raw = f"{self.source_kind}|{self.platform}|{self.native_id}"
        else:
            when = self.posted_at.isoformat() if self.posted_at else ""
            raw = f"{self.source_kind}|{self.platform}|{self.author or ''}|{when}|{self.text.strip()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:40]

    def provenance(self) -> dict:
        """Where this post came from (stored with it)."""
        out = {"source_kind": self.source_kind, "source": self.source, "context": self.context,
               "native_id": self.native_id, "fetched_at": self.fetched_at.isoformat()}
        out.update({k: v for k, v in self.extra.items() if v is not None})
        return out


class Connector(Protocol):
    """A file connector: ``read`` yields posts of one export file."""

    kind: str
    context: str  # the default context of its posts: market, chat, social or ad

    def read(self, path: Path, fetched_at: dt.datetime) -> Iterator[RawPost]: ...


_ISO_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def parse_time(value: str | None, where: str) -> dt.datetime | None:
    """Parse ISO 8601 (offset optional: none means Lima) or epoch seconds into naive UTC."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text), dt.UTC).replace(tzinfo=None)
    try:
        return clock.parse_time(text)
    except ValueError:
        raise ConnectorError(f"{where}: time {text!r} is not ISO 8601") from None
