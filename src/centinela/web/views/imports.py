"""Imports: recent runs, the records each rejected and why, and a CSV of the rejects."""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.csvsafe import row as csv_row
from centinela.ledger.records import ImportRun, Rejection
from centinela.web.views.common import lima_iso

REJECTS_SHOWN = 500


class ImportRunRow(BaseModel):
    id: int
    source: str
    channel: str
    started_at: str | None
    finished_at: str | None
    status: str
    accepted: int
    duplicates: int
    conflicts: int
    rejected: int
    submitted_by: str | None
    every_file_refused: bool = False  # completed, but each file was refused whole (bad header…)
    future_dated: int = 0  # movements accepted with a date in the future (``ingest.quality``)


class RejectionRow(BaseModel):
    line: int | None
    record_type: str
    record_key: str | None
    field: str | None
    kind: str
    reason: str


class ImportsContext(BaseModel):
    runs: list[ImportRunRow]


class ImportDetail(BaseModel):
    run: ImportRunRow
    summary: dict
    rejections: list[RejectionRow]
    rejections_total: int


def every_file_refused(summary: dict[str, Any] | None) -> bool:
    """Whether an import's report (``ImportRun.summary``) has files and refused every one."""
    files = (summary or {}).get("files") or []
    return bool(files) and all(isinstance(f, dict) and f.get("status") == "refused"
                               for f in files)


def future_dated(summary: dict[str, Any] | None) -> int:
    """How many movements of an import its report (``ImportRun.summary``) flags as dated in
    the future (``ingest.quality.future_dated``); 0 for none or an older report."""
    for w in (summary or {}).get("warnings") or []:
        if isinstance(w, dict) and w.get("code") == "future_dated_movements":
            return int(w.get("count") or 0)
    return 0


def source_label(run: ImportRun) -> str:
    """Return what was imported: a folder's or file's name, without the channel the intake
    writes before it ("upload: movements.csv" → "movements.csv"; the channel has its column)."""
    source = run.source.rsplit("/", 1)[-1]
    prefix = f"{run.channel}:"
    if source.startswith(prefix):
        return source[len(prefix):].strip() or source
    return source


def run_row(run: ImportRun) -> ImportRunRow:
    """Return the table row of an import run."""
    return ImportRunRow(
        id=run.id, source=source_label(run), channel=run.channel,
        started_at=lima_iso(run.started_at), finished_at=lima_iso(run.finished_at),
        status=run.status, accepted=run.accepted, duplicates=run.duplicates,
        conflicts=run.conflicts, rejected=run.rejected, submitted_by=run.submitted_by,
        every_file_refused=run.status == "completed" and every_file_refused(run.summary),
        future_dated=future_dated(run.summary))


def build_imports(session: Session, limit: int = 50) -> ImportsContext:
    """Return the most recent import runs."""
    runs = session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)).all()
    return ImportsContext(runs=[run_row(r) for r in runs])


def build_import(session: Session, run_id: int) -> ImportDetail | None:
    """Return one run with its rejected records, or None."""
    run = session.get(ImportRun, run_id)
    if run is None:
        return None
    total = session.scalar(select(func.count()).select_from(Rejection)
                           .where(Rejection.import_id == run_id)) or 0
    rows = session.scalars(select(Rejection).where(Rejection.import_id == run_id)
                           .order_by(Rejection.id).limit(REJECTS_SHOWN)).all()
    return ImportDetail(
        run=run_row(run), summary=run.summary or {}, rejections_total=total,
        rejections=[RejectionRow(line=r.line, record_type=r.record_type, record_key=r.record_key,
                                 field=r.field, kind=r.kind, reason=r.reason) for r in rows])


def rejects_csv(session: Session, run_id: int) -> str:
    """Return every rejected record of a run as CSV (patients already pseudonymized)."""
    rows = session.scalars(select(Rejection).where(Rejection.import_id == run_id)
                           .order_by(Rejection.id)).all()
    fields: list[str] = []
    for r in rows:
        for k in (r.record or {}):
            if k not in fields:
                fields.append(k)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(csv_row(["source", "line", "record_type", "field", "kind", "reason", *fields]))
    for r in rows:
        rec = r.record or {}
        writer.writerow(csv_row([r.source.rsplit("/", 1)[-1], r.line, r.record_type, r.field,
                                 r.kind, r.reason, *[rec.get(k, "") for k in fields]]))
    return buf.getvalue()
