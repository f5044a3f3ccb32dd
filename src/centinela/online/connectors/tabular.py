"""Posts (CSV / JSON Lines) and darknet listing CSVs."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from centinela.online.connectors.base import ConnectorError, RawPost, parse_time

POST_FIELDS = ("platform", "author", "text", "time", "url", "post_id", "author_id", "context")
CONTEXTS = ("market", "chat", "social", "ad")
LISTING_FIELDS = ("title", "description", "vendor", "price", "ships_from", "ships_to", "market",
                  "listing_id", "url", "listed_at")


def _rows(path: Path, allowed: tuple[str, ...], required: tuple[str, ...]) -> Iterator[tuple[str, dict]]:
    """Yield (location, row) from a CSV or JSON Lines file, rejecting unknown columns."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path.name}:{n}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConnectorError(f"{where}: not valid JSON ({exc.msg})") from exc
                if not isinstance(row, dict):
                    raise ConnectorError(f"{where}: each line must be a JSON object")
                _check_columns(where, row.keys(), allowed, required)
                yield where, {k: (None if v is None else str(v)) for k, v in row.items()}
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise ConnectorError(f"{path.name}: empty file (no header row)")
        _check_columns(f"{path.name}:1", reader.fieldnames, allowed, required)
        for n, row in enumerate(reader, 2):
            if None in row:
                raise ConnectorError(f"{path.name}:{n}: more values than header columns")
            yield f"{path.name}:{n}", row


def _check_columns(where: str, cols, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    cols = [c.strip() for c in cols]
    unknown = [c for c in cols if c not in allowed]
    if unknown:
        raise ConnectorError(f"{where}: unknown column(s) {unknown}; allowed: {list(allowed)}")
    missing = [c for c in required if c not in cols]
    if missing:
        raise ConnectorError(f"{where}: missing required column(s) {missing}")


class PostsConnector:
    """Social-media posts exported as CSV or JSON Lines (platform, author, text, time, url)."""

    kind = "posts"
    context = "social"  # a row may say otherwise in its optional ``context`` column

    def read(self, path: Path, fetched_at: dt.datetime) -> Iterator[RawPost]:
        for where, row in _rows(path, POST_FIELDS, ("text",)):
            text = (row.get("text") or "").strip()
            if not text:
                continue
            context = (row.get("context") or "").strip().lower() or self.context
            if context not in CONTEXTS:
                raise ConnectorError(f"{where}: context {context!r} is not one of {list(CONTEXTS)}")
            platform = (row.get("platform") or "unknown").strip().lower()
            native = (row.get("post_id") or "").strip() or (row.get("url") or "").strip() or None
            yield RawPost(
                source_kind=self.kind, platform=platform, source=path.name, text=text,
                fetched_at=fetched_at, native_id=native,
                author=(row.get("author") or "").strip() or None,
                author_id=(row.get("author_id") or "").strip() or None,
                posted_at=parse_time(row.get("time"), f"{where} time"),
                url=(row.get("url") or "").strip() or None, extra={"location": where},
                context=context,
            )


class DarknetConnector:
    """Darknet market listings as CSV (title, description, vendor, price, ships_from, ships_to)."""

    kind = "darknet"
    context = "market"

    def read(self, path: Path, fetched_at: dt.datetime) -> Iterator[RawPost]:
        for where, row in _rows(path, LISTING_FIELDS, ("title", "description", "vendor")):
            title = (row.get("title") or "").strip()
            desc = (row.get("description") or "").strip()
            if not title and not desc:
                continue
            parts = [title, desc]
            if (row.get("price") or "").strip():
                parts.append(f"Price: {row['price'].strip()}")
            src, dst = (row.get("ships_from") or "").strip(), (row.get("ships_to") or "").strip()
            if src or dst:
                parts.append(f"Ships from {src or '?'} to {dst or '?'}")
            market = (row.get("market") or "").strip() or "darknet"
            vendor = (row.get("vendor") or "").strip() or None
            native = (row.get("listing_id") or "").strip() or None
            yield RawPost(
                source_kind=self.kind, platform=market.lower(), source=path.name,
                text="\n".join(p for p in parts if p), fetched_at=fetched_at, native_id=native,
                author=vendor, author_id=f"{market.lower()}:{vendor}" if vendor else None,
                posted_at=parse_time(row.get("listed_at"), f"{where} listed_at"),
                url=(row.get("url") or "").strip() or None,
                extra={"location": where, "price": row.get("price"), "ships_from": src or None,
                       "ships_to": dst or None},
                context=self.context,
            )
