"""Delegates: a prescriber or pharmacist authorises (and revokes) accounts that run patient
lookups on their behalf; every lookup is audited under both names."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.accounts.service import AccountError, create_delegate
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import account_error

router = APIRouter()
principal_only = require_roles(*roles_for("delegates"))


def _mine(session: Session, user: User) -> list[dict]:
    rows = session.scalars(select(User).where(User.role == "delegate",
                                              User.delegate_of == user.username)
                           .order_by(User.username))
    return [{"username": u.username, "full_name": u.full_name, "active": u.active,
             "created_at": u.created_at.isoformat()} for u in rows]


@router.get("/delegados", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request, user: User = Depends(principal_only),
         session: Session = Depends(db_session), error: str = "", form_username: str = "",
         form_full_name: str = "", status: int = 200):
    """List this professional's delegates, with a form to add one."""
    return render(request, "delegates.html", {
        "delegates": _mine(session, user), "error": error,
        "form": {"username": form_username, "full_name": form_full_name}}, status_code=status)


@router.get("/api/v1/delegates", tags=["accounts"])
def api(user: User = Depends(principal_only), session: Session = Depends(db_session)) -> dict:
    """The signed-in prescriber's or pharmacist's delegates."""
    return {"delegates": _mine(session, user)}


@router.post("/delegados", include_in_schema=False)
def add(request: Request, username: str = Form(""), full_name: str = Form(""),
        password: str = Form(""), user: User = Depends(principal_only),
        session: Session = Depends(db_session)):
    """Authorise a new delegate account."""
    try:
        d = create_delegate(session, user, username, password, full_name, now=clock(request))
    except AccountError as exc:
        session.rollback()
        return page(request, user, session, error=account_error(str(exc), lang(request)),
                    form_username=username,
                    form_full_name=full_name, status=422)
    audit.record(session, user.username, "account.delegate_created", d.username,
                 now=clock(request))
    session.commit()
    return RedirectResponse("/delegados", status_code=303)


@router.post("/delegados/{username}/revocar", include_in_schema=False)
def revoke(username: str, request: Request, user: User = Depends(principal_only),
           session: Session = Depends(db_session)):
    """Revoke a delegate at once (the account is disabled)."""
    d = session.scalar(select(User).where(User.username == username[:80],
                                          User.role == "delegate",
                                          User.delegate_of == user.username))
    if d is None:
        raise HTTPException(404, "not found")
    d.active = False
    audit.record(session, user.username, "account.delegate_revoked", d.username,
                 now=clock(request))
    session.commit()
    return RedirectResponse("/delegados", status_code=303)
