"""Admin pages: users and roles, API tokens, access decisions, authorities, audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts import access as access_svc
from centinela.accounts.models import ROLES, User
from centinela.accounts.service import AccountError, create_user
from centinela.accounts.tokens import create_token, revoke_token
from centinela.alerts.authorities import AUTHORITY_KINDS, TOPICS
from centinela.alerts.models import SEVERITIES, Authority, Channel
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import account_error
from centinela.web.views.admin import (
    AccessContext,
    AccessRow,
    AuditContext,
    AuthoritiesContext,
    UsersContext,
    access_rows,
    audit_actions,
    build_audit,
    build_authorities,
    build_users,
)

router = APIRouter()
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
admin = require_roles("admin")
CHANNEL_KINDS = ("email", "webhook", "outbox")


class DecisionIn(BaseModel):
    approve: bool
    days: int = Field(30, ge=1, le=90)
    note: str = Field("", max_length=1000)


def _form_list(value: str) -> list[str]:
    return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]


@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, user: User = Depends(admin),
               session: Session = Depends(db_session)):
    """Users, roles and API tokens."""
    return render(request, "admin/users.html", {"ctx": build_users(session), "error": None,
                                                 "new_token": None})


@router.get("/api/v1/admin/users", response_model=UsersContext, tags=["admin"])
def users_api(user: User = Depends(admin), session: Session = Depends(db_session)):
    """Return users and API tokens (the page's context)."""
    return build_users(session)


@router.post("/admin/users", include_in_schema=False)
async def user_create(request: Request, user: User = Depends(admin),
                      session: Session = Depends(db_session)):
    """Create a user from the admin form."""
    form = await request.form()
    try:
        new = create_user(session, str(form.get("username") or ""),
                          str(form.get("password") or ""), str(form.get("role") or ""),
                          departments_=_form_list(str(form.get("departments") or "")),
                          professional_id=str(form.get("professional_id") or "") or None,
                          full_name=str(form.get("full_name") or ""), now=clock(request))
    except AccountError as err:
        session.rollback()
        return render(request, "admin/users.html", {"ctx": build_users(session),
                                                     "error": account_error(str(err), lang(request)),
                                                     "new_token": None},
                      status_code=422)
    audit.record(session, user.username, "admin.user_create", new.username,
                 details={"role": new.role, "departments": new.departments}, now=clock(request))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}", include_in_schema=False)
async def user_update(user_id: DbId, request: Request, user: User = Depends(admin),
                      session: Session = Depends(db_session)):
    """Change a user's role, departments or active flag."""
    form = await request.form()
    target = session.get(User, user_id)
    if target is None:
        raise HTTPException(404, "user not found")
    role = str(form.get("role") or target.role)
    if role not in ROLES:
        raise HTTPException(422, "unknown role")
    if target.id == user.id and (role != "admin" or form.get("active") != "on"):
        raise HTTPException(409, "an admin cannot demote or deactivate themself")
    target.role = role
    target.departments = _form_list(str(form.get("departments") or ""))
    target.active = form.get("active") == "on"
    if not target.active:
        from centinela.accounts.sessions import revoke_user_sessions

        revoke_user_sessions(session, target.id, "disabled by admin")
    audit.record(session, user.username, "admin.user_update", target.username,
                 details={"role": role, "departments": target.departments,
                          "active": target.active}, now=clock(request))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/tokens", response_class=HTMLResponse, include_in_schema=False)
