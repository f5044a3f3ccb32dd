"""Connectors: one class per source format, all yielding ``RawPost`` with provenance."""

from __future__ import annotations

import json
from pathlib import Path

from centinela.online.connectors.base import Connector, ConnectorError, RawPost, parse_time
from centinela.online.connectors.tabular import DarknetConnector, PostsConnector
from centinela.online.connectors.telegram import TelegramConnector
from centinela.online.connectors.whatsapp import WhatsAppConnector

CONNECTORS: dict[str, type] = {
    "posts": PostsConnector,
    "telegram": TelegramConnector,
    "whatsapp": WhatsAppConnector,
    "darknet": DarknetConnector,
}

__all__ = ["CONNECTORS", "Connector", "ConnectorError", "RawPost", "detect_format", "get_connector",
           "parse_time"]


def detect_format(path: Path) -> str:
    """Guess the connector of an export file from its extension and first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return "whatsapp"
    if suffix in (".jsonl", ".ndjson"):
        return "posts"
    if suffix == ".json":
        head = path.read_text(encoding="utf-8-sig")[:4096]
        if '"messages"' in head or '"chats"' in head:
            return "telegram"
        try:
            json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError:
            return "posts"
        return "telegram"
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline().lower()
        return "darknet" if "title" in header and "vendor" in header else "posts"
    raise ConnectorError(f"{path.name}: unknown export format (use --format "
                         f"{'|'.join(CONNECTORS)})")


def get_connector(kind: str) -> Connector:
    """Return a connector instance by name."""
    if kind not in CONNECTORS:
        raise ConnectorError(f"unknown format {kind!r}; choose one of {sorted(CONNECTORS)}")
    return CONNECTORS[kind]()
