"""Imports: upload files over the intake service, see accepted/rejected, download rejects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.web.deps import clock, db_session, render, require_roles
from centinela.web.views.imports import (
    ImportDetail,
    ImportsContext,
    build_import,
    build_imports,
    rejects_csv,
)

router = APIRouter()
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
viewer = require_roles(*roles_for("imports"))
MAX_UPLOAD_FILES = 10


@router.get("/imports", response_class=HTMLResponse, include_in_schema=False)
def imports_page(request: Request, user: User = Depends(viewer),
                 session: Session = Depends(db_session)):
    """List recent imports with an upload form."""
    from centinela.ingest.progress import running_imports

    return render(request, "imports/list.html", {"ctx": build_imports(session), "error": None,
                                                 "running": running_imports()})


@router.get("/imports/running", response_class=HTMLResponse, include_in_schema=False)
def imports_running(request: Request, user: User = Depends(viewer)):
    """The running imports with their progress (htmx fragment, polled while any runs)."""
    from centinela.ingest.progress import running_imports

    return render(request, "imports/running.html", {"running": running_imports()})


@router.get("/api/v1/import-runs", response_model=ImportsContext, tags=["imports"])
def imports_api(user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Return recent import runs (the page's context)."""
    return build_imports(session)


@router.post("/imports", include_in_schema=False)
async def upload(request: Request, user: User = Depends(viewer),
                 session: Session = Depends(db_session)):
    """Import the uploaded files (CSV, JSONL or .zip, named as in the reporting format)."""
    from centinela.ingest.service import ImportFailed, IntakeError, import_uploaded_files

    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    error = None
    if not files:
        error = "imports.no_file"
    elif len(files) > MAX_UPLOAD_FILES:
        error = "imports.too_many"
    else:
        try:
            report = import_uploaded_files(
                request.app.state.engine, [(f.filename or "", f.file) for f in files],
                channel="upload", submitted_by=user.username, now=clock(request))
        except IntakeError as err:
            error = str(err)
        except ImportFailed as err:
            if err.report.import_id is None:
                error = err.report.error or "import failed"
            else:
                error = err.report.error
        else:
            return RedirectResponse(f"/imports/{report.import_id}", status_code=303)
    return render(request, "imports/list.html", {"ctx": build_imports(session), "error": error},
                  status_code=400)


def _detail(session: Session, run_id: int) -> ImportDetail:
    ctx = build_import(session, run_id)
    if ctx is None:
        raise HTTPException(404, "import not found")
    return ctx


@router.get("/imports/{run_id}", response_class=HTMLResponse, include_in_schema=False)
def import_page(run_id: DbId, request: Request, user: User = Depends(viewer),
                session: Session = Depends(db_session)):
    """Show one import: totals per file and each rejected record with its reason."""
    return render(request, "imports/detail.html", {"ctx": _detail(session, run_id)})


@router.get("/api/v1/import-runs/{run_id}", response_model=ImportDetail, tags=["imports"])
def import_api(run_id: DbId, user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Return one import with its rejections (the page's context)."""
    return _detail(session, run_id)


@router.get("/imports/{run_id}/rejects.csv", tags=["imports"])
def rejects(run_id: DbId, request: Request, user: User = Depends(viewer),
            session: Session = Depends(db_session)):
    """Download the rejected records of an import with where and why, as CSV."""
    _detail(session, run_id)
    # Rejected records keep their patients' pseudonyms: the download is audited.
    audit.record(session, user.username, "import.rejections.download", f"import:{run_id}",
                 details={}, now=clock(request))
    return Response(rejects_csv(session, run_id), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition":
                             f'attachment; filename="rechazos-{run_id}.csv"'})