async def token_create(request: Request, user: User = Depends(admin),
                       session: Session = Depends(db_session)):
    """Create an API token; the plain token is shown on this response only."""
    form = await request.form()
    owner = session.scalar(select(User).where(User.username == str(form.get("username") or "")))
    error, plain = None, None
    if owner is None:
        error = "username: no such user"
    else:
        try:
            plain, row = create_token(session, owner, str(form.get("name") or ""),
                                      [str(s) for s in form.getlist("scopes")],
                                      now=clock(request))
            audit.record(session, user.username, "admin.token_create", owner.username,
                         details={"token_id": row.id, "scopes": row.scopes}, now=clock(request))
        except AccountError as err:
            error = account_error(str(err), lang(request))
    return render(request, "admin/users.html", {"ctx": build_users(session), "error": error,
                                                 "new_token": plain},
                  status_code=422 if error else 200)


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
def token_revoke(token_id: DbId, request: Request, user: User = Depends(admin),
                 session: Session = Depends(db_session)):
    """Revoke an API token."""
    try:
        revoke_token(session, token_id, now=clock(request))
    except AccountError:
        raise HTTPException(404, "token not found") from None
    audit.record(session, user.username, "admin.token_revoke", str(token_id), now=clock(request))
    return RedirectResponse("/admin", status_code=303)


@router.get("/admin/access", response_class=HTMLResponse, include_in_schema=False)
def access_page(request: Request, user: User = Depends(admin),
                session: Session = Depends(db_session)):
    """Police access requests to decide."""
    return render(request, "admin/access.html", {"ctx": access_rows(session)})


@router.get("/api/v1/admin/access-requests", response_model=AccessContext, tags=["admin"])
def access_api(user: User = Depends(admin), session: Session = Depends(db_session)):
    """Return every access request (the page's context)."""
    return access_rows(session)


def _decide(request: Request, session: Session, user: User, request_id: int,
            body: DecisionIn) -> AccessRow:
    try:
        req = access_svc.decide(session, request_id, user, body.approve, body.days, body.note,
                                now=clock(request))
    except AccountError as err:
        raise HTTPException(409, str(err)) from None
    audit.record(session, user.username, f"access.{req.status}", req.patient_id,
                 reason=f"case {req.case_number}: {body.note}".strip(),
                 details={"request_id": req.id, "requester": req.requester, "days": body.days},
                 now=clock(request))
    return next(r for r in access_rows(session).requests if r.id == req.id)


@router.post("/admin/access/{request_id}", include_in_schema=False)
async def decide_form(request_id: DbId, request: Request, user: User = Depends(admin),
                      session: Session = Depends(db_session)):
    """Approve or deny a request from the admin page."""
    form = await request.form()
    try:
        body = DecisionIn(approve=form.get("decision") == "approve",
                          days=int(str(form.get("days") or 30)), note=str(form.get("note") or ""))
    except ValueError:
        raise HTTPException(422, "days must be 1 to 90") from None
    _decide(request, session, user, request_id, body)
    return RedirectResponse("/admin/access", status_code=303)


@router.post("/api/v1/admin/access-requests/{request_id}/decision", response_model=AccessRow,
             tags=["admin"])
def decide_api(request_id: DbId, body: DecisionIn, request: Request, user: User = Depends(admin),
               session: Session = Depends(db_session)):
    """Approve (for 1–90 days) or deny a pending request."""
    return _decide(request, session, user, request_id, body)


@router.get("/admin/authorities", response_class=HTMLResponse, include_in_schema=False)
def authorities_page(request: Request, user: User = Depends(admin),
                     session: Session = Depends(db_session)):
    """Authorities with their jurisdictions, topics and channels."""
    return render(request, "admin/authorities.html",
                  {"ctx": build_authorities(session), "severities": SEVERITIES,
                   "channel_kinds": CHANNEL_KINDS, "authority_kinds": AUTHORITY_KINDS,
                   "topics": TOPICS, "error": None})


@router.get("/api/v1/admin/authorities", response_model=AuthoritiesContext, tags=["admin"])
def authorities_api(user: User = Depends(admin), session: Session = Depends(db_session)):
    """Return authorities and channels (the page's context)."""
    return build_authorities(session)


