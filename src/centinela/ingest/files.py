"""Reading the extension files of an import (CSV or JSON Lines), shared by every area's reader:
records with their line numbers, a field-level error, and the content hash of a clean record
(the same record re-sent is a no-op; a different one under the same id is a conflict)."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class RecordError(ValueError):
    """One field of one record is invalid (field and reason kept for the rejection)."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def content_hash(rec: dict[str, Any]) -> str:
    """Hash the cleaned content (same event re-sent = no-op; different = conflict)."""
    body = json.dumps(rec, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, raw record) from a CSV or JSON Lines file."""
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        with path.open(encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, {"__error__": f"invalid JSON: {exc.msg} at column {exc.colno}"}
                    continue
                yield n, obj if isinstance(obj, dict) else {"__error__": "line is not an object"}
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            if None in row:
                yield reader.line_num, {"__error__": "more values than header columns"}
                continue
            yield reader.line_num, dict(row)
