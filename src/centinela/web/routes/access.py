"""Police requests for patient-level data under a case number (approved by an admin)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.access import request_access
from centinela.accounts.models import User
from centinela.accounts.service import AccountError
from centinela.web.deps import clock, db_session, render, require_roles
from centinela.web.views.admin import AccessContext, AccessRow, access_rows

router = APIRouter()
police = require_roles("police")
viewer = require_roles("police", "admin")


class AccessIn(BaseModel):
    case_number: str = Field(..., min_length=3, max_length=80)
    reason: str = Field(..., min_length=10, max_length=2000)
    document_type: Literal["DNI", "CE", "PAS", "PSN"] = "DNI"
    document_number: str = Field(..., min_length=4, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")

    @model_validator(mode="before")
    @classmethod
    def _typed_prefix(cls, data: object) -> object:
        """A number pasted with its own type in front ("PSN:22f8…", as every page shows a
        pseudonym, or "DNI:4567…") is the same number."""
        if isinstance(data, dict):
            kind = str(data.get("document_type") or "DNI")
            number = str(data.get("document_number") or "").strip()
            if number.upper().startswith(kind.upper() + ":"):
                data = {**data, "document_number": number[len(kind) + 1:].strip()}
        return data


def _file(request: Request, session: Session, user: User, body: AccessIn) -> AccessRow:
    try:
        req = request_access(session, user, body.case_number, body.reason,
                             f"{body.document_type}:{body.document_number}", now=clock(request))
    except AccountError as err:
        raise HTTPException(422, str(err)) from None
    audit.record(session, user.username, "access.request", req.patient_id,
                 reason=f"case {req.case_number}: {req.reason}", now=clock(request))
    return access_rows(session, user.username).requests[0]


@router.get("/access", response_class=HTMLResponse, include_in_schema=False)
def access_page(request: Request, user: User = Depends(viewer),
                session: Session = Depends(db_session)):
    """List the user's requests (all of them for an admin) with the request form."""
    ctx = access_rows(session, None if user.role == "admin" else user.username)
    return render(request, "access.html", {"ctx": ctx, "error": None})


@router.post("/access", include_in_schema=False)
async def access_form(request: Request, user: User = Depends(police),
                      session: Session = Depends(db_session)):
    """File a request from the page's form."""
    form = await request.form()
    try:
        body = AccessIn(case_number=str(form.get("case_number") or ""),
                        reason=str(form.get("reason") or ""),
                        document_type=form.get("document_type") or "DNI",
                        document_number=str(form.get("document_number") or "").strip())
        _file(request, session, user, body)
    except (ValueError, HTTPException):
        # Keep what was typed except the document number (never echoed back).
        kept = {"case_number": str(form.get("case_number") or "")[:80],
                "reason": str(form.get("reason") or "")[:2000],
                "document_type": str(form.get("document_type") or "DNI")}
        return render(request, "access.html", {"ctx": access_rows(session, user.username),
                                               "error": "access.invalid", "kept": kept},
                      status_code=422)
    return RedirectResponse("/access", status_code=303)


@router.get("/api/v1/access-requests", response_model=AccessContext, tags=["access"])
def access_api(user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Return the user's access requests (all of them for an admin)."""
    return access_rows(session, None if user.role == "admin" else user.username)


@router.post("/api/v1/access-requests", response_model=AccessRow, tags=["access"])
def access_create_api(body: AccessIn, request: Request, user: User = Depends(police),
                      session: Session = Depends(db_session)):
    """File a request for one patient's data under a case number."""
    return _file(request, session, user, body)
