"""Intake API: JSON batches, file uploads, import reports and their rejected records.

Every endpoint calls the same service functions as ``centinela import`` (one code path).
Institution service accounts see only the imports they submitted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from fastapi import APIRouter, Body, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import INTAKE_ROLES
from centinela.csvsafe import row as csv_row
from centinela.ingest.service import (
    ImportFailed,
    IntakeError,
    import_records,
    import_uploaded_files,
)
from centinela.ledger.records import ImportRun, Rejection
from centinela.web.deps import clock, db_session, require_roles

router = APIRouter(prefix="/api/v1", tags=["intake"])
guard = require_roles(*INTAKE_ROLES)
REJECTION_FIELDS = ("id", "source", "line", "record_type", "record_key", "field", "kind",
                    "reason", "record")


def _run(fn, *args, **kwargs) -> JSONResponse:
    try:
        report = fn(*args, **kwargs)
    except IntakeError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except ImportFailed as exc:
        return JSONResponse(exc.report.as_dict(), status_code=500)
    return JSONResponse(report.as_dict(), status_code=200)


def _batch(record_type: str):
    def endpoint(request: Request, payload: dict = Body(..., examples=[{"records": []}]),
                 user: User = Depends(guard)) -> JSONResponse:
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list):
            raise HTTPException(status_code=422, detail="body must be {\"records\": [...]}")
        return _run(import_records, request.app.state.engine, record_type, records,
                    channel="api", submitted_by=user.username, now=clock(request))

    endpoint.__name__ = f"post_{record_type}"
    endpoint.__doc__ = (f"Import a JSON batch of {record_type} (the spec's fields); returns the "
                        "import report.")
    return endpoint


for _type in ("movements", "seizures", "establishments", "professionals", "products"):
    router.add_api_route(f"/{_type}", _batch(_type), methods=["POST"],
                         summary=f"Import a batch of {_type}")


@router.post("/imports")
def post_import(request: Request, files: list[UploadFile] = File(...),
                user: User = Depends(guard)) -> JSONResponse:
    """Import uploaded CSV/JSONL files named as in the spec (or a .zip of them)."""
    try:
        pairs = [(f.filename or "", f.file) for f in files]
        return _run(import_uploaded_files, request.app.state.engine, pairs, channel="upload",
                    submitted_by=user.username, now=clock(request))
    finally:
        for f in files:
            f.file.close()


def _visible(session: Session, import_id: int, user: User) -> ImportRun:
    run = session.get(ImportRun, import_id)
    if run is None or (user.role == "institution" and run.submitted_by != user.username):
        raise HTTPException(status_code=404, detail="import not found")
    return run


def run_json(run: ImportRun) -> dict:
    """Return the JSON twin of an import run (its report)."""
    return {
        "import_id": run.id, "source": run.source, "channel": run.channel, "status": run.status,
        "started_at": run.started_at.isoformat() + "Z",
        "finished_at": run.finished_at.isoformat() + "Z" if run.finished_at else None,
        "submitted_by": run.submitted_by, "accepted": run.accepted,
        "duplicates": run.duplicates, "conflicts": run.conflicts, "rejected": run.rejected,
        "report": run.summary or {},
    }


@router.get("/imports")
def list_imports(limit: int = Query(50, ge=1, le=500), session: Session = Depends(db_session),
                 user: User = Depends(guard)) -> dict:
    """List recent imports (institutions: their own)."""
    q = select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)
    if user.role == "institution":
        q = q.where(ImportRun.submitted_by == user.username)
    runs = session.scalars(q).all()
    return {"imports": [{k: v for k, v in run_json(r).items() if k != "report"} for r in runs]}


@router.get("/imports/{import_id}")
def get_import(import_id: int, session: Session = Depends(db_session),
               user: User = Depends(guard)) -> dict:
    """Return one import's report."""
    return run_json(_visible(session, import_id, user))


def _rejections(session: Session, import_id: int, limit: int | None, offset: int) -> list[dict]:
    q = (select(Rejection).where(Rejection.import_id == import_id).order_by(Rejection.id)
         .offset(offset))
    if limit is not None:
        q = q.limit(limit)
    return [{f: getattr(r, f) for f in REJECTION_FIELDS} for r in session.scalars(q)]


@router.get("/imports/{import_id}/rejections")
def get_rejections(import_id: int, request: Request, limit: int = Query(100, ge=1, le=10_000),
                   offset: int = Query(0, ge=0), session: Session = Depends(db_session),
                   user: User = Depends(guard)) -> dict:
    """Return the rejected records of an import (patient ids are pseudonyms; audit-logged)."""
    _visible(session, import_id, user)
    total = session.scalar(select(func.count()).select_from(Rejection)
                           .where(Rejection.import_id == import_id))
    items = _rejections(session, import_id, limit, offset)
    audit.record(session, user.username, "import.rejections.read", f"import:{import_id}",
                 details={"offset": offset, "returned": len(items)}, now=clock(request))
    return {"import_id": import_id, "total": total, "offset": offset, "rejections": items}


@router.get("/imports/{import_id}/rejections.csv")
def get_rejections_csv(import_id: int, request: Request, session: Session = Depends(db_session),
                       user: User = Depends(guard)) -> StreamingResponse:
    """Download every rejected record of an import as CSV (audit-logged)."""
    _visible(session, import_id, user)
    items = _rejections(session, import_id, None, 0)
    audit.record(session, user.username, "import.rejections.download", f"import:{import_id}",
                 details={"returned": len(items)}, now=clock(request))

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(REJECTION_FIELDS)
        for item in items:
            w.writerow(csv_row(json.dumps(item[f], ensure_ascii=False) if f == "record"
                               else item[f] for f in REJECTION_FIELDS))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    name = f"rechazos-import-{import_id}.csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