@router.post("/admin/authorities", include_in_schema=False)
async def authority_save(request: Request, user: User = Depends(admin),
                         session: Session = Depends(db_session)):
    """Create or update an authority."""
    form = await request.form()
    aid = str(form.get("authority_id") or "").strip()[:40]
    sev = str(form.get("min_severity") or "low")
    if not aid or sev not in SEVERITIES or not str(form.get("name") or "").strip():
        raise HTTPException(422, "authority_id, name and min_severity are required")
    auth = session.get(Authority, aid) or Authority(authority_id=aid)
    auth.name = str(form.get("name")).strip()[:200]
    auth.kind = str(form.get("kind") or "regulator")[:30]
    auth.departments = _form_list(str(form.get("departments") or ""))
    # one ``topics`` field per ticked box (the page), or one comma-separated field (scripts)
    auth.topics = list(dict.fromkeys(t for v in form.getlist("topics") for t in _form_list(str(v))))
    auth.min_severity = sev
    auth.active = form.get("active", "on") == "on"
    session.add(auth)
    audit.record(session, user.username, "admin.authority_save", aid, now=clock(request))
    return RedirectResponse("/admin/authorities", status_code=303)


@router.post("/admin/channels", include_in_schema=False)
async def channel_add(request: Request, user: User = Depends(admin),
                      session: Session = Depends(db_session)):
    """Add a channel to an authority."""
    form = await request.form()
    aid, kind = str(form.get("authority_id") or ""), str(form.get("kind") or "")
    if session.get(Authority, aid) is None or kind not in CHANNEL_KINDS:
        raise HTTPException(422, "unknown authority or channel kind")
    ch = Channel(authority_id=aid, kind=kind, target=str(form.get("target") or "")[:500],
                 secret=str(form.get("secret") or "") or None, enabled=True)
    session.add(ch)
    session.flush()
    audit.record(session, user.username, "admin.channel_add", aid,
                 details={"channel_id": ch.id, "kind": kind}, now=clock(request))
    return RedirectResponse("/admin/authorities", status_code=303)


@router.post("/admin/channels/{channel_id}/toggle", include_in_schema=False)
def channel_toggle(channel_id: DbId, request: Request, user: User = Depends(admin),
                   session: Session = Depends(db_session)):
    """Enable or disable a channel."""
    ch = session.get(Channel, channel_id)
    if ch is None:
        raise HTTPException(404, "channel not found")
    ch.enabled = not ch.enabled
    ch.disabled_reason = None if ch.enabled else f"disabled by {user.username}"
    audit.record(session, user.username, "admin.channel_toggle", ch.authority_id,
                 details={"channel_id": ch.id, "enabled": ch.enabled}, now=clock(request))
    return RedirectResponse("/admin/authorities", status_code=303)


@router.post("/admin/deliveries/retry", include_in_schema=False)
def deliveries_retry(request: Request, user: User = Depends(admin),
                     session: Session = Depends(db_session)):
    """Put every failed delivery back in the queue (the dispatcher sends them next round)."""
    from centinela.alerts.dispatch import retry_failed

    n = retry_failed(session, now=clock(request))
    audit.record(session, user.username, "admin.deliveries_retry", "outbox",
                 details={"requeued": n}, now=clock(request))
    return RedirectResponse("/admin/authorities", status_code=303)


@router.get("/admin/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, actor: str = "", action: str = "", before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
               user: User = Depends(admin), session: Session = Depends(db_session)):
    """The audit log, newest first, with the result of verifying its hash chain."""
    return render(request, "admin/audit.html",
                  {"ctx": build_audit(session, actor[:80], action[:60], before),
                   "actions": audit_actions(session)})


@router.get("/api/v1/admin/audit", response_model=AuditContext, tags=["admin"])
def audit_api(actor: str = "", action: str = "", before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
              user: User = Depends(admin), session: Session = Depends(db_session)):
    """Return a page of the audit log and the chain verification (the page's context)."""
    return build_audit(session, actor[:80], action[:60], before)


