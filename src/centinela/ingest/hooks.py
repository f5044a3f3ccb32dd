"""The hooks an import calls into, filled by the upper layers at application start.

Ingest sits below detection, the early-warning system, customs and certification, so it never
imports them. Instead ``centinela.wiring.install()`` (run by the command line, the web app and the
scheduled jobs) registers here:

- **Extra record files** read beside the spec's five: ``register_extra_file("overdoses", fn)``
  makes ``centinela import DIR`` and the upload endpoint read ``overdoses.csv`` or
  ``overdoses.jsonl`` with ``fn(session, path: pathlib.Path, import_id: int) -> dict`` inside the
  import's one transaction, after the spec's files. The dict holds the counts ``accepted``,
  ``duplicates``, ``conflicts`` and ``rejected`` (optionally ``read``, ``updated`` and ``error``).
  The function must not commit; raising aborts the whole import. See ``docs/intake.md``.
- **After-import rules**: ``register_after_import(fn)`` with ``fn(session, import_id, now)``,
  called once per committed import (the real-time detection rules).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

ExtraFn = Callable[[Session, Path, int], dict[str, Any]]
AfterImportFn = Callable[[Session, int, dt.datetime], Any]

# File stem → reader, in the order the files are read.
EXTRA_FILES: dict[str, ExtraFn] = {}
AFTER_IMPORT: list[AfterImportFn] = []


def register_extra_file(stem: str, fn: ExtraFn) -> None:
    """Read ``<stem>.csv``/``<stem>.jsonl`` with ``fn`` in every import (idempotent per stem)."""
    EXTRA_FILES[stem] = fn


def register_after_import(fn: AfterImportFn) -> None:
    """Call ``fn(session, import_id, now)`` after each committed import (once per function)."""
    if fn not in AFTER_IMPORT:
        AFTER_IMPORT.append(fn)


def load(stem: str) -> ExtraFn:
    """Return the reader registered for ``stem``."""
    return EXTRA_FILES[stem]
