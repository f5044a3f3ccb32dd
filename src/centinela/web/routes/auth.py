"""Sign-in, sign-out, the landing page and ``/api/v1/me``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import nav_for
from centinela.accounts.service import RateLimited, authenticate
from centinela.config import get_settings
from centinela.web.deps import clock, current_user, db_session, render, require_roles
from centinela.web.security import CSRF_COOKIE, end_session, start_session

router = APIRouter()


class Me(BaseModel):
    username: str
    full_name: str
    role: str
    departments: list[str]
    professional_id: str | None
    pages: list[str]


def safe_next(target: str | None) -> str:
    """Return a same-site path to go to after signing in (never an absolute URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, user: User | None = Depends(current_user)):
    """Send each role to its first page; signed-out visitors see the sign-in form."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    pages = [p for p in nav_for(user) if p.area == "core"]
    # Roles with no core page (customs) start on their own area, not back on the login form.
    pages = pages or [p for p in nav_for(user) if p.area != "public"]
    if not pages:
        # An account with no page (an institution sends its files through the API): say so,
        # rather than sending it back to the sign-in form without a word.
        return render(request, "login.html", {"next": "/", "error": None,
                                              "no_pages": user.role})
    return RedirectResponse(pages[0].path, status_code=303)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/"):
    """Show the sign-in form."""
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, session: Session = Depends(db_session)):
    """Check the credentials (rate limited) and start a session."""
    form = await request.form()
    username = str(form.get("username", ""))[:80]
    password = str(form.get("password", ""))[:200]
    target = safe_next(str(form.get("next", "/")))
    client = request.client.host if request.client else "unknown"
    try:
        # argon2 and the LoginAttempt write run off the event loop (see centinela.web.txn).
        user = await run_in_threadpool(authenticate, session, username, password, client,
                                       clock(request))
    except RateLimited:
        return render(request, "login.html", {"next": target, "error": "login.rate_limited"},
                      status_code=429)
    if user is None:
        return render(request, "login.html", {"next": target, "error": "login.failed"},
                      status_code=401)
    resp = RedirectResponse(target if target != "/" else "/", status_code=303)
    secure = request.url.scheme == "https" or get_settings().environment == "production"
    start_session(resp, user, secure=secure, session=session)
    # A new CSRF token for the new session (the next response sets it).
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


@router.post("/logout", include_in_schema=False)
def logout(request: Request, session: Session = Depends(db_session)):
    """End the session on the server (the old cookie stops working) and clear it."""
    resp = RedirectResponse("/login", status_code=303)
    end_session(resp, request, session)
    return resp


@router.get("/api/v1/me", response_model=Me, tags=["accounts"])
def me(user: User = Depends(require_roles())) -> Me:
    """Return the signed-in user and the pages their role may open."""
    return Me(username=user.username, full_name=user.full_name, role=user.role,
              departments=list(user.departments or []), professional_id=user.professional_id,
              pages=[p.key for p in nav_for(user)])
